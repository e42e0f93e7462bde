//! medimint-ingest
