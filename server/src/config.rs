//! Configuration, in one place: built-in defaults, then an optional TOML file, then
//! environment variables (which win). Nothing else in the server reads the environment.
//!
//! | variable | file key | default | meaning |
//! |---|---|---|---|
//! | `IDP_CONFIG` | | none | path of a TOML file with any of the keys below |
//! | `IDP_DATA_DIR` | `data_dir` | `./data` | data folder: the SQLite database, mail files |
//! | `IDP_ADDR` | `addr` | `127.0.0.1:3000` | listen address (`host:port`; port 0 picks one) |
//! | `IDP_PUBLIC_URL` | `public_url` | `http://<listen address>` | external base URL: issuer and links |
//! | `IDP_DATABASE_URL` | `database_url` | SQLite in the data folder | e.g. `postgres://user:pw@host/db` |
//! | `IDP_ADMIN_PASSWORD` | `admin_password` | generated, printed once | password of `admin` at first start |
//! | `IDP_SMTP_URL` | `smtp_url` | none: mail goes to files | e.g. `smtp://user:pw@host:587?tls=required` |
//! | `IDP_SITE_DIR` | `site_dir` | `./site` | folder whose `pkg/` holds the built front end |
//! | `IDP_SESSION_LIFETIME_SECS` | `session_lifetime_secs` | `28800` | how long a sign-in lasts |
//! | `IDP_LOCKOUT_THRESHOLD` | `lockout_threshold` | `5` | failed sign-ins that lock an account |
//! | `IDP_LOCKOUT_DURATION_SECS` | `lockout_duration_secs` | `300` | first lock's length (doubles) |
//! | `IDP_LOCKOUT_MAX_SECS` | `lockout_max_secs` | `86400` | longest lock |
//! | `IDP_PASSWORD_CHECKS` | `password_checks` | 2 × cores | password verifications at once |
//! | `IDP_REFRESH_FAMILY_LIFETIME_SECS` | `refresh_family_lifetime_secs` | `2592000` | a sign-in's refresh tokens end |
//! | `IDP_MAIL_FROM` | `mail_from` | `Identity Server <no-reply@localhost>` | sender of mail |
//! | `IDP_MAIL_RETRY_SECS` | `mail_retry_secs` | `5` | first retry delay of unsent mail (doubles) |
//! | `IDP_DELIVERY_RETRY_SECS` | `delivery_retry_secs` | `5` | first retry delay of an event delivery (doubles, at most 1 h, for a day) |
//! | `IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK` | `webhook_allow_http_loopback` | `false` | receivers at `http://127.0.0.1…`/`localhost` too |
//! | `IDP_WEBHOOK_ALLOW_PRIVATE_NETWORKS` | `webhook_allow_private_networks` | `false` | receivers at private addresses too |
//! | `IDP_METRICS_ADDR` | `metrics_addr` | none: off | where `GET /metrics` (Prometheus text format) listens, never the public port |
//! | `IDP_LOG_FORMAT` | `log_format` | `text` | `text` or `json` log lines |

use serde::Deserialize;
use std::{fmt, net::SocketAddr, path::PathBuf};

