//! Email through Amazon SES (API v2 `SendEmail`, a simple text message): the AWS side of
//! the API's one-time codes and the indexer's notifications (locally both write files into
//! `outbox/`). The callers adapt it to their own narrow traits (`medimint_api::mailer::Mailer`,
//! `medimint_indexer_lambda::notify::Sender`).
//!
//! Configured by `MEDIMINT_MAIL_FROM` (a verified SES identity; its presence turns the mailer
//! on), optionally `MEDIMINT_SES_ENDPOINT` (a local SES such as moto's server) and
//! `MEDIMINT_SES_CONFIGURATION_SET`; region and credentials come from the usual AWS
//! environment. Errors name the step and SES's error code, never the recipient or the text.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

/// Why a message was not sent. Never holds the recipient or the text.
#[derive(Debug, thiserror::Error)]
pub enum SesError {
    /// The settings or the message are unusable.
    #[error("{0}")]
    Invalid(String),
    /// SES refused or could not be reached.
    #[error("SES SendEmail failed ({code}); check that {from} is a verified identity and the function may call ses:SendEmail")]
    Send {
        /// SES's error code (`MessageRejected`, `AccessDeniedException`, …).
        code: String,
        /// The sender.
        from: String,
    },
}

/// The environment variable naming the sender address; the mailer is on when it is set.
pub const MAIL_FROM_VAR: &str = "MEDIMINT_MAIL_FROM";
/// The environment variable of an SES endpoint other than AWS's (moto's server in tests).
pub const SES_ENDPOINT_VAR: &str = "MEDIMINT_SES_ENDPOINT";
/// The environment variable of an SES configuration set (bounce and complaint tracking).
pub const SES_CONFIGURATION_SET_VAR: &str = "MEDIMINT_SES_CONFIGURATION_SET";

/// Longest subject accepted (SES's own limit is far above what MediMint sends).
const MAX_SUBJECT: usize = 998;

/// Sends plain-text email through SES.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

/// The SES settings of a function, read from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SesSettings {
    /// The sender (`MEDIMINT_MAIL_FROM`), e.g. `MediMint <no-reply@example.org>`.
    pub from: String,
    /// A local endpoint (`MEDIMINT_SES_ENDPOINT`).
    pub endpoint: Option<String>,
    /// A configuration set (`MEDIMINT_SES_CONFIGURATION_SET`).
    pub configuration_set: Option<String>,
}

impl SesSettings {
    /// The settings from `lookup` (the environment), or `None` when `MEDIMINT_MAIL_FROM` is
    /// unset or empty (no mailer configured).
    ///
    /// # Errors
    /// [`SesError::Invalid`] for a sender that is not an address.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, SesError> {
        let Some(from) = lookup(MAIL_FROM_VAR).filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        if !from.contains('@') {
            return Err(SesError::Invalid(format!(
                "{MAIL_FROM_VAR} must be an email address (a verified SES identity), e.g. \
                 no-reply@example.org"
            )));
        }
        let non_empty = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        Ok(Some(Self {
            from: from.trim().to_owned(),
            endpoint: non_empty(SES_ENDPOINT_VAR),
            configuration_set: non_empty(SES_CONFIGURATION_SET_VAR),
        }))
    }
}

impl SesMailer {
    /// Wraps a configured client.
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set,
        }
    }

    /// A client from the environment's AWS configuration and `settings`.
    pub async fn from_settings(settings: &SesSettings) -> Self {
        let shared = aws_config::load_from_env().await;
        let mut builder = aws_sdk_sesv2::config::Builder::from(&shared);
        if let Some(url) = &settings.endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(
            Client::from_conf(builder.build()),
            settings.from.clone(),
            settings.configuration_set.clone(),
        )
    }

    /// A client for an SES-compatible endpoint with static credentials (moto's server).
    pub fn for_endpoint(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        from: impl Into<String>,
    ) -> Self {
        let creds = aws_sdk_sesv2::config::Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "medimint-static",
        );
        let conf = aws_sdk_sesv2::config::Builder::new()
            .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
            .region(aws_sdk_sesv2::config::Region::new(region.to_owned()))
            .credentials_provider(creds)
            .endpoint_url(endpoint)
            .build();
        Self::new(Client::from_conf(conf), from, None)
    }

    /// The sender address.
    pub fn from_address(&self) -> &str {
        &self.from
    }

    /// Sends one plain-text message (UTF-8) to `to`; returns SES's message id.
    ///
    /// # Errors
    /// [`SesError::Invalid`] for an empty recipient or an overlong or multi-line
    /// subject; [`SesError::Send`] naming SES's error code.
    pub async fn send_text(&self, to: &str, subject: &str, text: &str) -> Result<String, SesError> {
        if to.trim().is_empty() || !to.contains('@') {
            return Err(SesError::Invalid(
                "the recipient is not an email address".into(),
            ));
        }
        if subject.len() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
            return Err(SesError::Invalid(
                "the subject must be one line of at most 998 bytes".into(),
            ));
        }
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| SesError::Invalid(format!("building the message: {e}")))
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(Body::builder().text(content(text)?).build())
            .build();
        let mut request = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build());
        if let Some(set) = &self.configuration_set {
            request = request.configuration_set_name(set);
        }
        let out = request.send().await.map_err(|e| SesError::Send {
            code: aws_sdk_sesv2::error::ProvideErrorMetadata::code(&e)
                .unwrap_or("no code")
                .to_owned(),
            from: self.from.clone(),
        })?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment_and_are_off_without_a_sender() {
        let none = SesSettings::from_lookup(|_| None).unwrap();
        assert_eq!(none, None);
        let blank = SesSettings::from_lookup(|k| (k == MAIL_FROM_VAR).then(|| " ".into())).unwrap();
        assert_eq!(blank, None);
        let err = SesSettings::from_lookup(|k| (k == MAIL_FROM_VAR).then(|| "nobody".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(MAIL_FROM_VAR), "{err}");
        let s = SesSettings::from_lookup(|k| match k {
            MAIL_FROM_VAR => Some("no-reply@medimint.example".into()),
            SES_ENDPOINT_VAR => Some("http://127.0.0.1:5000".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(s.from, "no-reply@medimint.example");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.configuration_set, None);
    }
}
