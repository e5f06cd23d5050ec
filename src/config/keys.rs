//! The table of configuration keys: file name, environment name, parser.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{Config, LogFormat};

/// One configuration key.
pub struct Key {
    pub file: &'static str,
    pub env: &'static str,
    pub help: &'static str,
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

fn duration(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw)
        .map_err(|e| format!("not a duration ({e}); try 30m, 12h, 5s"))?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

fn duration_or_zero(raw: &str) -> Result<Duration, String> {
    if raw.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(raw).map_err(|e| format!("not a duration ({e}); try 0, 24h, 7d"))
}

pub(super) fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be true or false".into()),
    }
}

fn bytes(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => raw.split_at(i),
        None => (raw, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a size such as 1048576, 512KiB or 10MiB".to_string())?;
    let mult = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        other => return Err(format!("unknown unit {other:?}; use B, KiB, MiB or GiB")),
    };
    match n.checked_mul(mult) {
        Some(0) | None => Err("must be between 1 byte and 2^64".into()),
        Some(v) => Ok(v),
    }
}

fn count(raw: &str) -> Result<u32, String> {
    match raw.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number greater than zero".into()),
    }
}

pub(super) fn non_empty(raw: &str) -> Result<&str, String> {
    if raw.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(raw)
    }
}

/// Every key: these and the transport keys.
pub fn all() -> impl Iterator<Item = &'static Key> {
    KEYS.iter().chain(super::transport::TRANSPORT_KEYS.iter())
}