/// The variables, as listed by `server --help`.
pub const ENV_HELP: &str = "\
Configuration (environment variables win over the file given by IDP_CONFIG or --config):
  IDP_CONFIG                 TOML file with any of the keys below in lower case without IDP_
  IDP_DATA_DIR               data folder: SQLite database, mail files      [default: ./data]
  IDP_ADDR                   listen address host:port (port 0 picks one)    [default: 127.0.0.1:3000]
  IDP_PUBLIC_URL             external base URL, used for the issuer and links
                                                             [default: http://<listen address>]
  IDP_DATABASE_URL           database URL, e.g. postgres://user:pw@host/db
                                                   [default: SQLite file in the data folder]
  IDP_ADMIN_PASSWORD         password of the bootstrap administrator `admin` on first start
                                                   [default: generated and printed once]
  IDP_SMTP_URL               SMTP server, e.g. smtp://user:pw@host:587?tls=required
                                                   [default: none, mail is written as files]
  IDP_SITE_DIR               folder whose pkg/ holds the built front end    [default: ./site]
  IDP_SESSION_LIFETIME_SECS  how long a sign-in lasts, in seconds          [default: 28800]
  IDP_LOCKOUT_THRESHOLD      failed sign-ins in a row that lock an account  [default: 5]
  IDP_LOCKOUT_DURATION_SECS  how long the first lock lasts; each further lock doubles it
                                                                             [default: 300]
  IDP_LOCKOUT_MAX_SECS       the longest a lock lasts                      [default: 86400]
  IDP_PASSWORD_CHECKS        password verifications at once (more wait in a short queue,
                             beyond it 503)                        [default: 2 x cores]
  IDP_REFRESH_FAMILY_LIFETIME_SECS  no refresh token outlives its sign-in by more than this
                                                                         [default: 2592000]
  IDP_MAIL_FROM              sender of mail      [default: Identity Server <no-reply@localhost>]
  IDP_MAIL_RETRY_SECS        first retry delay of unsent mail, doubling    [default: 5]
  IDP_DELIVERY_RETRY_SECS    first retry delay of an event delivery (webhooks, Shared
                             Signals, back-channel logout), doubling up to 1 h, for a day
                                                                             [default: 5]
  IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK     event receivers at http://127.0.0.1, [::1] or
                             localhost too (tests, local receivers)     [default: false]
  IDP_WEBHOOK_ALLOW_PRIVATE_NETWORKS  event receivers at private, link-local or other
                             non-public addresses too                   [default: false]
  IDP_METRICS_ADDR           where GET /metrics (Prometheus text format) listens, e.g.
                             127.0.0.1:9464; never on the public port      [default: off]
  IDP_LOG_FORMAT             text or json                                   [default: text]
  RUST_LOG                   log filter, e.g. info,server=debug              [default: info]";

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The server's configuration, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    /// Data folder: the embedded database and mail files live here.
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 lets the system pick a free port.
    pub addr: SocketAddr,
    /// External base URL without trailing slash; `None` means `http://<bound address>`.
    pub public_url: Option<String>,
    /// Database URL; `None` means the SQLite file `idp.sqlite` in the data folder.
    pub database_url: Option<Secret>,
    /// Password of the bootstrap administrator when it is created.
    pub admin_password: Option<Secret>,
    /// SMTP server; `None` writes mail as files under the data folder.
    pub smtp_url: Option<Secret>,
    /// Folder whose `pkg/` holds the Trunk output served at `/pkg`.
    pub site_dir: PathBuf,
    /// How long a sign-in lasts, in seconds.
    pub session_lifetime_secs: i64,
    /// Failed sign-ins in a row that lock an account.
    pub lockout_threshold: i32,
    /// How long the first lock after a failed-password streak lasts; each further one doubles.
    pub lockout_duration_secs: i64,
    /// The longest lock.
    pub lockout_max_secs: i64,
    /// Password verifications (argon2) that run at once.
    pub password_checks: usize,
    /// Absolute lifetime of a refresh token family, from the sign-in it came from.
    pub refresh_family_lifetime_secs: i64,
    /// The sender of mail.
    pub mail_from: String,
    /// First retry delay of a mail that could not be sent; doubles each attempt.
    pub mail_retry_secs: i64,
    /// First retry delay of an event delivery; doubles each attempt.
    pub delivery_retry_secs: i64,
    /// Where events may be sent (webhooks, Shared Signals, back-channel logout).
    pub outbound: identity::events::webhooks::Outbound,
    /// Where `/metrics` listens (`None`: no metrics endpoint).
    pub metrics_addr: Option<SocketAddr>,
    /// Log line format.
    pub log_format: LogFormat,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            database_url: None,
            admin_password: None,
            smtp_url: None,
            site_dir: PathBuf::from("./site"),
            session_lifetime_secs: 8 * 3600,
            lockout_threshold: 5,
            lockout_duration_secs: 300,
            lockout_max_secs: 86_400,
            password_checks: 2 * std::thread::available_parallelism().map_or(2, |n| n.get()),
            refresh_family_lifetime_secs: 30 * 86_400,
            mail_from: "Identity Server <no-reply@localhost>".to_owned(),
            mail_retry_secs: 5,
            delivery_retry_secs: 5,
            outbound: identity::events::webhooks::Outbound::default(),
            metrics_addr: None,
            log_format: LogFormat::Text,
        }
    }
}

