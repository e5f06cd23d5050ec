//! SCIM tokens: one or more per source, stored as hashes, shown once, revocable; every
//! request to a source's base presents one of its own.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{Provisioning, ProvisioningError};
use crate::audit::{self, Actor};
use crate::domain::credential::{self, CredentialKind};
use crate::domain::time::now_millis;
use crate::store::scim::TokenView;

/// A token just created: shown once.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    pub id: i64,
    pub source: String,
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::secrets::show_once")]
    pub token: SecretString,
}

impl Provisioning {
    /// Whether `presented` is a live token of `source`. Another source's token, or none,
    /// is the same refusal.
    pub async fn authenticate(
        &self,
        source: &str,
        presented: Option<&str>,
    ) -> Result<(), ProvisioningError> {
        self.source(source)?;
        let hash = presented
            .and_then(|p| credential::parse(CredentialKind::ScimToken, p).ok())
            .ok_or(ProvisioningError::Unauthorized)?;
        match crate::store::scim::token_source(self.store.pool(), hash).await? {
            Some((_, owner)) if owner == source => Ok(()),
            _ => Err(ProvisioningError::Unauthorized),
        }
    }

    pub async fn create_token(
        &self,
        actor: &Actor,
        source: &str,
    ) -> Result<NewToken, ProvisioningError> {
        self.source(source)?;
        let (token, hash) = credential::generate(CredentialKind::ScimToken)
            .map_err(|_| ProvisioningError::Random)?;
        let mut tx = self.store.begin().await?;
        let id = crate::store::scim::insert_token(tx.conn(), source, hash, now_millis()).await?;
        let change = audit::Change::ScimTokenCreated {
            source: source.to_owned(),
            id,
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        Ok(NewToken {
            id,
            source: source.to_owned(),
            token,
        })
    }

    pub async fn tokens(&self) -> Result<Vec<TokenView>, ProvisioningError> {
        Ok(crate::store::scim::tokens(self.store.pool()).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<(), ProvisioningError> {
        let views = self.tokens().await?;
        let view = views
            .iter()
            .find(|t| t.id == id && t.revoked_at.is_none())
            .ok_or(ProvisioningError::NotFound)?;
        let mut tx = self.store.begin().await?;
        if !crate::store::scim::revoke_token(tx.conn(), id, now_millis()).await? {
            return Err(ProvisioningError::NotFound);
        }
        let change = audit::Change::ScimTokenRevoked {
            source: view.source.clone(),
            id,
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        Ok(())
    }
}
