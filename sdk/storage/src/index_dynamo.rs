//! The audit index in DynamoDB: one table with a string partition key `pk` and sort key
//! `sk`; values in the string attribute `v`, counters (pk `count`, sk the counter's key) in
//! the number attribute `n`. Each event is one `TransactWriteItems` whose marker put is
//! conditional, so an event read twice is applied once; the cursor is written after the
//! batch (a restart repairs a crash in between by skipping the applied events).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, DeleteRequest, KeySchemaElement,
    KeyType, Put, ScalarAttributeType, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use crate::dynamo::{client_for_endpoint, client_from_env};
use crate::index::{EventWrite, IndexStore, Op};
use crate::s3::aws_error;
use crate::StorageError;

type Item = HashMap<String, AttributeValue>;

/// The index in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoIndex {
    client: Client,
    table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Backend {
        context: "building an index request".into(),
        message: e.to_string(),
        transient: false,
    }
}

fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn text(item: &Item, name: &str) -> Result<String, StorageError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StorageError::Corrupt(format!(
            "index attribute {name} missing"
        ))),
    }
}

impl DynamoIndex {
    /// Wraps a configured client; call [`IndexStore::migrate`] before use.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the environment's AWS configuration; `endpoint` overrides the URL.
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

    fn transact_item(&self, op: &Op) -> Result<TransactWriteItem, StorageError> {
        Ok(match op {
            Op::Put { pk, sk, value } => {
                let mut item = key(pk, sk);
                item.insert("v".into(), s(value));
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(item))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
            }
            Op::Delete { pk, sk } => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)))
                        .build()
                        .map_err(build_err)?,
                )
                .build(),
            Op::Count { key: k, by } => TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key("count", k)))
                        .update_expression("ADD n :by")
                        .expression_attribute_values(":by", AttributeValue::N(by.to_string()))
                        .build()
                        .map_err(build_err)?,
                )
                .build(),
        })
    }

    async fn put_cursor(&self, cursor: &str) -> Result<(), StorageError> {
        self.apply(&[Op::Put {
            pk: "cursor".into(),
            sk: "-".into(),
            value: cursor.to_owned(),
        }])
        .await
    }

    /// Every key whose pk starts with `prefix` (a scan: rebuilds only).
    async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, StorageError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", s(prefix))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("scanning the index".into(), e))?;
            for item in resp.items() {
                out.push((text(item, "pk")?, text(item, "sk")?));
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    async fn batch(&self, requests: Vec<WriteRequest>) -> Result<(), StorageError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            for _ in 0..10 {
                let resp = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| aws_error("writing index items".into(), e))?;
                pending = resp
                    .unprocessed_items()
                    .and_then(|m| m.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            if !pending.is_empty() {
                return Err(StorageError::Backend {
                    context: "writing index items".into(),
                    message: format!("{} items stayed unprocessed", pending.len()),
                    transient: true,
                });
            }
        }
        Ok(())
    }
}

