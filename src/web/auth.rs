//! Who is calling the admin API: an API key, checked on every call, yielding role permits.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::audit::Actor;
use crate::domain::Role;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::time::now_millis;
use crate::offboarding::HrPermit;

/// An authenticated API caller.
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
}

/// Proof of the admin role.
pub struct AdminPermit {
    pub actor: Actor,
}

fn forbidden(need: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "role_forbidden",
        format!("this call needs the {need} role"),
    )
}

impl Caller {
    pub fn admin(&self) -> Result<AdminPermit, ApiError> {
        match self.role {
            Role::Admin => Ok(AdminPermit {
                actor: self.actor.clone(),
            }),
            _ => Err(forbidden("admin")),
        }
    }

    pub fn hr(&self) -> Result<HrPermit, ApiError> {
        match self.role {
            Role::Admin | Role::Hr => Ok(HrPermit {
                actor: self.actor.clone(),
            }),
            Role::Auditor => Err(forbidden("hr or admin")),
        }
    }

    /// Reading staff, channels, access and audit: every role.
    pub fn reader(&self) -> Result<(), ApiError> {
        Ok(())
    }

    pub fn auditor(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin | Role::Auditor => Ok(()),
            Role::Hr => Err(forbidden("auditor or admin")),
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let unauthorized = |code, msg: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, msg);
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                unauthorized(
                    "api_key_missing",
                    "send an API key as Authorization: Bearer sgk_…",
                )
            })?;
        let key = value.strip_prefix("Bearer ").unwrap_or("").trim();
        let hash = credential::parse(CredentialKind::ApiKey, key)
            .map_err(|_| unauthorized("api_key_malformed", "the API key is malformed"))?;
        let row = crate::store::api_keys::find_live(state.store.pool(), hash)
            .await?
            .ok_or_else(|| unauthorized("api_key_unknown", "the API key is unknown or revoked"))?;
        // A key owned by a staff member works only while its owner is active, whatever path
        // ended them (an offboarding revokes the key too; this holds if one did not). Asked
        // of the verifier, in memory: the API must not wait on a lock of the staff table.
        if let Some(owner) = row.staff_id
            && !state.tokens.verifier.staff_active(owner)
        {
            return Err(unauthorized(
                "api_key_owner_not_active",
                "the API key's owner is not an active staff member",
            ));
        }
        let now = now_millis();
        // Last use is kept to the minute, so reads do not each turn into a write.
        if row.last_used_at.is_none_or(|t| now - t > 60_000) {
            crate::store::api_keys::touch_behind(&state.store, row.id, now);
        }
        Ok(Caller {
            actor: Actor::key(&row.name, row.id),
            role: row.role,
        })
    }
}
