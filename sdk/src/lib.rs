//! MediMint SDK.
