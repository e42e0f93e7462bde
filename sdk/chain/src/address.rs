//! Stellar strkey addresses (`G…` accounts, `C…` contracts) to and from their XDR forms.

use stellar_xdr::{AccountId, ContractId, Hash, PublicKey, ScAddress, Uint256};

use crate::error::{Error, Result};

/// Parses a `G…` or `C…` strkey into an [`ScAddress`].
///
/// # Errors
/// [`Error::InvalidAddress`] for anything else (secret seeds included, which are refused
/// without being echoed).
pub fn sc_address(input: &str) -> Result<ScAddress> {
    if input.starts_with('S') {
        // Never echo what may be a secret seed.
        return Err(Error::InvalidAddress {
            input: "S…(redacted)".into(),
            reason: "a secret seed is not an address".into(),
        });
    }
    match stellar_strkey::Strkey::from_string(input) {
        Ok(stellar_strkey::Strkey::PublicKeyEd25519(pk)) => Ok(ScAddress::Account(AccountId(
            PublicKey::PublicKeyTypeEd25519(Uint256(pk.0)),
        ))),
        Ok(stellar_strkey::Strkey::Contract(c)) => Ok(ScAddress::Contract(ContractId(Hash(c.0)))),
        Ok(_) => Err(Error::InvalidAddress {
            input: input.into(),
            reason: "only G… account and C… contract addresses are accepted".into(),
        }),
        Err(e) => Err(Error::InvalidAddress {
            input: input.into(),
            reason: e.to_string(),
        }),
    }
}

/// Parses a `C…` contract strkey into its 32-byte id.
///
/// # Errors
/// [`Error::InvalidAddress`] if it is not a contract address.
pub fn contract_id(input: &str) -> Result<[u8; 32]> {
    match sc_address(input)? {
        ScAddress::Contract(ContractId(Hash(id))) => Ok(id),
        _ => Err(Error::InvalidAddress {
            input: input.into(),
            reason: "expected a C… contract address".into(),
        }),
    }
}

/// Parses a `G…` account strkey into its ed25519 public key.
///
/// # Errors
/// [`Error::InvalidAddress`] if it is not an account address.
pub fn account_public_key(input: &str) -> Result<[u8; 32]> {
    match sc_address(input)? {
        ScAddress::Account(AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(pk)))) => Ok(pk),
        _ => Err(Error::InvalidAddress {
            input: input.into(),
            reason: "expected a G… account address".into(),
        }),
    }
}

/// Formats a contract id as its `C…` strkey.
pub fn contract_strkey(id: &[u8; 32]) -> String {
    stellar_strkey::Contract(*id).to_string()
}

/// Formats an [`ScAddress`] as a strkey; kinds without a strkey here are shown by name.
pub fn address_string(address: &ScAddress) -> String {
    match address {
        ScAddress::Account(AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(pk)))) => {
            stellar_strkey::ed25519::PublicKey(*pk).to_string()
        }
        ScAddress::Contract(ContractId(Hash(id))) => contract_strkey(id),
        other => format!("<{}>", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_account_and_contract() {
        let g = stellar_strkey::ed25519::PublicKey([7; 32]).to_string();
        assert_eq!(address_string(&sc_address(&g).unwrap()), g);
        assert_eq!(account_public_key(&g).unwrap(), [7; 32]);
        let c = contract_strkey(&[9; 32]);
        assert!(c.starts_with('C'));
        assert_eq!(contract_id(&c).unwrap(), [9; 32]);
        assert_eq!(address_string(&sc_address(&c).unwrap()), c);
    }

    #[test]
    fn refuses_garbage_and_wrong_kind_with_reason() {
        let err = sc_address("GNOTANADDRESS").unwrap_err().to_string();
        assert!(err.contains("GNOTANADDRESS"), "{err}");
        let g = stellar_strkey::ed25519::PublicKey([7; 32]).to_string();
        let err = contract_id(&g).unwrap_err().to_string();
        assert!(err.contains("expected a C"), "{err}");
    }

    #[test]
    fn never_echoes_a_secret_seed() {
        let seed = stellar_strkey::ed25519::PrivateKey([3; 32]).to_string();
        let err = sc_address(&seed).unwrap_err().to_string();
        assert!(!err.contains(&seed[1..10]), "{err}");
        assert!(err.contains("secret seed"));
    }
}