/// One layer of settings (the file, or the environment); unset keys keep the layer below.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    data_dir: Option<PathBuf>,
    addr: Option<SocketAddr>,
    public_url: Option<String>,
    database_url: Option<Secret>,
    admin_password: Option<Secret>,
    smtp_url: Option<Secret>,
    site_dir: Option<PathBuf>,
    session_lifetime_secs: Option<i64>,
    lockout_threshold: Option<i32>,
    lockout_duration_secs: Option<i64>,
    lockout_max_secs: Option<i64>,
    password_checks: Option<usize>,
    refresh_family_lifetime_secs: Option<i64>,
    mail_from: Option<String>,
    mail_retry_secs: Option<i64>,
    delivery_retry_secs: Option<i64>,
    webhook_allow_http_loopback: Option<bool>,
    webhook_allow_private_networks: Option<bool>,
    metrics_addr: Option<SocketAddr>,
    log_format: Option<LogFormat>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid value of {name}: {message}")]
    Variable { name: &'static str, message: String },
}

impl Config {
    /// Loads defaults, then `file` (or the file named by `IDP_CONFIG`), then the process
    /// environment.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::load_from(file, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], reading variables through `env` (tests pass a map).
    pub fn load_from(
        file: Option<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = file.or_else(|| env("IDP_CONFIG").map(PathBuf::from)) {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let layer: Layer = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.clone(),
                message: e.message().to_owned(),
            })?;
            config.apply(layer);
        }
        config.apply(env_layer(&env)?);
        config.public_url = config
            .public_url
            .map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &config.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Variable {
                name: "IDP_PUBLIC_URL",
                message: "must start with http:// or https://".into(),
            });
        }
        Ok(config)
    }

    fn apply(&mut self, layer: Layer) {
        let Layer {
            data_dir,
            addr,
            public_url,
            database_url,
            admin_password,
            smtp_url,
            site_dir,
            session_lifetime_secs,
            lockout_threshold,
            lockout_duration_secs,
            lockout_max_secs,
            password_checks,
            refresh_family_lifetime_secs,
            mail_from,
            mail_retry_secs,
            delivery_retry_secs,
            webhook_allow_http_loopback,
            webhook_allow_private_networks,
            metrics_addr,
            log_format,
        } = layer;
        if metrics_addr.is_some() {
            self.metrics_addr = metrics_addr;
        }
        if let Some(v) = delivery_retry_secs {
            self.delivery_retry_secs = v.max(1);
        }
        if let Some(v) = webhook_allow_http_loopback {
            self.outbound.allow_http_loopback = v;
        }
        if let Some(v) = webhook_allow_private_networks {
            self.outbound.allow_private_networks = v;
        }
        if let Some(v) = lockout_duration_secs {
            self.lockout_duration_secs = v;
        }
        if let Some(v) = lockout_max_secs {
            self.lockout_max_secs = v;
        }
        if let Some(v) = password_checks {
            self.password_checks = v.max(1);
        }
        if let Some(v) = refresh_family_lifetime_secs {
            self.refresh_family_lifetime_secs = v;
        }
        if let Some(v) = data_dir {
            self.data_dir = v;
        }
        if let Some(v) = addr {
            self.addr = v;
        }
        if public_url.is_some() {
            self.public_url = public_url;
        }
        if database_url.is_some() {
            self.database_url = database_url;
        }
        if admin_password.is_some() {
            self.admin_password = admin_password;
        }
        if smtp_url.is_some() {
            self.smtp_url = smtp_url;
        }
        if let Some(v) = site_dir {
            self.site_dir = v;
        }
        if let Some(v) = session_lifetime_secs {
            self.session_lifetime_secs = v;
        }
        if let Some(v) = lockout_threshold {
            self.lockout_threshold = v;
        }
        if let Some(v) = mail_from {
            self.mail_from = v;
        }
        if let Some(v) = mail_retry_secs {
            self.mail_retry_secs = v;
        }
        if let Some(v) = log_format {
            self.log_format = v;
        }
    }

    /// How failed-password streaks lock password sign-in.
    pub fn lockout(&self) -> identity::users::Lockout {
        identity::users::Lockout {
            threshold: self.lockout_threshold,
            duration_secs: self.lockout_duration_secs,
            max_secs: self.lockout_max_secs,
        }
    }

    /// The database URL in effect: the configured one, or SQLite in the data folder.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("idp.sqlite").display()
            ),
        }
    }
}

