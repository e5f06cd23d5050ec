//! OpenID Connect identity providers as a source of staff: who a sign-in is, and which
//! provider sessions have ended.

pub mod claims;
pub mod logout;
pub mod provider;
pub mod refused;
mod stats;

use std::sync::Arc;

pub use provider::{Pending, Provider, Refreshed, Verified};
pub use stats::{ProviderStatus, Stats};

use crate::config::oidc::OidcSource;

/// Why an OpenID Connect step failed. None of these carry a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("no OpenID Connect source is named {0}")]
    UnknownSource(String),
    #[error("the identity provider could not be discovered: {0}")]
    Discovery(String),
    #[error("the identity provider: {0}")]
    Provider(String),
    #[error("the code exchange failed: {0}")]
    Exchange(String),
    #[error("the provider sent no ID token")]
    NoIdToken,
    #[error("the ID token was signed with a key the provider does not publish")]
    UnknownKey,
    #[error("the ID token was refused: {0}")]
    IdToken(String),
    #[error("userinfo could not be read: {0}")]
    Userinfo(String),
    #[error("the provider's claims have no usable {0} claim")]
    MissingClaim(String),
    #[error("{0:?} cannot be a staffgate username")]
    BadUsername(String),
    #[error("the provider lists {0} groups; at most 1000 are read")]
    TooManyGroups(usize),
}

/// Every configured provider, by name.
#[derive(Default)]
pub struct Providers {
    list: Vec<Arc<Provider>>,
}

impl Providers {
    pub fn new(sources: &[OidcSource], public_url: &str) -> Result<Providers, OidcError> {
        let list = sources
            .iter()
            .map(|s| Provider::new(s.clone(), public_url).map(Arc::new))
            .collect::<Result<_, _>>()?;
        Ok(Providers { list })
    }

    pub fn get(&self, name: &str) -> Result<Arc<Provider>, OidcError> {
        self.list
            .iter()
            .find(|p| p.config.name == name)
            .cloned()
            .ok_or_else(|| OidcError::UnknownSource(name.to_owned()))
    }

    pub fn all(&self) -> &[Arc<Provider>] {
        &self.list
    }

    /// Every provider's status, for `sync --status` and `/metrics`.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.list.iter().map(|p| p.status()).collect()
    }

    /// Discovers every provider without holding up start: a provider that is down must not
    /// stop the daemon; its sign-ins are refused with a clear code until it answers.
    pub fn discover_in_background(&self) {
        for provider in &self.list {
            let provider = provider.clone();
            tokio::spawn(async move {
                let name = &provider.config.name;
                match provider.discover().await {
                    Ok(_) => {
                        tracing::info!(source = %name, issuer = %provider.config.issuer, "identity provider discovered")
                    }
                    Err(e) => {
                        tracing::warn!(source = %name, error = %e, "identity provider not discovered yet; retried at the first sign-in")
                    }
                }
            });
        }
    }
}
