pub mod crypt;
pub mod demo;
pub mod devnet;
pub mod keys;