fn env_layer(env: &impl Fn(&str) -> Option<String>) -> Result<Layer, ConfigError> {
    let get = |name: &str| env(name).filter(|v| !v.is_empty());
    fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        value.parse().map_err(|e: T::Err| ConfigError::Variable {
            name,
            message: e.to_string(),
        })
    }
    Ok(Layer {
        data_dir: get("IDP_DATA_DIR").map(PathBuf::from),
        addr: get("IDP_ADDR").map(|v| parse("IDP_ADDR", v)).transpose()?,
        public_url: get("IDP_PUBLIC_URL"),
        database_url: get("IDP_DATABASE_URL").map(Secret::new),
        admin_password: get("IDP_ADMIN_PASSWORD").map(Secret::new),
        smtp_url: get("IDP_SMTP_URL").map(Secret::new),
        site_dir: get("IDP_SITE_DIR").map(PathBuf::from),
        session_lifetime_secs: get("IDP_SESSION_LIFETIME_SECS")
            .map(|v| parse("IDP_SESSION_LIFETIME_SECS", v))
            .transpose()?,
        mail_from: get("IDP_MAIL_FROM"),
        mail_retry_secs: get("IDP_MAIL_RETRY_SECS")
            .map(|v| parse("IDP_MAIL_RETRY_SECS", v))
            .transpose()?,
        delivery_retry_secs: get("IDP_DELIVERY_RETRY_SECS")
            .map(|v| parse("IDP_DELIVERY_RETRY_SECS", v))
            .transpose()?,
        webhook_allow_http_loopback: get("IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK")
            .map(|v| parse("IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK", v))
            .transpose()?,
        webhook_allow_private_networks: get("IDP_WEBHOOK_ALLOW_PRIVATE_NETWORKS")
            .map(|v| parse("IDP_WEBHOOK_ALLOW_PRIVATE_NETWORKS", v))
            .transpose()?,
        metrics_addr: get("IDP_METRICS_ADDR")
            .map(|v| parse("IDP_METRICS_ADDR", v))
            .transpose()?,
        lockout_threshold: get("IDP_LOCKOUT_THRESHOLD")
            .map(|v| parse("IDP_LOCKOUT_THRESHOLD", v))
            .transpose()?,
        lockout_duration_secs: get("IDP_LOCKOUT_DURATION_SECS")
            .map(|v| parse("IDP_LOCKOUT_DURATION_SECS", v))
            .transpose()?,
        lockout_max_secs: get("IDP_LOCKOUT_MAX_SECS")
            .map(|v| parse("IDP_LOCKOUT_MAX_SECS", v))
            .transpose()?,
        password_checks: get("IDP_PASSWORD_CHECKS")
            .map(|v| parse("IDP_PASSWORD_CHECKS", v))
            .transpose()?,
        refresh_family_lifetime_secs: get("IDP_REFRESH_FAMILY_LIFETIME_SECS")
            .map(|v| parse("IDP_REFRESH_FAMILY_LIFETIME_SECS", v))
            .transpose()?,
        log_format: get("IDP_LOG_FORMAT")
            .map(|v| match v.as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(ConfigError::Variable {
                    name: "IDP_LOG_FORMAT",
                    message: "use text or json".into(),
                }),
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.database_url(), "sqlite://./data/idp.sqlite?mode=rwc");
        assert!(config.public_url.is_none());
    }

    #[test]
    fn the_environment_wins_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idp.toml");
        std::fs::write(
            &file,
            "addr = \"0.0.0.0:8080\"\ndata_dir = \"/var/lib/idp\"\npublic_url = \"https://file.example/\"\n",
        )
        .unwrap();
        let config = Config::load_from(
            Some(file),
            env(&[("IDP_PUBLIC_URL", "https://env.example/")]),
        )
        .unwrap();
        assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/idp"));
        assert_eq!(config.public_url.as_deref(), Some("https://env.example"));
    }

    #[test]
    fn an_unknown_file_key_is_an_error_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idp.toml");
        std::fs::write(&file, "adress = \"0.0.0.0:1\"\n").unwrap();
        let error = Config::load_from(Some(file), env(&[])).unwrap_err();
        assert!(error.to_string().contains("adress"), "{error}");
    }

    #[test]
    fn a_bad_variable_names_itself() {
        let error = Config::load_from(None, env(&[("IDP_ADDR", "nowhere")])).unwrap_err();
        assert!(error.to_string().contains("IDP_ADDR"), "{error}");
    }

    #[test]
    fn secrets_never_print() {
        let config =
            Config::load_from(None, env(&[("IDP_ADMIN_PASSWORD", "hunter2-secret")])).unwrap();
        assert!(!format!("{config:?}").contains("hunter2-secret"));
        assert_eq!(config.admin_password.unwrap().expose(), "hunter2-secret");
    }
}
