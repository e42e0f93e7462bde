//! Object storage and application database traits with their adapters.
