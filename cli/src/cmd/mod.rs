pub mod crypt;
pub mod devnet;
pub mod keys;
