//! Configuration: defaults, then a TOML file, then `STAFFGATE_*` environment variables.
//! Every unknown key and bad value is collected, so an operator fixes them all in one go.

pub mod console;
mod keys;
pub mod ldap;
pub mod oidc;
pub mod scim;
pub mod scim_pull;
mod sources;
mod transport;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

pub use keys::all as keys;
pub use transport::{MailConfig, SmtpSecurity, TlsConfig};

use ldap::LdapSource;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything `staffgate serve` needs; read once, handed down.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `None` means the embedded SQLite file in the data directory.
    pub database_url: Option<SecretString>,
    pub policies: PathBuf,
    pub master_key_file: Option<PathBuf>,
    pub bootstrap_admin_key: Option<SecretString>,
    pub log_format: LogFormat,
    pub tokens: TokenConfig,
    pub broker: BrokerConfig,
    pub activity_flush: Duration,
    /// Directory sources, from `[ldap.<name>]` tables in the file.
    pub ldap: Vec<LdapSource>,
    /// Identity providers, from `[oidc.<name>]` tables in the file.
    pub oidc: Vec<oidc::OidcSource>,
    /// SCIM 2.0 push sources (`[scim.<name>]`).
    pub scim: Vec<scim::ScimSource>,
    /// SCIM 2.0 pull sources (`[scim_pull.<name>]`).
    pub scim_pull: Vec<scim_pull::ScimPullSource>,
    /// Directory groups that give the browser console's roles (`[console]`).
    pub console: console::ConsoleRoles,
    pub signin: SigninConfig,
    pub compliance: ComplianceConfig,
    /// How long a replica may go without showing it applied the change log before it
    /// refuses brokered calls.
    pub max_staleness: Duration,
    /// This replica's name; host:port when unset.
    pub replica_name: Option<String>,
    /// How long a replica that went stale must stay caught up before it serves again.
    pub recover_after: Duration,
    /// How long a job's lease lives in PostgreSQL without renewal (renewed at 30 %).
    pub lease_ttl: Duration,
    pub mail: MailConfig,
    pub tls: TlsConfig,
    pub server: ServerLimits,
}

/// What one client connection may take: time before its request arrives, time idle between
/// requests, time for an answer, and how many connections each listener holds at once.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// From the connection's first byte (or its opening, for its first request) to a whole
    /// request head.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight and nothing sent.
    pub idle_timeout: Duration,
    /// From a whole request head to the answer's head (a brokered body may stream longer).
    pub request_timeout: Duration,
    /// Connections held at once per listener; one more is closed at once.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// What first login requires, and how strictly.
#[derive(Debug, Clone)]
pub struct ComplianceConfig {
    pub require_totp: bool,
    pub require_nda: bool,
    /// How long existing tokens keep working after a new NDA version that needs
    /// re-acknowledgement takes effect (0: at once).
    pub nda_grace: Duration,
    /// Wrong TOTP codes allowed within `totp_window` before the second factor locks.
    pub totp_max_failures: u32,
    pub totp_window: Duration,
    /// The name authenticator apps show.
    pub totp_issuer: String,
}

