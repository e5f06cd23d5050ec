//! Connecting and binding to an LDAP source, with TLS as configured.

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::ExposeSecret;

use super::config::LdapSource;

/// Why talking to a directory failed. Never carries a password.
#[derive(Debug, thiserror::Error)]
pub enum LdapSyncError {
    /// The server could not be reached, or the connection dropped.
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The server refused a bind (wrong DN or password). `diagnostic` is the server's own
    /// text (AD's sub-code lives there); it names no password.
    #[error("the directory refused the bind as {dn} (result code {rc}{})", explain(*rc))]
    BindRefused {
        dn: String,
        rc: u32,
        diagnostic: String,
    },
    /// A search failed or was cut short; nothing from it is applied.
    #[error("search under {base} failed: {reason}")]
    Search { base: String, reason: String },
    /// The server did not answer in time.
    #[error("the directory did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The CA file could not be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// RFC 4533 content sync is not offered by the server.
    #[error("the server does not offer content synchronisation (syncprov)")]
    NoSync,
    /// The server asked for a full reload (e-syncRefreshRequired).
    #[error("the server asked for a full refresh")]
    RefreshRequired,
}

/// Plain words for the result codes an admin meets first.
fn explain(rc: u32) -> &'static str {
    match rc {
        8 => {
            ": the server requires a signed or encrypted connection for a password bind; \
             use ldaps:// or starttls = true"
        }
        13 => ": confidentiality required; use ldaps:// or starttls = true",
        49 => ": wrong bind DN or password",
        _ => "",
    }
}

impl LdapSyncError {
    pub(super) fn search(base: &str, e: impl std::fmt::Display) -> Self {
        LdapSyncError::Search {
            base: base.to_owned(),
            reason: e.to_string(),
        }
    }
}

/// TLS settings with an explicit crypto provider: the company CA from `ca_file`, or the
/// system's roots.
fn tls_config(ca: Option<&std::path::Path>) -> Result<rustls::ClientConfig, LdapSyncError> {
    let tls = |e: String| LdapSyncError::Tls(e);
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(ca) => {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| tls(format!("{}: {e}", ca.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| tls(format!("{}: {e}", ca.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| tls(format!("{}: {e}", ca.display())))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn connect_error(url: &str, e: LdapError) -> LdapSyncError {
    match e {
        LdapError::Timeout { .. } => LdapSyncError::Connect {
            url: url.to_owned(),
            reason: "timed out".into(),
        },
        other => LdapSyncError::Connect {
            url: url.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// Opens a connection without binding.
pub async fn open(source: &LdapSource) -> Result<Ldap, LdapSyncError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(source.timeout)
        .set_starttls(source.starttls);
    if source.starttls || source.url.starts_with("ldaps://") {
        settings = settings.set_config(Arc::new(tls_config(source.ca_file.as_deref())?));
    }
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &source.url)
        .await
        .map_err(|e| connect_error(&source.url, e))?;
    let name = source.name.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.drive().await {
            tracing::debug!(source = %name, error = %e, "LDAP connection ended");
        }
    });
    Ok(ldap)
}

/// Binds as `dn`; a refusal is [`LdapSyncError::BindRefused`].
pub async fn bind(
    ldap: &mut Ldap,
    source: &LdapSource,
    dn: &str,
    password: &str,
) -> Result<(), LdapSyncError> {
    let result = ldap
        .with_timeout(source.timeout)
        .simple_bind(dn, password)
        .await
        .map_err(|e| connect_error(&source.url, e))?;
    if result.rc != 0 {
        return Err(LdapSyncError::BindRefused {
            dn: dn.to_owned(),
            rc: result.rc,
            diagnostic: result.text,
        });
    }
    Ok(())
}

/// Connects and binds as the source's service account.
pub async fn connect(source: &LdapSource) -> Result<Ldap, LdapSyncError> {
    let mut ldap = open(source).await?;
    bind(
        &mut ldap,
        source,
        &source.bind_dn,
        source.bind_password.expose_secret(),
    )
    .await?;
    Ok(ldap)
}
