//! Calls authorized by an external wallet, whose key the platform never holds: the relayer
//! simulates the call and hands out the one authorization entry the wallet must sign (its
//! nonce and signature expiration ledger fixed), then submits the call with the signed entry
//! exactly as it submits any other (a channel account as source, fee-bumped by the sponsor).
//!
//! [`check_signed_entry`] is what a server runs on the entry that comes back: it must be the
//! issued entry, unchanged but for its signature, signed by the entry's own address over the
//! issued preimage.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use stellar_xdr::{
    HashIdPreimage, HashIdPreimageSorobanAuthorization, HostFunction, ScVal,
    SorobanAuthorizationEntry, SorobanCredentials,
};

use super::{Relayer, Work};
use crate::address::{account_public_key, address_string};
use crate::auth::account_signature;
use crate::error::{Error, Result};
use crate::network::Network;
use crate::outcome::Landed;
use crate::tx::{invocation_tx, sha256_xdr, TxHeader};

/// An authorization entry for one address to sign, as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletAuthorization {
    /// The entry, with its nonce and `signature_expiration_ledger` set and no signature.
    pub entry: SorobanAuthorizationEntry,
    /// What the wallet signs the SHA-256 hash of (`ENVELOPE_TYPE_SOROBAN_AUTHORIZATION`).
    pub preimage: HashIdPreimage,
    /// SHA-256 of the preimage's XDR: the 32 bytes the ed25519 signature covers.
    pub hash: [u8; 32],
    /// The ledger the simulation ran at.
    pub latest_ledger: u32,
    /// The last ledger the signature is valid in.
    pub expiration_ledger: u32,
}

/// Why a signed entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryRefusal {
    /// Not a readable entry with one ed25519 signature.
    #[error("{0}")]
    Malformed(String),
    /// The entry differs from the issued one in more than its signature.
    #[error("the signed entry's {0} differs from the issued entry; sign the entry exactly as issued (only the signature may change)")]
    Modified(&'static str),
    /// Signed by another key than the entry's address.
    #[error(
        "the entry is signed by {got}, but it authorizes {expected}: sign with that account's key"
    )]
    WrongSigner {
        /// The entry's address.
        expected: String,
        /// The key that signed.
        got: String,
    },
    /// The signature does not verify over the issued preimage.
    #[error("the signature does not verify over the entry's preimage for this network; sign the SHA-256 of the preimage (preimage_hash)")]
    BadSignature,
}

/// The preimage an address signs for `entry` (its own nonce and expiration ledger).
///
/// # Errors
/// [`Error::UnsupportedCredentials`] unless the entry has plain address credentials.
pub fn entry_preimage(
    network: &Network,
    entry: &SorobanAuthorizationEntry,
) -> Result<HashIdPreimage> {
    let SorobanCredentials::Address(creds) = &entry.credentials else {
        return Err(Error::UnsupportedCredentials(
            entry.credentials.name().into(),
        ));
    };
    Ok(HashIdPreimage::SorobanAuthorization(
        HashIdPreimageSorobanAuthorization {
            network_id: network.id(),
            nonce: creds.nonce,
            signature_expiration_ledger: creds.signature_expiration_ledger,
            invocation: entry.root_invocation.clone(),
        },
    ))
}

/// `issued` with the signature value an ed25519 account presents (`Vec[Map{public_key,
/// signature}]`), for a client that returns only the 64-byte signature (Freighter's
/// `signAuthEntry`).
///
/// # Errors
/// [`Error::UnsupportedCredentials`] unless the entry has plain address credentials.
pub fn with_signature(
    issued: &SorobanAuthorizationEntry,
    signature: [u8; 64],
) -> Result<SorobanAuthorizationEntry> {
    let mut entry = issued.clone();
    let SorobanCredentials::Address(creds) = &mut entry.credentials else {
        return Err(Error::UnsupportedCredentials(
            issued.credentials.name().into(),
        ));
    };
    let key = account_public_key(&address_string(&creds.address))?;
    creds.signature = account_signature(key, signature)?;
    Ok(entry)
}

