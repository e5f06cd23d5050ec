//! The listener's TLS certificate.

use super::StartError;

/// The listener's certificate, reloadable from its files.
#[derive(Clone)]
pub(super) struct Tls {
    pub(super) config: axum_server::tls_rustls::RustlsConfig,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

impl Tls {
    pub(super) async fn load(
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<Tls, StartError> {
        let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(|source| StartError::Tls {
                cert: cert.display().to_string(),
                key: key.display().to_string(),
                source,
            })?;
        Ok(Tls {
            config,
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Re-reads the files; a bad pair keeps the certificate in use.
    pub(super) async fn reload(&self) {
        match self
            .config
            .reload_from_pem_file(&self.cert, &self.key)
            .await
        {
            Ok(()) => tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded"),
            Err(e) => {
                tracing::error!(error = %e, cert = %self.cert.display(), "TLS certificate not reloaded; keeping the one in use")
            }
        }
    }
}