/// Sign-in sessions and failed-attempt limits.
#[derive(Debug, Clone)]
pub struct SigninConfig {
    pub session_ttl: Duration,
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// Cookies without `Secure`, for plain HTTP on a loopback address only.
    pub plain_http: bool,
    /// Failed sign-ins allowed per account, and per client address, within `window`.
    pub max_failures_per_account: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
    /// Provider sign-ins started and not yet back, per source: past it, new ones wait.
    pub oidc_pending_limit: u32,
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub default_ttl: Duration,
    pub max_ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The broker's own listener (its own origin); unset, the broker is served on `listen`.
    pub listen: Option<SocketAddr>,
    /// Where operators' tools reach the broker (for the snippets shown with a new token).
    pub public_url: Option<String>,
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    pub max_header_bytes: usize,
    pub upstream_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./staffgate-data"),
            database_url: None,
            policies: PathBuf::from("./policies"),
            master_key_file: None,
            bootstrap_admin_key: None,
            log_format: LogFormat::Text,
            tokens: TokenConfig {
                default_ttl: Duration::from_secs(30 * 60),
                max_ttl: Duration::from_secs(12 * 60 * 60),
            },
            broker: BrokerConfig {
                listen: None,
                public_url: None,
                max_request_bytes: 10 * 1024 * 1024,
                max_response_bytes: 64 * 1024 * 1024,
                max_header_bytes: 16 * 1024,
                upstream_timeout: Duration::from_secs(30),
            },
            activity_flush: Duration::from_secs(1),
            ldap: Vec::new(),
            oidc: Vec::new(),
            scim: Vec::new(),
            scim_pull: Vec::new(),
            console: console::ConsoleRoles::default(),
            signin: SigninConfig {
                session_ttl: Duration::from_secs(12 * 60 * 60),
                idle_timeout: Duration::from_secs(30 * 60),
                plain_http: false,
                max_failures_per_account: 5,
                max_failures_per_address: 20,
                oidc_pending_limit: 10_000,
                window: Duration::from_secs(15 * 60),
            },
            max_staleness: Duration::from_secs(2),
            replica_name: None,
            lease_ttl: Duration::from_secs(5),
            recover_after: Duration::from_secs(1),
            mail: MailConfig::default(),
            tls: TlsConfig::default(),
            server: ServerLimits::default(),
            compliance: ComplianceConfig {
                require_totp: true,
                require_nda: true,
                nda_grace: Duration::ZERO,
                totp_max_failures: 5,
                totp_window: Duration::from_secs(15 * 60),
                totp_issuer: "staffgate".into(),
            },
        }
    }
}

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// `listen` in the file, `STAFFGATE_LISTEN` in the environment.
    pub key: String,
    pub message: String,
}

/// All the problems found, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration has {} problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {}: {}", p.key, p.message)?;
        }
        Ok(())
    }
}

/// Environment variables the CLI reads; the daemon ignores them rather than calling them unknown.
const CLIENT_ENV: &[&str] = &["STAFFGATE_URL", "STAFFGATE_ADMIN_KEY", "STAFFGATE_LOG"];

impl Config {
    /// The broker's base URL as operators' tools reach it: `broker.public_url`; else the
    /// broker's own bound listener; else `mail.public_url` when it was set; else the main
    /// bound listener (https when staffgate terminates TLS itself).
    pub fn broker_url(
        &self,
        main: Option<SocketAddr>,
        broker: Option<SocketAddr>,
        tls: bool,
    ) -> String {
        let scheme = if tls { "https" } else { "http" };
        let default_public = transport::MailConfig::default().public_url;
        match (&self.broker.public_url, broker, main) {
            (Some(url), _, _) => url.clone(),
            (None, Some(addr), _) => format!("{scheme}://{addr}"),
            (None, None, _) if self.mail.public_url != default_public => {
                self.mail.public_url.clone()
            }
            (None, None, Some(addr)) => format!("{scheme}://{addr}"),
            (None, None, None) => self.mail.public_url.clone(),
        }
    }

