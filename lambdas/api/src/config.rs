//! The API's settings: where it is reached, which network it signs for, and its limits.
//!
//! Read from the environment by [`ApiConfig::from_lookup`], which names every missing or
//! invalid variable at once. No secret is configured here: keys come from the vault
//! ([`crate::keys`]).

use std::time::Duration;

/// Environment variable: the API's public base URL (`https://api.example.org`).
pub const BASE_URL_VAR: &str = "MEDIMINT_API_BASE_URL";
/// Environment variable: the SEP-10 home domain (default: the base URL's host).
pub const HOME_DOMAIN_VAR: &str = "MEDIMINT_HOME_DOMAIN";
/// Environment variable: the Stellar network passphrase.
pub const NETWORK_VAR: &str = "MEDIMINT_NETWORK_PASSPHRASE";
/// Environment variable: comma-separated origins allowed by CORS (the web app's).
pub const CORS_VAR: &str = "MEDIMINT_API_CORS_ORIGINS";
/// Environment variable: minutes of inactivity after which a session ends (default 15).
pub const IDLE_VAR: &str = "MEDIMINT_API_IDLE_MINUTES";
/// Environment variable: requests per minute to `/dicomweb` per client IP and per account
/// (default 6000), a budget apart from `/v1`'s.
pub const DICOMWEB_RATE_VAR: &str = "MEDIMINT_API_DICOMWEB_PER_MINUTE";

/// The API's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// Longest a request may take before it is answered `408 Request Timeout`.
    pub request_timeout: Duration,
    /// Requests per minute from one client IP address.
    pub per_ip_per_minute: u32,
    /// Requests per minute from one signed-in account.
    pub per_account_per_minute: u32,
    /// Requests per minute to `/dicomweb` from one client IP, and from one account: a
    /// budget of its own, counted apart from the two above (a viewer asks one request per
    /// frame, far above `/v1`'s pace).
    pub dicomweb_per_minute: u32,
    /// Sign-in attempts per hour for one account (email or G-address): code requests,
    /// verifications and challenges.
    pub per_account_per_hour: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(25),
            per_ip_per_minute: 300,
            per_account_per_minute: 300,
            dicomweb_per_minute: 6000,
            per_account_per_hour: 20,
        }
    }
}

/// How long things live, in seconds.
#[derive(Clone, Debug)]
pub struct Lifetimes {
    /// Access token (JWT) lifetime.
    pub access: u64,
    /// Refresh token (and session) lifetime from sign-in, however active.
    pub session: u64,
    /// Inactivity after which a session ends (HIPAA automatic logoff).
    pub idle: u64,
    /// SEP-10 challenge time bounds.
    pub challenge: u64,
    /// One-time email code lifetime.
    pub code: u64,
    /// Wrong codes before a code locks.
    pub code_tries: u32,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: 15 * 60,
            session: 12 * 60 * 60,
            idle: 15 * 60,
            challenge: 15 * 60,
            code: 10 * 60,
            code_tries: 5,
        }
    }
}

/// The API's configuration.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Public base URL, without a trailing slash.
    pub base_url: String,
    /// SEP-10 home domain: challenges carry `<home_domain> auth`.
    pub home_domain: String,
    /// SEP-10 `web_auth_domain`: the host serving `/auth` (the base URL's host).
    pub web_auth_domain: String,
    /// The Stellar network passphrase.
    pub network_passphrase: String,
    /// Origins the browser may call from (CORS). Empty: no cross-origin calls.
    pub cors_origins: Vec<String>,
    /// Request limits.
    pub limits: Limits,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
}

/// Why the configuration could not be read; names every variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("the API's configuration is incomplete: {}", .problems.join("; "))]
pub struct ConfigError {
    /// One entry per missing or invalid variable, each saying what to set.
    pub problems: Vec<String>,
}

/// The host (with port, if any) of a URL.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

