//! Reloading the rules in force, the Cedar policies and the NDA texts, from the policy
//! folder: one service for the API, SIGHUP and the follower. A bad set keeps the old one
//! and says why.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, json};

use super::Compliance;
use crate::audit::{self, Actor};
use crate::domain::change::Change;
use crate::policy::Engine;
use crate::principal::AdminPermit;
use crate::store::{Store, StoreError};

/// Why a reload was refused; the previous rules stay in force either way.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The NDA texts did not load (nothing was reloaded).
    #[error("{0}; the previous NDA texts stay in force")]
    Nda(String),
    /// The policies did not parse or validate.
    #[error("{0}; the previous policies stay in force")]
    Policies(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a reload put in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    pub reloaded: bool,
    pub policies: usize,
    pub nda_versions: usize,
}

/// The policy folder and what is loaded from it.
#[derive(Clone)]
pub struct Rules {
    pub store: Store,
    pub engine: Arc<Engine>,
    pub compliance: Arc<Compliance>,
    pub dir: PathBuf,
}

impl Rules {
    /// Reloads because an admin asked; audited, and so followed by every other replica.
    pub async fn reload(&self, permit: &AdminPermit) -> Result<Reloaded, ReloadError> {
        self.reload_as(permit.actor()).await
    }

    /// Reloads on SIGHUP, from whoever could signal the daemon's process.
    pub async fn reload_on_signal(&self) -> Result<Reloaded, ReloadError> {
        self.reload_as(&Actor("signal:SIGHUP".into())).await
    }

    async fn reload_as(&self, actor: &Actor) -> Result<Reloaded, ReloadError> {
        let refused = |what: &str, key: &str, problems: serde_json::Value| {
            let mut map = Map::new();
            map.insert(key.into(), problems);
            Change::PolicyReloadRefused {
                what: what.into(),
                problems: map,
            }
        };
        match self.load().await {
            Ok(done) => {
                let change = Change::PoliciesReloaded {
                    what: "policies".into(),
                    policies: done.policies,
                    nda_versions: done.nda_versions,
                };
                audit::record_alone(&self.store, actor, &change).await?;
                tracing::info!(
                    policies = done.policies,
                    nda_versions = done.nda_versions,
                    "policies reloaded"
                );
                Ok(done)
            }
            Err(Refusal::Nda(e)) => {
                let change = refused("nda", "problem", json!(e.to_string()));
                audit::record_alone(&self.store, actor, &change).await?;
                tracing::warn!(error = %e, "NDA texts refused; keeping the previous ones");
                Err(ReloadError::Nda(e.to_string()))
            }
            Err(Refusal::Policies(e)) => {
                let change = refused("policies", "problems", json!(e.0));
                audit::record_alone(&self.store, actor, &change).await?;
                tracing::warn!(error = %e, "policy reload refused; keeping the previous policies");
                Err(ReloadError::Policies(e.to_string()))
            }
            Err(Refusal::Store(e)) => Err(e.into()),
        }
    }

    /// Loads what another replica reloaded. Not audited: an audited reload would echo
    /// between replicas. A bad folder here keeps this replica's rules, logged.
    pub async fn follow(&self) -> Result<(), StoreError> {
        match self.load().await {
            Ok(_) => Ok(()),
            Err(Refusal::Store(e)) => Err(e),
            Err(Refusal::Nda(e)) => {
                tracing::error!(error = %e, "replica could not reload NDA texts; keeping its own");
                Ok(())
            }
            Err(Refusal::Policies(e)) => {
                tracing::error!(error = %e, "replica could not reload policies; keeping its own");
                Ok(())
            }
        }
    }

    /// NDA texts first (a bad set stops there), then the gate, then the policies.
    async fn load(&self) -> Result<Reloaded, Refusal> {
        self.compliance.reload_nda().map_err(Refusal::Nda)?;
        self.compliance
            .refresh_gate()
            .await
            .map_err(Refusal::Store)?;
        let bundle = crate::policy::load_dir(&self.dir).map_err(Refusal::Policies)?;
        let policies = bundle.origin.len();
        self.engine.replace(bundle);
        Ok(Reloaded {
            reloaded: true,
            policies,
            nda_versions: self.compliance.nda().versions().len(),
        })
    }
}

enum Refusal {
    Nda(super::nda::NdaError),
    Policies(crate::policy::PolicyLoadError),
    Store(StoreError),
}
