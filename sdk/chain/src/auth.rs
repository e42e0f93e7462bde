//! Signing Soroban authorization entries (`require_auth` of an address) for any address we
//! hold a [`Signer`] for. The transaction source never signs these: users sign only what
//! their address authorizes, the relayer signs the envelope.

use stellar_xdr::{
    HashIdPreimage, HashIdPreimageSorobanAuthorization, ScBytes, ScMap, ScMapEntry, ScSymbol,
    ScVal, ScVec, SorobanAuthorizationEntry, SorobanCredentials,
};

use crate::address::address_string;
use crate::error::{Error, Result};
use crate::network::Network;
use crate::signer::Signer;
use crate::tx::sha256_xdr;

/// The hash an address signs to authorize `entry` until `expiration_ledger` (inclusive).
///
/// # Errors
/// [`Error::UnsupportedCredentials`] unless the entry has plain address credentials.
pub fn auth_payload(
    network: &Network,
    entry: &SorobanAuthorizationEntry,
    expiration_ledger: u32,
) -> Result<[u8; 32]> {
    let SorobanCredentials::Address(creds) = &entry.credentials else {
        return Err(Error::UnsupportedCredentials(
            entry.credentials.name().into(),
        ));
    };
    sha256_xdr(&HashIdPreimage::SorobanAuthorization(
        HashIdPreimageSorobanAuthorization {
            network_id: network.id(),
            nonce: creds.nonce,
            signature_expiration_ledger: expiration_ledger,
            invocation: entry.root_invocation.clone(),
        },
    ))
}

/// The signature value an ed25519 account presents: `Vec[Map{public_key, signature}]`,
/// the map's keys in sorted order as the host requires.
pub(crate) fn account_signature(public_key: [u8; 32], signature: [u8; 64]) -> Result<ScVal> {
    let entry = |k: &str, v: Vec<u8>| -> Result<ScMapEntry> {
        Ok(ScMapEntry {
            key: ScVal::Symbol(ScSymbol(k.try_into()?)),
            val: ScVal::Bytes(ScBytes(v.try_into()?)),
        })
    };
    let map = ScMap(
        vec![
            entry("public_key", public_key.to_vec())?,
            entry("signature", signature.to_vec())?,
        ]
        .try_into()?,
    );
    Ok(ScVal::Vec(Some(ScVec(
        vec![ScVal::Map(Some(map))].try_into()?,
    ))))
}

/// Signs every entry with address credentials using the signer of that address, valid
/// until `expiration_ledger`. Entries of the transaction source are left as they are.
///
/// # Errors
/// [`Error::MissingSigner`] naming the address when no signer matches;
/// [`Error::UnsupportedCredentials`] for credential kinds other than a plain address.
pub fn sign_auth_entries(
    network: &Network,
    entries: Vec<SorobanAuthorizationEntry>,
    signers: &[&dyn Signer],
    expiration_ledger: u32,
) -> Result<Vec<SorobanAuthorizationEntry>> {
    entries
        .into_iter()
        .map(|mut entry| {
            let payload = match &entry.credentials {
                SorobanCredentials::SourceAccount => return Ok(entry),
                SorobanCredentials::Address(_) => auth_payload(network, &entry, expiration_ledger)?,
                other => return Err(Error::UnsupportedCredentials(other.name().into())),
            };
            let SorobanCredentials::Address(creds) = &mut entry.credentials else {
                unreachable!("checked above");
            };
            let address = address_string(&creds.address);
            let signer = signers
                .iter()
                .find(|s| s.address() == address)
                .ok_or_else(|| Error::MissingSigner(address.clone()))?;
            let signature = signer.sign(&payload).map_err(|e| Error::Signing {
                address: address.clone(),
                reason: e.to_string(),
            })?;
            creds.signature_expiration_ledger = expiration_ledger;
            creds.signature = account_signature(signer.public_key(), signature)?;
            Ok(entry)
        })
        .collect()
}

/// The earliest signature expiration ledger of `entries` with address credentials.
pub(crate) fn expiration_of(entries: &[SorobanAuthorizationEntry]) -> Option<u32> {
    entries
        .iter()
        .filter_map(|e| match &e.credentials {
            SorobanCredentials::Address(c) => Some(c.signature_expiration_ledger),
            _ => None,
        })
        .min()
}

/// The addresses (strkeys) whose signatures `entries` need.
pub fn required_signers(entries: &[SorobanAuthorizationEntry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match &e.credentials {
            SorobanCredentials::Address(c) => Some(address_string(&c.address)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{contract_strkey, sc_address};
    use ed25519_dalek::{SigningKey, Verifier};
    use stellar_xdr::{
        InvokeContractArgs, SorobanAddressCredentials, SorobanAuthorizedFunction,
        SorobanAuthorizedInvocation, VecM,
    };

    fn entry_for(address: &str) -> SorobanAuthorizationEntry {
        SorobanAuthorizationEntry {
            credentials: SorobanCredentials::Address(SorobanAddressCredentials {
                address: sc_address(address).unwrap(),
                nonce: 77,
                signature_expiration_ledger: 0,
                signature: ScVal::Void,
            }),
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::ContractFn(InvokeContractArgs {
                    contract_address: sc_address(&contract_strkey(&[1; 32])).unwrap(),
                    function_name: ScSymbol("increment".try_into().unwrap()),
                    args: VecM::default(),
                }),
                sub_invocations: VecM::default(),
            },
        }
    }

    #[test]
    fn signs_with_the_matching_key_over_the_spec_preimage() {
        let net = Network::new(Network::TESTNET);
        let (alice, bob) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let entries = vec![entry_for(&bob.address())];
        let signed = sign_auth_entries(&net, entries, &[&alice, &bob], 500).unwrap();
        let SorobanCredentials::Address(c) = &signed[0].credentials else {
            panic!("credentials changed kind")
        };
        assert_eq!(c.signature_expiration_ledger, 500);
        let ScVal::Vec(Some(v)) = &c.signature else {
            panic!("signature is not a vec")
        };
        let ScVal::Map(Some(m)) = &v[0] else {
            panic!("not a map")
        };
        let ScVal::Bytes(pk) = &m[0].val else {
            panic!()
        };
        let ScVal::Bytes(sig) = &m[1].val else {
            panic!()
        };
        assert_eq!(pk.as_slice(), bob.verifying_key().as_bytes());
        let payload = auth_payload(&net, &signed[0], 500).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(sig.as_slice()).unwrap();
        bob.verifying_key().verify(&payload, &sig).unwrap();
        // The expiration ledger is part of what is signed.
        assert_ne!(payload, auth_payload(&net, &signed[0], 501).unwrap());
    }

    #[test]
    fn missing_signer_is_named() {
        let net = Network::new(Network::TESTNET);
        let carol = SigningKey::from_bytes(&[3; 32]);
        let dave = SigningKey::from_bytes(&[4; 32]);
        let err =
            sign_auth_entries(&net, vec![entry_for(&dave.address())], &[&carol], 9).unwrap_err();
        assert!(
            matches!(&err, Error::MissingSigner(a) if *a == dave.address()),
            "{err}"
        );
        assert_eq!(
            required_signers(&[entry_for(&dave.address())]),
            vec![dave.address()]
        );
    }

    #[test]
    fn source_account_entries_pass_through_untouched() {
        let net = Network::new(Network::TESTNET);
        let mut e = entry_for(&SigningKey::from_bytes(&[5; 32]).address());
        e.credentials = SorobanCredentials::SourceAccount;
        let out = sign_auth_entries(&net, vec![e.clone()], &[], 9).unwrap();
        assert_eq!(out, vec![e]);
    }
}
