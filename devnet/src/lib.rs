//! medimint-devnet