/// The one `(public_key, signature)` of an ed25519 account's signature value.
fn single_signature(value: &ScVal) -> std::result::Result<([u8; 32], [u8; 64]), EntryRefusal> {
    let malformed = |what: &str| {
        EntryRefusal::Malformed(format!(
            "the entry's signature must be a vector of one map {{public_key, signature}} \
             (an ed25519 account's signature): {what}"
        ))
    };
    let ScVal::Vec(Some(items)) = value else {
        return Err(malformed("it is not a vector (unsigned?)"));
    };
    let [ScVal::Map(Some(map))] = items.as_slice() else {
        return Err(malformed("it does not hold exactly one map"));
    };
    let mut public_key = None;
    let mut signature = None;
    for e in map.iter() {
        let (ScVal::Symbol(k), ScVal::Bytes(v)) = (&e.key, &e.val) else {
            return Err(malformed("a member is not symbol → bytes"));
        };
        match k.as_slice() {
            b"public_key" => public_key = <[u8; 32]>::try_from(v.as_slice()).ok(),
            b"signature" => signature = <[u8; 64]>::try_from(v.as_slice()).ok(),
            _ => return Err(malformed("an unknown member")),
        }
    }
    match (public_key, signature, map.len()) {
        (Some(p), Some(s), 2) => Ok((p, s)),
        _ => Err(malformed(
            "public_key (32 bytes) and signature (64 bytes) are required",
        )),
    }
}

/// Checks `signed` against the `issued` entry: the same address, nonce, expiration ledger
/// and invocation tree, one ed25519 signature by the address's own key that verifies over
/// the preimage on `network`.
///
/// # Errors
/// The [`EntryRefusal`] naming what is wrong.
pub fn check_signed_entry(
    network: &Network,
    issued: &SorobanAuthorizationEntry,
    signed: &SorobanAuthorizationEntry,
) -> std::result::Result<(), EntryRefusal> {
    let (SorobanCredentials::Address(want), SorobanCredentials::Address(got)) =
        (&issued.credentials, &signed.credentials)
    else {
        return Err(EntryRefusal::Modified("credentials kind"));
    };
    if want.address != got.address {
        return Err(EntryRefusal::Modified("address"));
    }
    if want.nonce != got.nonce {
        return Err(EntryRefusal::Modified("nonce"));
    }
    if want.signature_expiration_ledger != got.signature_expiration_ledger {
        return Err(EntryRefusal::Modified("signature_expiration_ledger"));
    }
    if issued.root_invocation != signed.root_invocation {
        return Err(EntryRefusal::Modified("root_invocation"));
    }
    let (public_key, signature) = single_signature(&got.signature)?;
    let expected = address_string(&want.address);
    let own = account_public_key(&expected)
        .map_err(|e| EntryRefusal::Malformed(format!("the entry's address: {e}")))?;
    if public_key != own {
        return Err(EntryRefusal::WrongSigner {
            expected,
            got: stellar_strkey::ed25519::PublicKey(public_key).to_string(),
        });
    }
    let preimage =
        entry_preimage(network, issued).map_err(|e| EntryRefusal::Malformed(e.to_string()))?;
    let hash = sha256_xdr(&preimage).map_err(|e| EntryRefusal::Malformed(e.to_string()))?;
    let key = VerifyingKey::from_bytes(&own).map_err(|_| EntryRefusal::BadSignature)?;
    key.verify(&hash, &Signature::from_bytes(&signature))
        .map_err(|_| EntryRefusal::BadSignature)
}

impl Relayer {
    /// Simulates `function` and returns the authorization entry `user` (an address whose key
    /// the relayer does not hold) must sign, valid for `validity_ledgers` ledgers from now.
    /// Nothing is submitted or paid.
    ///
    /// # Errors
    /// [`Error::Refused`] by policy; [`Error::Simulation`] if the call fails (a contract
    /// refusal is named there) or needs any other address's authorization, or none.
    pub async fn authorization_for(
        &self,
        user: &str,
        function: HostFunction,
        validity_ledgers: u32,
    ) -> Result<WalletAuthorization> {
        self.policy.check(&function)?;
        let source = self.channels.addresses().remove(0);
        let header = TxHeader {
            source: account_public_key(&source)?,
            seq: 0,
            max_time: None,
        };
        let sim = self.simulate(&invocation_tx(&header, function)?).await?;
        let needed = crate::auth::required_signers(&sim.auth);
        if needed != [user] {
            return Err(Error::Simulation(format!(
                "the call needs the authorization of [{}], not {user} alone",
                needed.join(", ")
            )));
        }
        let mut entry = sim
            .auth
            .into_iter()
            .find(|e| matches!(e.credentials, SorobanCredentials::Address(_)))
            .expect("one address entry, checked above");
        let expiration_ledger = sim.latest_ledger + validity_ledgers;
        if let SorobanCredentials::Address(c) = &mut entry.credentials {
            c.signature_expiration_ledger = expiration_ledger;
            c.signature = ScVal::Void;
        }
        let preimage = entry_preimage(&self.network, &entry)?;
        let hash = sha256_xdr(&preimage)?;
        Ok(WalletAuthorization {
            entry,
            preimage,
            hash,
            latest_ledger: sim.latest_ledger,
            expiration_ledger,
        })
    }

