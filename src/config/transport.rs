//! Configuration of what leaves the daemon or reaches it encrypted: the SMTP relay and the
//! listener's TLS.

use std::path::PathBuf;

use secrecy::SecretString;

use super::keys::{Key, boolean, non_empty};

/// How to reach the SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No encryption (a relay on the same host or a trusted network only).
    Plain,
    /// Upgrade with STARTTLS, and refuse a relay that does not offer it.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// Mail through the company's relay; off while `host` is unset.
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    /// A CA bundle to verify the relay with, instead of the system roots.
    pub ca_file: Option<PathBuf>,
    pub from: String,
    /// Offboarding receipts go to HR and security; guard alerts to admins.
    pub hr: Vec<String>,
    pub security_contacts: Vec<String>,
    pub admins: Vec<String>,
    /// The address staff open staffgate at, for links in mails.
    pub public_url: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            host: None,
            port: None,
            security: SmtpSecurity::StartTls,
            username: None,
            password: None,
            ca_file: None,
            from: "staffgate <staffgate@localhost>".into(),
            hr: Vec::new(),
            security_contacts: Vec::new(),
            admins: Vec::new(),
            public_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The listener's own TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM certificate chain and key; both or neither.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// A TLS-terminating proxy sits in front, so plain HTTP on a non-loopback address is fine.
    pub behind_proxy: bool,
}

fn addresses(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        part.parse::<lettre::Address>()
            .map_err(|e| format!("{part:?} is not an e-mail address ({e})"))?;
        out.push(part.to_owned());
    }
    Ok(out)
}

fn path(raw: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(non_empty(raw)?))
}

pub static TRANSPORT_KEYS: &[Key] = &[
    Key {
        file: "mail.host",
        env: "STAFFGATE_MAIL_HOST",
        help: "the SMTP relay's host name; mail is off while unset",
        set: |c, v| {
            c.mail.host = Some(non_empty(v)?.trim().to_owned());
            Ok(())
        },
    },
    Key {
        file: "mail.port",
        env: "STAFFGATE_MAIL_PORT",
        help: "the relay's port (default 25 plain, 587 starttls, 465 tls)",
        set: |c, v| {
            let p: u16 = v
                .trim()
                .parse()
                .map_err(|_| "not a port number".to_string())?;
            c.mail.port = Some(p);
            Ok(())
        },
    },
    Key {
        file: "mail.security",
        env: "STAFFGATE_MAIL_SECURITY",
        help: "plain, starttls (default) or tls",
        set: |c, v| {
            c.mail.security = match v.trim() {
                "plain" => SmtpSecurity::Plain,
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                _ => return Err("must be plain, starttls or tls".into()),
            };
            Ok(())
        },
    },
    Key {
        file: "mail.username",
        env: "STAFFGATE_MAIL_USERNAME",
        help: "user name for the relay, if it wants one",
        set: |c, v| {
            c.mail.username = Some(non_empty(v)?.to_owned());
            Ok(())
        },
    },
    Key {
        file: "mail.password",
        env: "STAFFGATE_MAIL_PASSWORD",
        help: "password for the relay (a secret; prefer mail.password_file)",
        set: |c, v| {
            c.mail.password = Some(SecretString::from(non_empty(v)?.to_owned()));
            Ok(())
        },
    },
    Key {
        file: "mail.password_file",
        env: "STAFFGATE_MAIL_PASSWORD_FILE",
        help: "file holding the relay's password",
        set: |c, v| {
            let text = std::fs::read_to_string(non_empty(v)?)
                .map_err(|e| format!("cannot read {v}: {e}"))?;
            c.mail.password = Some(SecretString::from(non_empty(text.trim_end())?.to_owned()));
            Ok(())
        },
    },
    Key {
        file: "mail.ca_file",
        env: "STAFFGATE_MAIL_CA_FILE",
        help: "PEM CA bundle to verify the relay with (default: the system's roots)",
        set: |c, v| {
            c.mail.ca_file = Some(path(v)?);
            Ok(())
        },
    },
    Key {
        file: "mail.from",
        env: "STAFFGATE_MAIL_FROM",
        help: "the sender, e.g. \"staffgate <staffgate@example.com>\"",
        set: |c, v| {
            v.parse::<lettre::message::Mailbox>()
                .map_err(|e| format!("not a mailbox ({e})"))?;
            c.mail.from = v.to_owned();
            Ok(())
        },
    },
    Key {
        file: "mail.hr",
        env: "STAFFGATE_MAIL_HR",
        help: "comma-separated addresses that receive offboarding receipts",
        set: |c, v| {
            c.mail.hr = addresses(v)?;
            Ok(())
        },
    },
    Key {
        file: "mail.security_contacts",
        env: "STAFFGATE_MAIL_SECURITY_CONTACTS",
        help: "comma-separated addresses that also receive offboarding receipts",
        set: |c, v| {
            c.mail.security_contacts = addresses(v)?;
            Ok(())
        },
    },
    Key {
        file: "mail.admins",
        env: "STAFFGATE_MAIL_ADMINS",
        help: "comma-separated addresses alerted when the mass-deprovisioning guard holds a plan",
        set: |c, v| {
            c.mail.admins = addresses(v)?;
            Ok(())
        },
    },
    Key {
        file: "mail.public_url",
        env: "STAFFGATE_PUBLIC_URL",
        help: "where staff open staffgate, for links in mails (default http://127.0.0.1:8080)",
        set: |c, v| {
            let u = reqwest::Url::parse(v.trim()).map_err(|e| format!("not a URL ({e})"))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err("must be an http:// or https:// URL".into());
            }
            c.mail.public_url = v.trim().trim_end_matches('/').to_owned();
            Ok(())
        },
    },
    Key {
        file: "tls.cert_file",
        env: "STAFFGATE_TLS_CERT_FILE",
        help: "PEM certificate chain for the listener (reloaded on SIGHUP)",
        set: |c, v| {
            c.tls.cert_file = Some(path(v)?);
            Ok(())
        },
    },
    Key {
        file: "tls.key_file",
        env: "STAFFGATE_TLS_KEY_FILE",
        help: "PEM private key for the listener (reloaded on SIGHUP)",
        set: |c, v| {
            c.tls.key_file = Some(path(v)?);
            Ok(())
        },
    },
    Key {
        file: "tls.behind_proxy",
        env: "STAFFGATE_BEHIND_TLS_PROXY",
        help: "true when a TLS-terminating proxy is in front: allows plain HTTP on a non-loopback address",
        set: |c, v| {
            c.tls.behind_proxy = boolean(v)?;
            Ok(())
        },
    },
];