static KEYS: &[Key] = &[
    Key {
        file: "listen",
        env: "STAFFGATE_LISTEN",
        help: "address and port to listen on (default 127.0.0.1:8080)",
        set: |c, v| {
            c.listen = v
                .parse()
                .map_err(|_| format!("not an address:port: {v:?}"))?;
            Ok(())
        },
    },
    Key {
        file: "data_dir",
        env: "STAFFGATE_DATA_DIR",
        help: "directory for the SQLite database, master key and bootstrap key (default ./staffgate-data)",
        set: |c, v| {
            c.data_dir = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Key {
        file: "database_url",
        env: "STAFFGATE_DATABASE_URL",
        help: "postgres://… to use PostgreSQL instead of the embedded SQLite file",
        set: |c, v| {
            if !(v.starts_with("postgres://")
                || v.starts_with("postgresql://")
                || v.starts_with("sqlite:"))
            {
                return Err("must start with postgres://, postgresql:// or sqlite:".into());
            }
            c.database_url = Some(SecretString::from(v.to_owned()));
            Ok(())
        },
    },
    Key {
        file: "policies",
        env: "STAFFGATE_POLICIES",
        help: "directory with Cedar policies and schema (default ./policies)",
        set: |c, v| {
            c.policies = PathBuf::from(non_empty(v)?);
            Ok(())
        },
    },
    Key {
        file: "master_key_file",
        env: "STAFFGATE_MASTER_KEY_FILE",
        help: "file with the 32-byte master key (default <data_dir>/master.key, created on first run)",
        set: |c, v| {
            c.master_key_file = Some(PathBuf::from(non_empty(v)?));
            Ok(())
        },
    },
    Key {
        file: "bootstrap_admin_key",
        env: "STAFFGATE_BOOTSTRAP_ADMIN_KEY",
        help: "admin API key to create on first start instead of generating one",
        set: |c, v| {
            if crate::domain::credential::parse(
                crate::domain::credential::CredentialKind::ApiKey,
                v,
            )
            .is_err()
            {
                return Err("must be an API key made by `staffgate key generate` (sgk_…)".into());
            }
            c.bootstrap_admin_key = Some(SecretString::from(v.to_owned()));
            Ok(())
        },
    },
    Key {
        file: "log_format",
        env: "STAFFGATE_LOG_FORMAT",
        help: "text or json",
        set: |c, v| {
            c.log_format = match v {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err("must be text or json".into()),
            };
            Ok(())
        },
    },
    Key {
        file: "tokens.default_ttl",
        env: "STAFFGATE_TOKENS_DEFAULT_TTL",
        help: "lifetime of a brokered token when none is asked for (default 30m)",
        set: |c, v| {
            c.tokens.default_ttl = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "tokens.max_ttl",
        env: "STAFFGATE_TOKENS_MAX_TTL",
        help: "longest lifetime a brokered token may have (default 12h)",
        set: |c, v| {
            c.tokens.max_ttl = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "broker.listen",
        env: "STAFFGATE_BROKER_LISTEN",
        help: "address:port serving only the broker, as an origin of its own (the production layout); unset, the broker is on listen",
        set: |c, v| {
            c.broker.listen = Some(
                v.parse()
                    .map_err(|_| format!("not an address:port: {v:?}"))?,
            );
            Ok(())
        },
    },
    Key {
        file: "broker.public_url",
        env: "STAFFGATE_BROKER_PUBLIC_URL",
        help: "the broker's address as operators' tools reach it, for the snippets shown with a new token (default: mail.public_url, or http://<broker.listen>)",
        set: |c, v| {
            let url = v.trim().trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err("must be an http:// or https:// URL".into());
            }
            c.broker.public_url = Some(url.to_owned());
            Ok(())
        },
    },
    Key {
        file: "server.header_read_timeout",
        env: "STAFFGATE_SERVER_HEADER_READ_TIMEOUT",
        help: "longest a client may take to send a whole request head, from its first byte (default 10s)",
        set: |c, v| {
            c.server.header_read_timeout = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "server.idle_timeout",
        env: "STAFFGATE_SERVER_IDLE_TIMEOUT",
        help: "longest a kept-alive connection may sit with no request (default 60s)",
        set: |c, v| {
            c.server.idle_timeout = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "server.request_timeout",
        env: "STAFFGATE_SERVER_REQUEST_TIMEOUT",
        help: "longest from a request's head to its answer's head (default 60s)",
        set: |c, v| {
            c.server.request_timeout = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "server.max_connections",
        env: "STAFFGATE_SERVER_MAX_CONNECTIONS",
        help: "client connections each listener holds at once; one more is closed (default 1024)",
        set: |c, v| {
            c.server.max_connections = match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => return Err("must be a whole number above 0".into()),
            };
            Ok(())
        },
    },
    Key {
        file: "broker.max_request_bytes",
        env: "STAFFGATE_BROKER_MAX_REQUEST_BYTES",
        help: "largest request body forwarded (default 10MiB)",
        set: |c, v| {
            c.broker.max_request_bytes = bytes(v)?;
            Ok(())
        },
    },
    Key {
        file: "broker.max_response_bytes",
        env: "STAFFGATE_BROKER_MAX_RESPONSE_BYTES",
        help: "largest response body streamed back (default 64MiB)",
        set: |c, v| {
            c.broker.max_response_bytes = bytes(v)?;
            Ok(())
        },
    },
    Key {
        file: "broker.max_header_bytes",
        env: "STAFFGATE_BROKER_MAX_HEADER_BYTES",
        help: "largest total size of request headers (default 16KiB)",
        set: |c, v| {
            c.broker.max_header_bytes =
                usize::try_from(bytes(v)?).map_err(|_| "too large".to_string())?;
            Ok(())
        },
    },
    Key {
        file: "broker.upstream_timeout",
        env: "STAFFGATE_BROKER_UPSTREAM_TIMEOUT",
        help: "longest wait for an upstream's response headers, and between body chunks (default 30s)",
        set: |c, v| {
            c.broker.upstream_timeout = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "activity.flush_interval",
        env: "STAFFGATE_ACTIVITY_FLUSH_INTERVAL",
        help: "how often per-call activity is written in one batch (default 1s)",
        set: |c, v| {
            c.activity_flush = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.session_ttl",
        env: "STAFFGATE_SIGNIN_SESSION_TTL",
        help: "how long a sign-in session lasts (default 12h)",
        set: |c, v| {
            c.signin.session_ttl = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.max_failures_per_account",
        env: "STAFFGATE_SIGNIN_MAX_FAILURES_PER_ACCOUNT",
        help: "failed sign-ins allowed per account within signin.window (default 5)",
        set: |c, v| {
            c.signin.max_failures_per_account = count(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.max_failures_per_address",
        env: "STAFFGATE_SIGNIN_MAX_FAILURES_PER_ADDRESS",
        help: "failed sign-ins allowed per client address within signin.window (default 20)",
        set: |c, v| {
            c.signin.max_failures_per_address = count(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.oidc_pending_limit",
        env: "STAFFGATE_SIGNIN_OIDC_PENDING_LIMIT",
        help: "provider sign-ins started and not yet back, per source, within 10 minutes (default 10000)",
        set: |c, v| {
            c.signin.oidc_pending_limit = count(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.window",
        env: "STAFFGATE_SIGNIN_WINDOW",
        help: "the window failed sign-ins are counted in (default 15m)",
        set: |c, v| {
            c.signin.window = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.idle_timeout",
        env: "STAFFGATE_SIGNIN_IDLE_TIMEOUT",
        help: "a sign-in session unused this long ends (default 30m)",
        set: |c, v| {
            c.signin.idle_timeout = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "signin.plain_http",
        env: "STAFFGATE_SIGNIN_PLAIN_HTTP",
        help: "session cookies without Secure, for plain HTTP on a loopback address (default false)",
        set: |c, v| {
            c.signin.plain_http = boolean(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.require_totp",
        env: "STAFFGATE_REQUIRE_TOTP",
        help: "tokens need TOTP enrolled and verified in the session (default true)",
        set: |c, v| {
            c.compliance.require_totp = boolean(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.require_nda",
        env: "STAFFGATE_REQUIRE_NDA",
        help: "tokens need the current NDA acknowledged (default true)",
        set: |c, v| {
            c.compliance.require_nda = boolean(v)?;
            Ok(())
        },
    },
    Key {
        file: "console.admin",
        env: "STAFFGATE_CONSOLE_ADMIN",
        help: "directory groups whose members are console admins (comma-separated; in the file, a list)",
        set: |c, v| {
            c.console.admin = super::console::parse_list(v)?;
            Ok(())
        },
    },
    Key {
        file: "console.hr",
        env: "STAFFGATE_CONSOLE_HR",
        help: "directory groups whose members are HR in the console: offboard, schedule, reinstate",
        set: |c, v| {
            c.console.hr = super::console::parse_list(v)?;
            Ok(())
        },
    },
    Key {
        file: "console.auditor",
        env: "STAFFGATE_CONSOLE_AUDITOR",
        help: "directory groups whose members are console auditors: read everything, change nothing",
        set: |c, v| {
            c.console.auditor = super::console::parse_list(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.nda_grace",
        env: "STAFFGATE_NDA_GRACE",
        help: "how long existing tokens keep working after a new NDA version takes effect (default 0)",
        set: |c, v| {
            c.compliance.nda_grace = duration_or_zero(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.totp_max_failures",
        env: "STAFFGATE_TOTP_MAX_FAILURES",
        help: "wrong TOTP codes before the second factor locks (default 5)",
        set: |c, v| {
            c.compliance.totp_max_failures = count(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.totp_window",
        env: "STAFFGATE_TOTP_WINDOW",
        help: "the window wrong TOTP codes are counted in, and the lockout lasts (default 15m)",
        set: |c, v| {
            c.compliance.totp_window = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "compliance.totp_issuer",
        env: "STAFFGATE_TOTP_ISSUER",
        help: "the name authenticator apps show for staffgate (default staffgate)",
        set: |c, v| {
            let v = non_empty(v)?;
            if v.contains(':') || v.chars().count() > 64 {
                return Err("at most 64 characters, no ':'".into());
            }
            c.compliance.totp_issuer = v.to_owned();
            Ok(())
        },
    },
    Key {
        file: "replica.max_staleness",
        env: "STAFFGATE_REPLICA_MAX_STALENESS",
        help: "how long without catching up with the change log before brokered calls get 503 (default 2s)",
        set: |c, v| {
            c.max_staleness = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "replica.recover_after",
        env: "STAFFGATE_REPLICA_RECOVER_AFTER",
        help: "how long a replica that went stale must stay caught up with the change log before it serves again (default 1s)",
        set: |c, v| {
            c.recover_after = duration(v)?;
            Ok(())
        },
    },
    Key {
        file: "replica.lease_ttl",
        env: "STAFFGATE_REPLICA_LEASE_TTL",
        help: "PostgreSQL: how long a job's lease outlives its holder's last renewal, i.e. the longest a dead replica's jobs wait for another (default 5s)",
        set: |c, v| {
            let d = duration(v)?;
            if d < Duration::from_millis(300) || d > Duration::from_secs(300) {
                return Err("between 300ms and 5m".into());
            }
            c.lease_ttl = d;
            Ok(())
        },
    },
    Key {
        file: "replica.name",
        env: "STAFFGATE_REPLICA_NAME",
        help: "this replica's name on receipts and in `staffgate status` (default host:port)",
        set: |c, v| {
            let v = non_empty(v)?;
            if v.chars().count() > 64 || v.chars().any(char::is_control) {
                return Err("at most 64 printable characters".into());
            }
            c.replica_name = Some(v.to_owned());
            Ok(())
        },
    },
];
