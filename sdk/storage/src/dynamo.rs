//! The application database in DynamoDB: one table, every racing write conditional.
//!
//! Items share a string partition key `pk`:
//! `meta#schema` (schema version), `counter#hd_index`, `account#<email>`,
//! `address#<G-address>` (→ email),
//! `release#<issuer>#<release-id>`, `idem#<key>`, and the relayer's `relay#<request-key>`
//! and `spend#<user>#<day>`, and the key-value store's `kv#<key>` (attributes `value`,
//! `version`, `expires_at`; expiry is checked in every read and condition, so no DynamoDB
//! TTL is needed for correctness).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use crate::db::{normalize_email, now};
use crate::s3::aws_error;
use crate::{
    Account, AppDb, Custody, IdempotencyOutcome, KvExpect, KvRecord, Release, ReleaseStatus,
    SpendOutcome, StorageError, SCHEMA_VERSION,
};

type Item = HashMap<String, AttributeValue>;

const SCHEMA_PK: &str = "meta#schema";
const HD_PK: &str = "counter#hd_index";

/// The application database in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDb {
    client: Client,
    table: String,
}

impl DynamoDb {
    /// Wraps a configured client; call [`AppDb::migrate`] before use.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the environment's AWS configuration; `endpoint` overrides the URL
    /// (moto, DynamoDB Local).
    pub async fn from_env(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        Self::new(client_from_env(endpoint).await, table)
    }

    /// A client for a DynamoDB-compatible endpoint with static credentials (moto).
    pub fn for_endpoint(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        table: impl Into<String>,
    ) -> Self {
        Self::new(
            client_for_endpoint(endpoint, region, access_key_id, secret_access_key),
            table,
        )
    }

    async fn get(&self, pk: &str, what: &str) -> Result<Option<Item>, StorageError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error(format!("reading {what}"), e))?;
        Ok(out.item)
    }

    /// Puts `item`, replacing any item with its key.
    async fn put(&self, item: Item, what: &str) -> Result<(), StorageError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| aws_error(format!("writing {what}"), e))?;
        Ok(())
    }

    /// Puts `item` if no item has its key; `Ok(false)` if one has.
    async fn put_if_absent(&self, item: Item, what: &str) -> Result<bool, StorageError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(aws_error(format!("writing {what}"), e)),
        }
    }

    async fn table_exists(&self) -> Result<bool, StorageError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(aws_error(format!("describing table {}", self.table), e)),
        }
    }

    async fn create_table(&self) -> Result<(), StorageError> {
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build_err)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(aws_error(format!("creating table {}", self.table), e)),
        }
        // Wait for ACTIVE (immediate on moto; seconds on AWS).
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| aws_error(format!("describing table {}", self.table), e))?;
            let active = out
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StorageError::Backend {
            context: format!("creating table {}", self.table),
            message: "table did not become ACTIVE within 60 s".into(),
            transient: true,
        })
    }

    async fn set_version(&self, from: u32, to: u32) -> Result<(), StorageError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(SCHEMA_PK))
            .item("version", n(to));
        req = if from == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("version = :from")
                .expression_attribute_values(":from", n(from))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            // Another migrator got there first; it applied the same steps.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(aws_error("recording the schema version".into(), e)),
        }
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Backend {
        context: "building a request".into(),
        message: e.to_string(),
        transient: false,
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn opt_s(item: &mut Item, name: &str, v: &Option<String>) {
    if let Some(v) = v {
        item.insert(name.to_owned(), s(v));
    }
}

fn get_s(item: &Item, name: &str) -> Result<String, StorageError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StorageError::Corrupt(format!("attribute {name} missing"))),
    }
}

fn get_opt_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StorageError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StorageError::Corrupt(format!("attribute {name} is not a number"))),
        _ => Err(StorageError::Corrupt(format!("attribute {name} missing"))),
    }
}

fn account_pk(email: &str) -> String {
    format!("account#{email}")
}

impl DynamoDb {
    /// Migration 1 → 2: the address index of accounts written before it existed.
    async fn index_account_addresses(&self) -> Result<(), StorageError> {
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s("account#"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("listing accounts to index".into(), e))?;
            for item in page.items() {
                let account = account_from(item)?;
                let mut index = Item::new();
                index.insert("pk".into(), s(&address_pk(&account.address)));
                index.insert("email".into(), s(&account.email));
                self.put(index, "an account's address index").await?;
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(()),
            }
        }
    }
}

fn address_pk(address: &str) -> String {
    format!("address#{address}")
}

fn release_pk(issuer: &str, release_id: &str) -> String {
    format!("release#{issuer}#{release_id}")
}

