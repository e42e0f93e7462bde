//! Contract errors by name: the host reports only `Error(Contract, #N)`; the suite's three
//! contracts use disjoint code ranges (issuer-registry 100–199, study-token 200–299, suite
//! registry 300–399), so the code alone names the error.

use stellar_xdr::ScVal;

use crate::error::{Error, Result};
use crate::outcome::Landed;
use crate::relayer::Relayer;
use crate::signer::Signer;

/// Every error code of the suite's contracts with its name (as in `docs/contracts.md`).
const NAMES: &[(u32, &str)] = &[
    (100, "IssuerExists"),
    (101, "IssuerNotFound"),
    (102, "IssuerAlreadySuspended"),
    (103, "IssuerNotSuspended"),
    (104, "InvalidProfileName"),
    (105, "InvalidJurisdiction"),
    (106, "NoPendingAdmin"),
    (107, "AdminTransferExpired"),
    (108, "InvalidExpiry"),
    (109, "InvalidPageLimit"),
    (110, "InvalidEvidence"),
    (111, "NotInitialized"),
    (112, "NoScheduledUpgrade"),
    (113, "UpgradeNotReady"),
    (114, "InvalidUpgradeDelay"),
    (200, "TokenNotFound"),
    (201, "NotOwner"),
    (202, "TokenNotPending"),
    (203, "ReleaseLapsed"),
    (204, "TokenNotActive"),
    (205, "IssuerNotTrusted"),
    (206, "DuplicateCommitment"),
    (207, "InvalidMetadataUri"),
    (208, "InvalidFileCount"),
    (209, "InvalidCommitment"),
    (210, "SelfRelease"),
    (211, "NonTransferable"),
    (212, "InvalidRole"),
    (213, "SharerCannotGrantSharer"),
    (214, "ExpiryBeyondGranter"),
    (215, "ExpiryInPast"),
    (216, "NotGranter"),
    (217, "NoAccess"),
    (218, "GrantNotFound"),
    (219, "GrantToOwner"),
    (220, "InvalidPageLimit"),
    (221, "InvalidPendingWindow"),
    (222, "SameOwner"),
    (223, "TokenIdOverflow"),
    (224, "NotAuthorizedToGrant"),
    (225, "NotInitialized"),
    (226, "NotIssuer"),
    (227, "NoPendingAdmin"),
    (228, "AdminTransferExpired"),
    (229, "InvalidExpiry"),
    (230, "NoScheduledUpgrade"),
    (231, "UpgradeNotReady"),
    (232, "InvalidUpgradeDelay"),
    (233, "Paused"),
    (234, "NotPaused"),
    (235, "PendingCapReached"),
    (236, "InvalidPendingCap"),
    (237, "NotMigrated"),
    (238, "CommitmentNotHeld"),
    (239, "InvalidEmergencyHours"),
    (240, "EmergencyRateLimited"),
    (241, "InvalidEmergencyPolicy"),
    (242, "EmergencyNotFound"),
    (243, "AlreadyHasAccess"),
    (244, "InvalidRequestId"),
    (245, "DuplicateRequest"),
    (246, "RequestNotFound"),
    (247, "NotRequester"),
    (248, "RequestFulfilled"),
    (249, "TooManyGrants"),
    (300, "MemberExists"),
    (301, "MemberNotFound"),
    (302, "InvalidPageLimit"),
    (303, "NotInitialized"),
    (304, "NoPendingAdmin"),
    (305, "AdminTransferExpired"),
    (306, "InvalidExpiry"),
    (307, "NoScheduledUpgrade"),
    (308, "UpgradeNotReady"),
    (309, "InvalidUpgradeDelay"),
];

const MARKER: &str = "Error(Contract, #";

