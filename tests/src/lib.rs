//! medimint-e2e