fn idem_pk(key: &str) -> String {
    format!("idem#{key}")
}

fn relay_pk(key: &str) -> String {
    format!("relay#{key}")
}

fn kv_pk(key: &str) -> String {
    format!("kv#{key}")
}

/// The condition expression for `expect` (`#ver` is `version`); `None` for
/// [`KvExpect::Any`]. Uses `:now`, and `:expected` for a version.
fn kv_condition(expect: KvExpect) -> Option<&'static str> {
    match expect {
        KvExpect::Any => None,
        KvExpect::Absent => Some("attribute_not_exists(pk) OR expires_at <= :now"),
        KvExpect::Version(_) => {
            Some("#ver = :expected AND (attribute_not_exists(expires_at) OR expires_at > :now)")
        }
    }
}

fn kv_conflict(key: &str, expect: KvExpect) -> StorageError {
    StorageError::Conflict(format!("key {key} did not hold {expect:?}"))
}

fn kv_live(item: &Item, now: u64) -> Result<Option<KvRecord>, StorageError> {
    let expires_at = match item.get("expires_at") {
        Some(_) => Some(get_n(item, "expires_at")?),
        None => None,
    };
    if expires_at.is_some_and(|e: u64| e <= now) {
        return Ok(None);
    }
    Ok(Some(KvRecord {
        value: get_s(item, "value")?,
        version: get_n(item, "version")?,
        expires_at,
    }))
}

fn spend_pk(user: &str, day: u64) -> String {
    format!("spend#{user}#{day}")
}

fn account_item(a: &Account) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(&account_pk(&a.email)));
    item.insert("email".into(), s(&a.email));
    item.insert("address".into(), s(&a.address));
    item.insert("custody".into(), s(a.custody.as_str()));
    if let Some(i) = a.hd_index {
        item.insert("hd_index".into(), n(i));
    }
    item.insert("created_at".into(), n(a.created_at));
    item
}

fn account_from(item: &Item) -> Result<Account, StorageError> {
    Ok(Account {
        email: get_s(item, "email")?,
        address: get_s(item, "address")?,
        custody: Custody::parse(&get_s(item, "custody")?)?,
        hd_index: match item.get("hd_index") {
            Some(_) => Some(get_n(item, "hd_index")?),
            None => None,
        },
        created_at: get_n(item, "created_at")?,
    })
}

fn release_item(r: &Release) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(&release_pk(&r.issuer, &r.release_id)));
    item.insert("issuer".into(), s(&r.issuer));
    item.insert("release_id".into(), s(&r.release_id));
    item.insert("status".into(), s(r.status.as_str()));
    opt_s(&mut item, "checksum_root", &r.checksum_root);
    opt_s(&mut item, "study_id", &r.study_id);
    opt_s(&mut item, "metadata_cid", &r.metadata_cid);
    opt_s(&mut item, "report_key", &r.report_key);
    opt_s(&mut item, "token_id", &r.token_id);
    item.insert("version".into(), n(r.version));
    item.insert("updated_at".into(), n(r.updated_at));
    item
}

fn release_from(item: &Item) -> Result<Release, StorageError> {
    Ok(Release {
        issuer: get_s(item, "issuer")?,
        release_id: get_s(item, "release_id")?,
        status: ReleaseStatus::parse(&get_s(item, "status")?)?,
        checksum_root: get_opt_s(item, "checksum_root"),
        study_id: get_opt_s(item, "study_id"),
        metadata_cid: get_opt_s(item, "metadata_cid"),
        report_key: get_opt_s(item, "report_key"),
        token_id: get_opt_s(item, "token_id"),
        version: get_n(item, "version")?,
        updated_at: get_n(item, "updated_at")?,
    })
}

#[async_trait]
impl AppDb for DynamoDb {
    async fn migrate(&self) -> Result<u32, StorageError> {
        let current = self.schema_version().await?;
        if current > SCHEMA_VERSION {
            return Err(StorageError::Corrupt(format!(
                "database schema version {current} is newer than this code's {SCHEMA_VERSION}"
            )));
        }
        // Each step is idempotent, so a migrator that crashes between a step and recording
        // it simply repeats the step.
        for version in current..SCHEMA_VERSION {
            match version {
                0 => self.create_table().await?,
                1 => self.index_account_addresses().await?,
                // 2 → 3: the relayer's items need no table change; 3 → 4 (the key-value
                // store's items) neither.
                2 | 3 => {}
                _ => unreachable!("no migration beyond SCHEMA_VERSION"),
            }
            self.set_version(version, version + 1).await?;
        }
        Ok(SCHEMA_VERSION)
    }

