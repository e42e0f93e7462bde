//! Vaults: environment variable, file, and AWS Secrets Manager (moto's server with the real
//! AWS SDK client).

use medimint_sdk::keys::{derive_keypair, Mnemonic};
use medimint_sdk::vault::{EnvVault, FileVault, SecretsManagerVault, Vault, VaultError};
use medimint_testkit::{MotoServer, ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY};

// SEP-0005 test 1: account 0 is known.
const PHRASE: &str = "illness spike retreat truth genius clock brain pass fit cave bargain toe";
const ACCOUNT_0: &str = "GDRXE2BQUC3AZNPVFSCEZ76NJ3WWL25FYFK6RGZGIEKWE4SOOHSUJUJ6";
const ACCOUNT_3: &str = "GAOD5NRAEORFE34G5D4EOSKIJB6V4Z2FGPBCJNQI6MNICVITE6CSYIAE";

#[tokio::test]
async fn env_vault_derives_custodial_keys() {
    let var = "MEDIMINT_TEST_VAULT_ENV_OK";
    std::env::set_var(var, PHRASE);
    let vault = EnvVault::new(var);
    assert_eq!(
        vault.custodial_keypair(0).await.unwrap().address(),
        ACCOUNT_0
    );
    assert_eq!(
        vault.custodial_keypair(3).await.unwrap().address(),
        ACCOUNT_3
    );
    let missing = EnvVault::new("MEDIMINT_TEST_VAULT_ENV_UNSET");
    assert!(matches!(
        missing.master_seed().await,
        Err(VaultError::Missing(_))
    ));
}

#[tokio::test]
async fn env_vault_rejects_a_bad_mnemonic_without_echoing_it() {
    let var = "MEDIMINT_TEST_VAULT_ENV_BAD";
    std::env::set_var(
        var,
        "illness spike retreat truth genius clock brain pass fit cave bargain bargain",
    );
    let err = EnvVault::new(var).master_seed().await.unwrap_err();
    assert!(matches!(err, VaultError::Invalid { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(var), "{msg}");
    assert!(!msg.contains("illness"), "{msg}");
}

#[tokio::test]
async fn file_vault_requires_owner_only_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.mnemonic");
    std::fs::write(&path, format!("{PHRASE}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let vault = FileVault::new(&path);
    assert!(matches!(
        vault.master_seed().await,
        Err(VaultError::TooOpen { mode: 0o644, .. })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        vault.custodial_keypair(0).await.unwrap().address(),
        ACCOUNT_0
    );
    assert!(matches!(
        FileVault::new(dir.path().join("absent"))
            .master_seed()
            .await,
        Err(VaultError::Missing(_))
    ));
}

#[tokio::test]
async fn passphrase_is_applied() {
    let var = "MEDIMINT_TEST_VAULT_ENV_PASS";
    std::env::set_var(var, PHRASE);
    let with = EnvVault::new(var).with_passphrase("p4ss");
    let expected = derive_keypair(&Mnemonic::parse(PHRASE).unwrap().to_seed("p4ss"), 0).unwrap();
    assert_eq!(
        with.custodial_keypair(0).await.unwrap().address(),
        expected.address()
    );
    assert_ne!(expected.address(), ACCOUNT_0);
}

fn moto_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "moto",
        ))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

#[tokio::test]
async fn secrets_manager_vault_against_moto() {
    let moto = MotoServer::start().expect("moto server (pip install 'moto[server]')");
    let client = moto_client(&moto.endpoint());
    client
        .create_secret()
        .name("medimint/master")
        .secret_string(PHRASE)
        .send()
        .await
        .unwrap();
    let vault = SecretsManagerVault::new(client.clone(), "medimint/master");
    assert_eq!(
        vault.custodial_keypair(0).await.unwrap().address(),
        ACCOUNT_0
    );
    assert_eq!(
        vault.custodial_keypair(3).await.unwrap().address(),
        ACCOUNT_3
    );

    // Works behind `dyn Vault`, as services hold it.
    let shared: Box<dyn Vault> =
        Box::new(SecretsManagerVault::new(client.clone(), "medimint/master"));
    assert_eq!(
        shared.custodial_keypair(0).await.unwrap().address(),
        ACCOUNT_0
    );

    let absent = SecretsManagerVault::new(client.clone(), "medimint/absent");
    assert!(matches!(
        absent.master_seed().await,
        Err(VaultError::Missing(_))
    ));

    client
        .create_secret()
        .name("medimint/garbled")
        .secret_string("not a mnemonic at all")
        .send()
        .await
        .unwrap();
    let garbled = SecretsManagerVault::new(client, "medimint/garbled");
    let err = garbled.master_seed().await.unwrap_err();
    assert!(matches!(err, VaultError::Invalid { .. }), "{err}");
    assert!(!err.to_string().contains("mnemonic at all"));
}