#[async_trait]
impl IndexStore for DynamoIndex {
    async fn migrate(&self) -> Result<(), StorageError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(aws_error(format!("describing table {}", self.table), e)),
        }
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let schema = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_err)
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .key_schema(schema("pk", KeyType::Hash)?)
            .key_schema(schema("sk", KeyType::Range)?)
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(aws_error(format!("creating table {}", self.table), e)),
        }
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| aws_error(format!("describing table {}", self.table), e))?;
            if out
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE")
            {
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

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<String>, StorageError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("reading an index item".into(), e))?;
        out.item.map(|i| text(&i, "v")).transpose()
    }

    async fn query(
        &self,
        pk: &str,
        after: Option<&str>,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<(String, String)>, StorageError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        while out.len() < limit as usize {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .scan_index_forward(!newest_first)
                .limit((limit as usize - out.len()) as i32)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            q = match after {
                Some(a) => q
                    .key_condition_expression(if newest_first {
                        "pk = :pk AND sk < :a"
                    } else {
                        "pk = :pk AND sk > :a"
                    })
                    .expression_attribute_values(":a", s(a)),
                None => q.key_condition_expression("pk = :pk"),
            };
            let resp = q
                .send()
                .await
                .map_err(|e| aws_error("querying the index".into(), e))?;
            for item in resp.items() {
                out.push((text(item, "sk")?, text(item, "v")?));
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn counts(&self, prefix: &str) -> Result<Vec<(String, i64)>, StorageError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":pk", s("count"))
                .expression_attribute_values(":p", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| aws_error("reading counters".into(), e))?;
            for item in resp.items() {
                let n = match item.get("n") {
                    Some(AttributeValue::N(v)) => v.parse().map_err(|_| {
                        StorageError::Corrupt("index counter is not a number".into())
                    })?,
                    _ => 0,
                };
                out.push((text(item, "sk")?, n));
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    async fn write_events(
        &self,
        events: &[EventWrite],
        cursor: &str,
    ) -> Result<usize, StorageError> {
        let mut applied = 0;
        for e in events {
            if e.ops.len() > 99 {
                return Err(StorageError::Corrupt(format!(
                    "event {} changes {} index items; at most 99 fit one transaction",
                    e.id,
                    e.ops.len()
                )));
            }
            let mut marker = key("event", &e.id);
            marker.insert("v".into(), s(&e.marker));
            let mut items = vec![TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(marker))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(build_err)?,
                )
                .build()];
            // One operation per item in a transaction: the last one for a key wins.
            let mut seen: HashMap<(String, String), usize> = HashMap::new();
            let mut ops: Vec<&Op> = Vec::new();
            for op in &e.ops {
                let k = match op {
                    Op::Put { pk, sk, .. } | Op::Delete { pk, sk } => (pk.clone(), sk.clone()),
                    Op::Count { key, .. } => ("count".into(), key.clone()),
                };
                match seen.get(&k) {
                    Some(&i) => ops[i] = op,
                    None => {
                        seen.insert(k, ops.len());
                        ops.push(op);
                    }
                }
            }
            for op in ops {
                items.push(self.transact_item(op)?);
            }
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => applied += 1,
                Err(err) => {
                    let already = err
                        .as_service_error()
                        .map(|se| {
                            se.is_transaction_canceled_exception()
                                && format!("{se:?}").contains("ConditionalCheckFailed")
                        })
                        .unwrap_or(false);
                    if !already {
                        return Err(aws_error(format!("applying event {}", e.id), err));
                    }
                }
            }
        }
        self.put_cursor(cursor).await?;
        Ok(applied)
    }

    async fn replace(
        &self,
        prefixes: &[&str],
        puts: &[Op],
        cursor: &str,
    ) -> Result<(), StorageError> {
        let mut deletes = Vec::new();
        for p in prefixes {
            for (pk, sk) in self.keys_with_prefix(p).await? {
                deletes.push(
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key(&pk, &sk)))
                                .build()
                                .map_err(build_err)?,
                        )
                        .build(),
                );
            }
        }
        self.batch(deletes).await?;
        // Puts only (a rebuild writes state); counters and deletes go through `apply`.
        let mut last: HashMap<(String, String), String> = HashMap::new();
        let mut order = Vec::new();
        let mut rest = Vec::new();
        for op in puts {
            match op {
                Op::Put { pk, sk, value } => {
                    let k = (pk.clone(), sk.clone());
                    if last.insert(k.clone(), value.clone()).is_none() {
                        order.push(k);
                    }
                }
                other => rest.push(other.clone()),
            }
        }
        let mut requests = Vec::new();
        for k in order {
            let mut item = key(&k.0, &k.1);
            item.insert("v".into(), s(&last[&k]));
            requests.push(
                WriteRequest::builder()
                    .put_request(
                        aws_sdk_dynamodb::types::PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(build_err)?,
                    )
                    .build(),
            );
        }
        self.batch(requests).await?;
        if !rest.is_empty() {
            self.apply(&rest).await?;
        }
        self.put_cursor(cursor).await
    }

    async fn apply(&self, ops: &[Op]) -> Result<(), StorageError> {
        for op in ops {
            match op {
                Op::Put { pk, sk, value } => {
                    let mut item = key(pk, sk);
                    item.insert("v".into(), s(value));
                    self.client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .send()
                        .await
                        .map_err(|e| aws_error("writing an index item".into(), e))?;
                }
                Op::Delete { pk, sk } => {
                    self.client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)))
                        .send()
                        .await
                        .map_err(|e| aws_error("deleting an index item".into(), e))?;
                }
                Op::Count { key: k, by } => {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(key("count", k)))
                        .update_expression("ADD n :by")
                        .expression_attribute_values(":by", AttributeValue::N(by.to_string()))
                        .send()
                        .await
                        .map_err(|e| aws_error("counting".into(), e))?;
                }
            }
        }
        Ok(())
    }
}
