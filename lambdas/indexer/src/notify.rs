//! Notifications: what the indexer queued per recipient (a kind and a token id, never PHI)
//! sent as at most one message per recipient per interval, with an opt-out per kind.
//!
//! Locally each message is a file in `outbox/` (the format of the API's outbox mailer);
//! in AWS it goes through SES ([`medimint_storage::SesMailer`], when `MEDIMINT_MAIL_FROM`
//! is set).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use medimint_storage::index::Notice;
use medimint_storage::{AppDb, Index, KvExpect};
use serde::Serialize;

use crate::IndexerError;

/// The kinds a user can opt out of.
pub const KINDS: [&str; 5] = ["released", "accessed", "shared", "revoked", "expired"];

/// Sends one message.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends `text` with `subject` to `to`.
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), std::io::Error>;
}

#[async_trait]
impl Sender for medimint_storage::SesMailer {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), std::io::Error> {
        self.send_text(to, subject, text)
            .await
            .map(|_| ())
            .map_err(std::io::Error::other)
    }
}

/// Writes each message to a new file `<unix-nanos>-<uuid>.txt` (mode 0600) in a directory.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    dir: PathBuf,
}

impl OutboxSender {
    /// A sender writing into `dir` (created on first send).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl Sender for OutboxSender {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<(), std::io::Error> {
        let dir = self.dir.clone();
        let body = format!("To: {to}\nSubject: {subject}\n\n{text}\n");
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            std::fs::create_dir_all(&dir)?;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let path = dir.join(format!("{nanos:020}-{}.txt", uuid::Uuid::new_v4()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(path)?;
            file.write_all(body.as_bytes())?;
            file.sync_all()
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// Who gets messages: the email of an address (custodial accounts only) and its opt-outs.
#[async_trait]
pub trait Recipients: Send + Sync {
    /// The email to write to, `None` if the address has no account with one.
    async fn email_of(&self, address: &str) -> Result<Option<String>, IndexerError>;
    /// The kinds `address` opted out of.
    async fn opted_out(&self, address: &str) -> Result<Vec<String>, IndexerError>;
}

fn optout_key(address: &str) -> String {
    format!("notify-optout#{address}")
}

/// [`Recipients`] from the application database: accounts by address, opt-outs in its
/// key-value store (`notify-optout#<address>` → kinds, comma-separated).
pub struct DbRecipients(pub Arc<dyn AppDb>);

#[async_trait]
impl Recipients for DbRecipients {
    async fn email_of(&self, address: &str) -> Result<Option<String>, IndexerError> {
        Ok(self.0.account_by_address(address).await?.map(|a| a.email))
    }

    async fn opted_out(&self, address: &str) -> Result<Vec<String>, IndexerError> {
        Ok(self
            .0
            .kv_get(&optout_key(address))
            .await?
            .map(|r| r.value.split(',').map(str::to_owned).collect())
            .unwrap_or_default())
    }
}

/// Sets the kinds `address` opted out of (each one of [`KINDS`]).
///
/// # Errors
/// [`IndexerError::Invalid`] naming an unknown kind; database failures.
pub async fn set_opt_out(
    db: &dyn AppDb,
    address: &str,
    kinds: &[&str],
) -> Result<(), IndexerError> {
    if let Some(bad) = kinds.iter().find(|k| !KINDS.contains(k)) {
        return Err(IndexerError::Invalid(format!(
            "{bad:?} is not a notification kind; use {}",
            KINDS.join(", ")
        )));
    }
    db.kv_put(&optout_key(address), &kinds.join(","), KvExpect::Any, None)
        .await?;
    Ok(())
}

/// What [`send_due`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotifyReport {
    /// Messages sent.
    pub sent: usize,
    /// Recipients held back because they were notified less than the interval ago.
    pub deferred: usize,
    /// Notices dropped (opted out, or no email known).
    pub dropped: usize,
    /// Grants found expired (their owners' notices queued).
    pub expired: usize,
}

/// The message for a set of notices: counts per kind and token ids, never PHI.
pub fn message(notices: &[Notice]) -> (String, String) {
    let mut by_kind: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for n in notices {
        by_kind.entry(n.kind.as_str()).or_default().push(n.token_id);
    }
    let mut lines = Vec::new();
    for (kind, ids) in &by_kind {
        let what = match *kind {
            "released" => "new studies were released to you",
            "accessed" => "views or downloads of your studies",
            "shared" => "studies were shared with you",
            "revoked" => "shares with you were revoked",
            "expired" => "grants on your studies expired",
            _ => "other changes",
        };
        let count = ids.len();
        let mut ids = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        let list: Vec<String> = ids.iter().map(|i| format!("#{i}")).collect();
        lines.push(format!("- {count}: {what} (studies {})", list.join(", ")));
    }
    let subject = format!("MediMint: {} updates on your studies", notices.len());
    let text = format!(
        "{}\n\nSign in to MediMint to see the details. You can turn off each kind of message \
         in your settings.",
        lines.join("\n")
    );
    (subject, text)
}

/// Sends what is due: one message per recipient whose last message is at least
/// `interval_secs` old, covering every notice queued for them, minus the kinds they opted
/// out of. Up to `max_recipients` recipients per call.
///
/// # Errors
/// Store or sender failures (notices stay queued and are sent next time).
pub async fn send_due(
    index: &Index,
    recipients: &dyn Recipients,
    sender: &dyn Sender,
    now: u64,
    interval_secs: u64,
    max_recipients: u32,
) -> Result<NotifyReport, IndexerError> {
    let mut report = NotifyReport::default();
    // Grants that ended since the last call: their owners are told.
    for e in index.due_expiries(now, 500).await? {
        if let Some(t) = index.token(e.token_id).await? {
            index.expired(&e, &t.owner).await?;
            report.expired += 1;
        }
    }
    for address in index.notify_recipients(max_recipients).await? {
        if let Some(last) = index.last_notified(&address).await? {
            if now < last + interval_secs {
                report.deferred += 1;
                continue;
            }
        }
        let notices = index.notices(&address).await?;
        let all = notices.len() < 500;
        let out = recipients.opted_out(&address).await?;
        let email = recipients.email_of(&address).await?;
        let wanted: Vec<Notice> = notices
            .iter()
            .filter(|n| !out.contains(&n.kind))
            .cloned()
            .collect();
        match (email, wanted.is_empty()) {
            (Some(to), false) => {
                let (subject, text) = message(&wanted);
                sender
                    .send(&to, &subject, &text)
                    .await
                    .map_err(|e| IndexerError::Notify(e.to_string()))?;
                report.sent += 1;
                report.dropped += notices.len() - wanted.len();
                index
                    .notices_done(&address, &notices, all, Some(now))
                    .await?;
            }
            _ => {
                report.dropped += notices.len();
                index.notices_done(&address, &notices, all, None).await?;
            }
        }
    }
    Ok(report)
}