impl ApiConfig {
    /// A configuration for `base_url` on `network_passphrase` with default limits; the home
    /// domain and `web_auth_domain` are the URL's host.
    ///
    /// # Errors
    /// The URL is not `http(s)://host…`.
    pub fn new(base_url: &str, network_passphrase: &str) -> Result<Self, ConfigError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        let host = host_of(&base_url)
            .ok_or_else(|| ConfigError {
                problems: vec![format!(
                    "{BASE_URL_VAR}: `{base_url}` is not an http(s) URL; set it to the API's public URL, e.g. https://api.example.org"
                )],
            })?
            .to_string();
        Ok(Self {
            base_url,
            home_domain: host.clone(),
            web_auth_domain: host,
            network_passphrase: network_passphrase.to_string(),
            cors_origins: Vec::new(),
            limits: Limits::default(),
            lifetimes: Lifetimes::default(),
        })
    }

    /// Reads the configuration through `lookup` (the environment, in `main`).
    ///
    /// # Errors
    /// Every missing or invalid variable, at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let base = lookup(BASE_URL_VAR);
        let network = lookup(NETWORK_VAR);
        if base.is_none() {
            problems.push(format!(
                "{BASE_URL_VAR} is not set; set it to the API's public URL, e.g. https://api.example.org"
            ));
        }
        if network.is_none() {
            problems.push(format!(
                "{NETWORK_VAR} is not set; set it to the Stellar network passphrase"
            ));
        }
        let idle = match lookup(IDLE_VAR) {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(m) if (1..=60).contains(&m) => Some(m * 60),
                _ => {
                    problems.push(format!(
                        "{IDLE_VAR}=`{v}` is not a number of minutes from 1 to 60"
                    ));
                    None
                }
            },
        };
        let dicomweb = match lookup(DICOMWEB_RATE_VAR) {
            None => None,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => {
                    problems.push(format!(
                        "{DICOMWEB_RATE_VAR}=`{v}` is not a number of requests per minute from 1 to 1000000"
                    ));
                    None
                }
            },
        };
        let mut config = match (base, network) {
            (Some(b), Some(n)) => match Self::new(&b, &n) {
                Ok(c) => Some(c),
                Err(e) => {
                    problems.extend(e.problems);
                    None
                }
            },
            _ => None,
        };
        let cors: Vec<String> = lookup(CORS_VAR)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors {
            if host_of(origin).is_none() || origin == "*" {
                problems.push(format!(
                    "{CORS_VAR}: `{origin}` is not an origin; list origins like https://app.example.org"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let mut c = config.take().expect("no problems means both were read");
        if let Some(home) = lookup(HOME_DOMAIN_VAR) {
            c.home_domain = home;
        }
        if let Some(idle) = idle {
            c.lifetimes.idle = idle;
        }
        if let Some(n) = dicomweb {
            c.limits.dicomweb_per_minute = n;
        }
        c.cors_origins = cors;
        Ok(c)
    }

    /// The SEP-10 endpoint (`WEB_AUTH_ENDPOINT`).
    pub fn web_auth_endpoint(&self) -> String {
        format!("{}/auth", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let err = ApiConfig::from_lookup(|_| None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(BASE_URL_VAR), "{text}");
        assert!(text.contains(NETWORK_VAR), "{text}");
    }

    #[test]
    fn the_home_domain_defaults_to_the_base_urls_host() {
        let c = ApiConfig::from_lookup(|k| match k {
            BASE_URL_VAR => Some("https://api.example.org/".into()),
            NETWORK_VAR => Some("Test SDF Network ; September 2015".into()),
            CORS_VAR => Some("https://app.example.org, https://admin.example.org".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.home_domain, "api.example.org");
        assert_eq!(c.web_auth_endpoint(), "https://api.example.org/auth");
        assert_eq!(c.cors_origins.len(), 2);
    }

    #[test]
    fn a_bad_idle_timeout_and_origin_are_both_reported() {
        let err = ApiConfig::from_lookup(|k| match k {
            BASE_URL_VAR => Some("https://api.example.org".into()),
            NETWORK_VAR => Some("n".into()),
            CORS_VAR => Some("*".into()),
            IDLE_VAR => Some("600".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
    }

    #[test]
    fn the_dicomweb_budget_is_read_and_checked() {
        let read = |v: &'static str| {
            ApiConfig::from_lookup(move |k| match k {
                BASE_URL_VAR => Some("https://api.example.org".into()),
                NETWORK_VAR => Some("n".into()),
                DICOMWEB_RATE_VAR => Some(v.into()),
                _ => None,
            })
        };
        assert_eq!(read("1200").unwrap().limits.dicomweb_per_minute, 1200);
        let err = read("0").unwrap_err().to_string();
        assert!(err.contains(DICOMWEB_RATE_VAR), "{err}");
        assert_eq!(Limits::default().dicomweb_per_minute, 6000);
    }
}