    /// Submits `function` for `user` with `auth`, entries already signed elsewhere (checked
    /// with [`check_signed_entry`] first). Idempotent per `request_key`, as
    /// [`Relayer::submit`].
    ///
    /// # Errors
    /// As [`Relayer::submit`]; an expired or wrong signature fails the simulation, before
    /// anything is paid.
    pub async fn submit_authorized(
        &self,
        request_key: &str,
        user: &str,
        function: HostFunction,
        auth: Vec<SorobanAuthorizationEntry>,
    ) -> Result<Landed> {
        self.policy.check(&function)?;
        self.run(request_key, user, Work::Authorized(function, auth), &[])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{contract_strkey, sc_address};
    use crate::auth::sign_auth_entries;
    use crate::signer::Signer;
    use ed25519_dalek::SigningKey;
    use stellar_xdr::{
        InvokeContractArgs, ScSymbol, SorobanAddressCredentials, SorobanAuthorizedFunction,
        SorobanAuthorizedInvocation, VecM,
    };

    fn issued(address: &str) -> SorobanAuthorizationEntry {
        SorobanAuthorizationEntry {
            credentials: SorobanCredentials::Address(SorobanAddressCredentials {
                address: sc_address(address).unwrap(),
                nonce: 991,
                signature_expiration_ledger: 300,
                signature: ScVal::Void,
            }),
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::ContractFn(InvokeContractArgs {
                    contract_address: sc_address(&contract_strkey(&[1; 32])).unwrap(),
                    function_name: ScSymbol("approve_release".try_into().unwrap()),
                    args: VecM::default(),
                }),
                sub_invocations: VecM::default(),
            },
        }
    }

    #[test]
    fn a_signed_copy_passes_and_every_change_is_named() {
        let net = Network::new(Network::TESTNET);
        let wallet = SigningKey::from_bytes(&[8; 32]);
        let entry = issued(&wallet.address());
        let signed = sign_auth_entries(&net, vec![entry.clone()], &[&wallet], 300)
            .unwrap()
            .remove(0);
        check_signed_entry(&net, &entry, &signed).unwrap();
        // The raw-signature route builds the same entry.
        let hash = sha256_xdr(&entry_preimage(&net, &entry).unwrap()).unwrap();
        let raw = Signer::sign(&wallet, &hash).unwrap();
        assert_eq!(with_signature(&entry, raw).unwrap(), signed);

        let mut later = signed.clone();
        if let SorobanCredentials::Address(c) = &mut later.credentials {
            c.signature_expiration_ledger = 10_000;
        }
        assert_eq!(
            check_signed_entry(&net, &entry, &later),
            Err(EntryRefusal::Modified("signature_expiration_ledger"))
        );
        let mut other_fn = signed.clone();
        if let SorobanAuthorizedFunction::ContractFn(f) = &mut other_fn.root_invocation.function {
            f.function_name = ScSymbol("revoke".try_into().unwrap());
        }
        assert_eq!(
            check_signed_entry(&net, &entry, &other_fn),
            Err(EntryRefusal::Modified("root_invocation"))
        );
        // Another network's signature does not verify here.
        let elsewhere = sign_auth_entries(
            &Network::new(Network::MAINNET),
            vec![entry.clone()],
            &[&wallet],
            300,
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            check_signed_entry(&net, &entry, &elsewhere),
            Err(EntryRefusal::BadSignature)
        );
        assert!(matches!(
            check_signed_entry(&net, &entry, &entry),
            Err(EntryRefusal::Malformed(_))
        ));
    }

    #[test]
    fn another_key_is_a_wrong_signer() {
        let net = Network::new(Network::TESTNET);
        let wallet = SigningKey::from_bytes(&[8; 32]);
        let thief = SigningKey::from_bytes(&[9; 32]);
        let entry = issued(&wallet.address());
        // The thief signs the wallet's entry with its own key.
        let mut forged = sign_auth_entries(&net, vec![issued(&thief.address())], &[&thief], 300)
            .unwrap()
            .remove(0);
        if let (SorobanCredentials::Address(f), SorobanCredentials::Address(e)) =
            (&mut forged.credentials, &entry.credentials)
        {
            f.address = e.address.clone();
        }
        assert_eq!(
            check_signed_entry(&net, &entry, &forged),
            Err(EntryRefusal::WrongSigner {
                expected: wallet.address(),
                got: thief.address()
            })
        );
    }
}