    async fn schema_version(&self) -> Result<u32, StorageError> {
        if !self.table_exists().await? {
            return Ok(0);
        }
        match self.get(SCHEMA_PK, "the schema version").await? {
            Some(item) => get_n(&item, "version"),
            None => Ok(0),
        }
    }

    async fn allocate_hd_index(&self) -> Result<u32, StorageError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(HD_PK))
            .update_expression("ADD #v :one")
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| aws_error("allocating an HD index".into(), e))?;
        let attrs = out.attributes.unwrap_or_default();
        // The counter holds how many were allocated; the first index is 0.
        let count: u64 = get_n(&attrs, "value")?;
        count
            .checked_sub(1)
            .and_then(|i| u32::try_from(i).ok())
            .filter(|i| *i < 0x8000_0000)
            .ok_or_else(|| StorageError::Corrupt("HD index space exhausted".into()))
    }

    async fn insert_account(&self, account: &Account) -> Result<Account, StorageError> {
        let mut account = account.clone();
        account.email = normalize_email(&account.email);
        self.put_if_absent(account_item(&account), "an account")
            .await?;
        let stored = self
            .account_by_email(&account.email)
            .await?
            .ok_or_else(|| StorageError::Corrupt("account vanished after insert".into()))?;
        // The address index is written after the account (and again by any repeat of this
        // insert), so an interrupted insert is completed by its retry.
        let mut index = Item::new();
        index.insert("pk".into(), s(&address_pk(&stored.address)));
        index.insert("email".into(), s(&stored.email));
        self.put(index, "the account's address index").await?;
        Ok(stored)
    }

    async fn account_by_address(&self, address: &str) -> Result<Option<Account>, StorageError> {
        let Some(index) = self
            .get(&address_pk(address), "an account's address index")
            .await?
        else {
            return Ok(None);
        };
        let email = get_s(&index, "email")?;
        Ok(self
            .account_by_email(&email)
            .await?
            .filter(|a| a.address == address))
    }

    async fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        let pk = account_pk(&normalize_email(email));
        self.get(&pk, "an account")
            .await?
            .map(|i| account_from(&i))
            .transpose()
    }

    async fn insert_release(&self, release: &Release) -> Result<Release, StorageError> {
        self.put_if_absent(release_item(release), "a release")
            .await?;
        self.get_release(&release.issuer, &release.release_id)
            .await?
            .ok_or_else(|| StorageError::Corrupt("release vanished after insert".into()))
    }

    async fn get_release(
        &self,
        issuer: &str,
        release_id: &str,
    ) -> Result<Option<Release>, StorageError> {
        self.get(&release_pk(issuer, release_id), "a release")
            .await?
            .map(|i| release_from(&i))
            .transpose()
    }

    async fn update_release(&self, release: &Release) -> Result<Release, StorageError> {
        let mut next = release.clone();
        next.version = release.version + 1;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(release_item(&next)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(release.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                match self
                    .get_release(&release.issuer, &release.release_id)
                    .await?
                {
                    None => Err(StorageError::NotFound(format!(
                        "release {}/{}",
                        release.issuer, release.release_id
                    ))),
                    Some(s) => Err(StorageError::Conflict(format!(
                        "release {}/{} is at version {}, not {}",
                        release.issuer, release.release_id, s.version, release.version
                    ))),
                }
            }
            Err(e) => Err(aws_error("updating a release".into(), e)),
        }
    }

    async fn put_idempotency(
        &self,
        key: &str,
        value: &str,
    ) -> Result<IdempotencyOutcome, StorageError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(&idem_pk(key)));
        item.insert("value".into(), s(value));
        item.insert("created_at".into(), n(now()));
        if self.put_if_absent(item, "an idempotency record").await? {
            return Ok(IdempotencyOutcome::Inserted);
        }
        match self.get_idempotency(key).await? {
            Some(v) => Ok(IdempotencyOutcome::Existing(v)),
            None => Err(StorageError::Corrupt(
                "idempotency record vanished after a conflict".into(),
            )),
        }
    }

    async fn get_idempotency(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.get(&idem_pk(key), "an idempotency record")
            .await?
            .map(|i| get_s(&i, "value"))
            .transpose()
    }

    async fn put_relay_request(&self, key: &str, record: &str) -> Result<(), StorageError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(&relay_pk(key)));
        item.insert("record".into(), s(record));
        item.insert("updated_at".into(), n(now()));
        self.put(item, "a relay request record").await
    }

    async fn get_relay_request(&self, key: &str) -> Result<Option<String>, StorageError> {
        self.get(&relay_pk(key), "a relay request record")
            .await?
            .map(|i| get_s(&i, "record"))
            .transpose()
    }

    async fn add_relay_spend(
        &self,
        user: &str,
        day: u64,
        delta: i64,
        cap: Option<i64>,
    ) -> Result<SpendOutcome, StorageError> {
        let pk = spend_pk(user, day);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .update_expression("ADD spent :d")
            .expression_attribute_values(":d", n(delta))
            .return_values(ReturnValue::UpdatedNew);
        if let Some(cap) = cap {
            // The check and the addition are one conditional update: concurrent reservations
            // cannot pass the cap together.
            let room = cap.saturating_sub(delta);
            if room < 0 {
                let spent = self.relay_spend(user, day).await?;
                return Ok(SpendOutcome::OverCap {
                    would: spent.saturating_add(delta),
                });
            }
            update = update
                .condition_expression("attribute_not_exists(spent) OR spent <= :room")
                .expression_attribute_values(":room", n(room));
        }
        match update.send().await {
            Ok(out) => Ok(SpendOutcome::Added(get_n(
                &out.attributes.unwrap_or_default(),
                "spent",
            )?)),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                let spent = self.relay_spend(user, day).await?;
                Ok(SpendOutcome::OverCap {
                    would: spent.saturating_add(delta),
                })
            }
            Err(e) => Err(aws_error("writing the relay spend".into(), e)),
        }
    }

    async fn relay_spend(&self, user: &str, day: u64) -> Result<i64, StorageError> {
        match self.get(&spend_pk(user, day), "the relay spend").await? {
            Some(item) => get_n(&item, "spent"),
            None => Ok(0),
        }
    }

    async fn kv_get(&self, key: &str) -> Result<Option<KvRecord>, StorageError> {
        match self.get(&kv_pk(key), "a key-value record").await? {
            Some(item) => kv_live(&item, now()),
            None => Ok(None),
        }
    }

    async fn kv_put(
        &self,
        key: &str,
        value: &str,
        expect: KvExpect,
        expires_at: Option<u64>,
    ) -> Result<u64, StorageError> {
        let set = "SET #val = :val, #ver = if_not_exists(#ver, :zero) + :one";
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&kv_pk(key)))
            .expression_attribute_names("#val", "value")
            .expression_attribute_names("#ver", "version")
            .expression_attribute_values(":val", s(value))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        update = match expires_at {
            Some(e) => update
                .update_expression(format!("{set}, expires_at = :exp"))
                .expression_attribute_values(":exp", n(e)),
            None => update.update_expression(format!("{set} REMOVE expires_at")),
        };
        if let Some(condition) = kv_condition(expect) {
            update = update
                .condition_expression(condition)
                .expression_attribute_values(":now", n(now()));
        }
        if let KvExpect::Version(v) = expect {
            update = update.expression_attribute_values(":expected", n(v));
        }
        match update.send().await {
            Ok(out) => get_n(&out.attributes.unwrap_or_default(), "version"),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(kv_conflict(key, expect))
            }
            Err(e) => Err(aws_error("writing a key-value record".into(), e)),
        }
    }

    async fn kv_delete(&self, key: &str, expect: KvExpect) -> Result<bool, StorageError> {
        let mut delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&kv_pk(key)))
            .return_values(ReturnValue::AllOld);
        if let Some(condition) = kv_condition(expect) {
            delete = delete
                .condition_expression(condition)
                .expression_attribute_values(":now", n(now()));
        }
        if let KvExpect::Version(v) = expect {
            delete = delete
                .expression_attribute_names("#ver", "version")
                .expression_attribute_values(":expected", n(v));
        }
        match delete.send().await {
            Ok(out) => match out.attributes {
                Some(old) if !old.is_empty() => Ok(kv_live(&old, now())?.is_some()),
                _ => Ok(false),
            },
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Err(kv_conflict(key, expect))
            }
            Err(e) => Err(aws_error("deleting a key-value record".into(), e)),
        }
    }
}

/// A DynamoDB client from the environment's AWS configuration; `endpoint` overrides the URL
/// (moto, DynamoDB Local). Shared by the platform database and the audit index.
pub(crate) async fn client_from_env(endpoint: Option<&str>) -> Client {
    let shared = aws_config::load_from_env().await;
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&shared);
    if let Some(url) = endpoint {
        builder = builder.endpoint_url(url);
    }
    Client::from_conf(builder.build())
}

/// A DynamoDB client for a compatible endpoint with static credentials (moto).
pub(crate) fn client_for_endpoint(
    endpoint: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> Client {
    let creds = aws_sdk_dynamodb::config::Credentials::new(
        access_key_id,
        secret_access_key,
        None,
        None,
        "medimint-static",
    );
    let conf = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(region.to_owned()))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .build();
    Client::from_conf(conf)
}