fn code_in(message: &str) -> Option<u32> {
    let rest = &message[message.find(MARKER)? + MARKER.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The contract error a failed call reports, as `(code, name)`: `Some` for an
/// [`Error::Simulation`] carrying `Error(Contract, #N)` with N one of the suite's codes.
pub fn contract_error(err: &Error) -> Option<(u32, &'static str)> {
    let Error::Simulation(message) = err else {
        return None;
    };
    let code = code_in(message)?;
    NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(c, name)| (*c, *name))
}

/// Appends the contract error's name to a simulation error's message (the code stays in it).
fn named(err: Error) -> Error {
    match (contract_error(&err), err) {
        (Some((_, name)), Error::Simulation(message)) => {
            Error::Simulation(format!("{message} ({name})"))
        }
        (_, err) => err,
    }
}

/// The relayer as the clients use it: contract errors come back named.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Named<'r>(pub(crate) &'r Relayer);

impl Named<'_> {
    /// [`Relayer::read`], with contract errors named.
    pub(crate) async fn read(
        &self,
        contract: &str,
        function: &str,
        args: Vec<ScVal>,
    ) -> Result<ScVal> {
        self.0.read(contract, function, args).await.map_err(named)
    }

    /// [`Relayer::invoke`], with contract errors named.
    pub(crate) async fn invoke(
        &self,
        request_key: &str,
        user: &str,
        contract: &str,
        function: &str,
        args: Vec<ScVal>,
        signers: &[&dyn Signer],
    ) -> Result<Landed> {
        self.0
            .invoke(request_key, user, contract, function, args, signers)
            .await
            .map_err(named)
    }

    /// A read of `contract` whose value is an address (e.g. `admin`).
    pub(crate) async fn read_address(
        &self,
        contract: &str,
        function: &str,
        args: Vec<ScVal>,
    ) -> Result<String> {
        let v = self.read(contract, function, args).await?;
        Ok(crate::scval::decode::<crate::scval::Address>(&v)?.0)
    }

    /// `upgrade(wasm_hash)` of `contract`, authorized by its `admin` (every suite contract
    /// has it).
    pub(crate) async fn upgrade(
        &self,
        contract: &str,
        key: &str,
        admin: &dyn Signer,
        wasm_hash: &[u8; 32],
    ) -> Result<Landed> {
        let args = vec![crate::scval::arg::bytes(wasm_hash)?];
        self.invoke(key, &admin.address(), contract, "upgrade", args, &[admin])
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(name, code)` of each variant of a `#[contracterror]` enum's source.
    fn variants(source: &str) -> Vec<(u32, String)> {
        source
            .lines()
            .filter_map(|l| {
                let (name, code) = l.trim().trim_end_matches(',').split_once(" = ")?;
                Some((code.parse().ok()?, name.to_string()))
            })
            .collect()
    }

    #[test]
    fn the_table_matches_the_contracts_error_enums() {
        let mut expected: Vec<(u32, String)> = [
            include_str!("../../../../contracts/issuer-registry/src/errors.rs"),
            include_str!("../../../../contracts/study-token/src/errors.rs"),
            include_str!("../../../../contracts/registry/src/errors.rs"),
        ]
        .iter()
        .flat_map(|s| variants(s))
        .collect();
        expected.sort();
        let table: Vec<(u32, String)> = NAMES.iter().map(|(c, n)| (*c, n.to_string())).collect();
        assert_eq!(table, expected);
    }

    #[test]
    fn simulation_errors_get_the_name_and_keep_the_code() {
        let err = named(Error::Simulation(
            "host invocation failed: HostError: Error(Contract, #201)".into(),
        ));
        assert_eq!(contract_error(&err), Some((201, "NotOwner")));
        let text = err.to_string();
        assert!(
            text.contains("#201") && text.ends_with("(NotOwner)"),
            "{text}"
        );
        // Unknown codes, other host errors and other kinds are left alone.
        for e in [
            Error::Simulation("Error(Contract, #999)".into()),
            Error::Simulation("Error(Auth, InvalidAction)".into()),
            Error::MissingSigner("G…".into()),
        ] {
            let before = e.to_string();
            assert_eq!(named(e).to_string(), before);
        }
        assert_eq!(contract_error(&Error::Simulation("#201".into())), None);
    }
}
