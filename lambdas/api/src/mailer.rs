//! How one-time codes reach the user: the [`Mailer`] trait and its local implementation,
//! one file per message in an `outbox/` directory (what `medimint up` prints).
//!
//! In AWS it is SES ([`medimint_storage::SesMailer`], API v2 `SendEmail`), chosen by the
//! opener when `MEDIMINT_MAIL_FROM` is set.

use std::path::PathBuf;

use async_trait::async_trait;

/// One message to send.
#[derive(Clone, Debug)]
pub struct Message {
    /// The recipient's email address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// Why a message could not be sent. Never holds the message's text.
#[derive(Debug, thiserror::Error)]
#[error("the mailer could not send the message: {0}")]
pub struct MailError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Sends messages to users.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `message`.
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// Writes each message to a new file `<unix-nanos>-<uuid>.txt` (mode 0600) in a directory.
#[derive(Clone, Debug)]
pub struct OutboxMailer {
    dir: PathBuf,
}

impl OutboxMailer {
    /// A mailer writing into `dir` (created on first send).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let dir = self.dir.clone();
        let body = format!(
            "To: {}\nSubject: {}\n\n{}\n",
            message.to, message.subject, message.text
        );
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
        .map_err(|e| MailError(Box::new(e)))?
        .map_err(|e| MailError(Box::new(e)))
    }
}

#[async_trait]
impl Mailer for medimint_storage::SesMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        self.send_text(&message.to, &message.subject, &message.text)
            .await
            .map(|_| ())
            .map_err(|e| MailError(Box::new(e)))
    }
}