    /// Loads defaults, then `file` if given, then `env` (pairs of name and value).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut problems = Vec::new();
        if let Some(path) = file {
            match std::fs::read_to_string(path) {
                Ok(text) => apply_toml(&mut config, &text, &mut problems),
                Err(e) => problems.push(ConfigProblem {
                    key: "--config".into(),
                    message: format!("cannot read {}: {e}", path.display()),
                }),
            }
        }
        for (name, value) in env {
            if !name.starts_with("STAFFGATE_") || CLIENT_ENV.contains(&name.as_str()) {
                continue;
            }
            match keys::all().find(|k| k.env == name) {
                Some(key) => {
                    if let Err(message) = (key.set)(&mut config, &value) {
                        problems.push(ConfigProblem { key: name, message });
                    }
                }
                None => problems.push(ConfigProblem {
                    key: name,
                    message: "unknown environment variable".into(),
                }),
            }
        }
        if config.tls.cert_file.is_some() != config.tls.key_file.is_some() {
            problems.push(ConfigProblem {
                key: "tls.cert_file".into(),
                message: "tls.cert_file and tls.key_file go together".into(),
            });
        }
        if config.tls.cert_file.is_none()
            && !config.tls.behind_proxy
            && !config.listen.ip().is_loopback()
        {
            problems.push(ConfigProblem {
                key: "listen".into(),
                message: "a non-loopback address needs tls.cert_file and tls.key_file, or tls.behind_proxy = true when a TLS proxy is in front".into(),
            });
        }
        if config.signin.plain_http && !config.listen.ip().is_loopback() {
            problems.push(ConfigProblem {
                key: "signin.plain_http".into(),
                message: "only for a loopback listen address; put TLS in front otherwise".into(),
            });
        }
        if config.tokens.default_ttl > config.tokens.max_ttl {
            problems.push(ConfigProblem {
                key: "tokens.default_ttl".into(),
                message: "must not exceed tokens.max_ttl".into(),
            });
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Where the master key lives.
    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

fn apply_toml(config: &mut Config, text: &str, problems: &mut Vec<ConfigProblem>) {
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.push(ConfigProblem {
                key: "--config".into(),
                message: format!("not valid TOML: {}", e.message()),
            });
            return;
        }
    };
    if let Some(ldap) = table.remove("ldap") {
        match ldap::parse_sources(&ldap) {
            Ok(sources) => config.ldap = sources,
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(key, message)| ConfigProblem { key, message }),
            ),
        }
    }
    if let Some(oidc) = table.remove("oidc") {
        match oidc::parse_sources(&oidc) {
            Ok(sources) => config.oidc = sources,
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(key, message)| ConfigProblem { key, message }),
            ),
        }
    }
    if let Some(scim) = table.remove("scim") {
        match scim::parse_sources(&scim) {
            Ok(sources) => config.scim = sources,
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(key, message)| ConfigProblem { key, message }),
            ),
        }
    }
    if let Some(roles) = table.remove("console") {
        match console::parse(&roles) {
            Ok(roles) => config.console = roles,
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(key, message)| ConfigProblem { key, message }),
            ),
        }
    }
    if let Some(pull) = table.remove("scim_pull") {
        match scim_pull::parse_sources(&pull) {
            Ok(sources) => config.scim_pull = sources,
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(key, message)| ConfigProblem { key, message }),
            ),
        }
    }
    for pull in &config.scim_pull {
        if let Some(push) = &pull.push
            && !config.scim.iter().any(|s| &s.name == push)
        {
            problems.push(ConfigProblem {
                key: format!("scim_pull.{}.push", pull.name),
                message: format!("no [scim.{push}] source is configured"),
            });
        }
    }
    // Held plans, guard windows and sync status are kept by source name.
    let mut names = std::collections::HashSet::new();
    let all = (config.ldap.iter().map(|s| ("ldap", s.name.as_str())))
        .chain(config.oidc.iter().map(|s| ("oidc", s.name.as_str())))
        .chain(config.scim.iter().map(|s| ("scim", s.name.as_str())))
        .chain(
            config
                .scim_pull
                .iter()
                .map(|s| ("scim_pull", s.name.as_str())),
        );
    for (kind, name) in all {
        if !names.insert(name) {
            problems.push(ConfigProblem {
                key: format!("{kind}.{name}"),
                message: "another source has this name; every source needs its own".into(),
            });
        }
    }
    let mut flat = Vec::new();
    flatten("", &table, &mut flat);
    for (name, value) in flat {
        let Some(key) = keys::all().find(|k| k.file == name) else {
            problems.push(ConfigProblem {
                key: name,
                message: "unknown key".into(),
            });
            continue;
        };
        let text = match &value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                problems.push(ConfigProblem {
                    key: name,
                    message: format!("expected a string or number, found {}", other.type_str()),
                });
                continue;
            }
        };
        if let Err(message) = (key.set)(config, &text) {
            problems.push(ConfigProblem { key: name, message });
        }
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&name, t, out),
            other => out.push((name, other.clone())),
        }
    }
}

#[cfg(test)]
mod tests;
