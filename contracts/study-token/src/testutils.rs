//! Test helpers for real authorization (feature `testutils`, and the crate's own tests):
//! G-accounts backed by ed25519 keys in the test ledger, and `SorobanAuthorizationEntry`s
//! signed the way a wallet signs them, for `Env::set_auths`. Used by the contract tests and
//! by the cost report (`contracts/cost-report`) to measure calls with signature
//! verification and nonce writes instead of mocked authorization.
extern crate std;

use std::rc::Rc;

use ed25519_dalek::Signer;
pub use ed25519_dalek::SigningKey;
use soroban_sdk::{
    xdr::{
        AccountEntry, AccountEntryExt, AccountId, Hash, HashIdPreimage,
        HashIdPreimageSorobanAuthorization, InvokeContractArgs, LedgerEntry, LedgerEntryData,
        LedgerEntryExt, LedgerKey, LedgerKeyAccount, Limits, PublicKey, ScAddress, ScMap,
        ScMapEntry, ScSymbol, ScVal, SequenceNumber, SorobanAddressCredentials,
        SorobanAuthorizationEntry, SorobanAuthorizedFunction, SorobanAuthorizedInvocation,
        SorobanCredentials, String32, Thresholds, Uint256, VecM, WriteXdr,
    },
    Address, Bytes, Env, TryFromVal, Val, Vec,
};

/// A G-account with its signing key, present in the test ledger.
pub struct Account {
    /// Its master key.
    pub key: SigningKey,
    /// Its `G...` address.
    pub address: Address,
}

/// A G-account whose master key is derived from `seed`, written to the test ledger.
pub fn account(env: &Env, seed: u8) -> Account {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let account_id = AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(
        key.verifying_key().to_bytes(),
    )));
    let entry = LedgerEntry {
        last_modified_ledger_seq: 0,
        data: LedgerEntryData::Account(AccountEntry {
            account_id: account_id.clone(),
            balance: 10_000_000,
            seq_num: SequenceNumber(0),
            num_sub_entries: 0,
            inflation_dest: None,
            flags: 0,
            home_domain: String32::default(),
            // Master key weight 1, all thresholds 0: the master key alone authorizes.
            thresholds: Thresholds([1, 0, 0, 0]),
            signers: VecM::default(),
            ext: AccountEntryExt::V0,
        }),
        ext: LedgerEntryExt::V0,
    };
    let key_xdr = LedgerKey::Account(LedgerKeyAccount {
        account_id: account_id.clone(),
    });
    env.host()
        .add_ledger_entry(&Rc::new(key_xdr), &Rc::new(entry), None)
        .unwrap();
    let address = Address::try_from_val(env, &ScAddress::Account(account_id)).unwrap();
    Account { key, address }
}

/// An authorization entry for `signer` over `contract.function(args)`, signed with `key`
/// (which may differ from the signer's to forge a wrong signature).
pub fn signed_auth(
    env: &Env,
    signer: &Account,
    key: &SigningKey,
    (nonce, expiration_ledger): (i64, u32),
    contract: &Address,
    function: &str,
    args: Vec<Val>,
) -> SorobanAuthorizationEntry {
    let args: std::vec::Vec<ScVal> = args
        .iter()
        .map(|v| ScVal::try_from_val(env, &v).unwrap())
        .collect();
    let invocation = SorobanAuthorizedInvocation {
        function: SorobanAuthorizedFunction::ContractFn(InvokeContractArgs {
            contract_address: contract.into(),
            function_name: ScSymbol(function.try_into().unwrap()),
            args: args.try_into().unwrap(),
        }),
        sub_invocations: VecM::default(),
    };
    let preimage = HashIdPreimage::SorobanAuthorization(HashIdPreimageSorobanAuthorization {
        network_id: Hash(env.ledger().network_id().to_array()),
        nonce,
        signature_expiration_ledger: expiration_ledger,
        invocation: invocation.clone(),
    });
    let payload = preimage.to_xdr(Limits::none()).unwrap();
    let digest = env.crypto().sha256(&Bytes::from_slice(env, &payload));
    let signature = key.sign(&digest.to_array());
    let entry = |k: &str, v: &[u8]| ScMapEntry {
        key: ScVal::Symbol(ScSymbol(k.try_into().unwrap())),
        val: ScVal::Bytes(v.to_vec().try_into().unwrap()),
    };
    let sig_map = ScVal::Map(Some(ScMap(
        std::vec![
            entry("public_key", &key.verifying_key().to_bytes()),
            entry("signature", &signature.to_bytes()),
        ]
        .try_into()
        .unwrap(),
    )));
    SorobanAuthorizationEntry {
        credentials: SorobanCredentials::Address(SorobanAddressCredentials {
            address: (&signer.address).into(),
            nonce,
            signature_expiration_ledger: expiration_ledger,
            signature: ScVal::Vec(Some(std::vec![sig_map].try_into().unwrap())),
        }),
        root_invocation: invocation,
    }
}

impl Account {
    /// This account's own signature over `contract.function(args)` with `nonce`, valid
    /// through ledger `expiration_ledger`.
    pub fn authorize(
        &self,
        env: &Env,
        nonce: i64,
        expiration_ledger: u32,
        contract: &Address,
        function: &str,
        args: Vec<Val>,
    ) -> SorobanAuthorizationEntry {
        signed_auth(
            env,
            self,
            &self.key,
            (nonce, expiration_ledger),
            contract,
            function,
            args,
        )
    }
}
