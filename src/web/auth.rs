//! Who is calling the admin API: an API key, checked on every call, yielding role permits.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::principal::{AdminPermit, AuditorPermit, HrPermit, Principal};

/// An authenticated API caller.
pub struct Caller(Principal);

impl Caller {
    pub fn admin(&self) -> Result<AdminPermit, ApiError> {
        Ok(self.0.admin()?)
    }

    pub fn hr(&self) -> Result<HrPermit, ApiError> {
        Ok(self.0.hr()?)
    }

    /// Reading staff, channels, access and status: every role.
    pub fn reader(&self) -> Result<(), ApiError> {
        Ok(())
    }

    pub fn auditor(&self) -> Result<AuditorPermit, ApiError> {
        Ok(self.0.auditor()?)
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or("").trim());
        let verifier = &state.tokens.verifier;
        let principal = crate::principal::api_key::authenticate(
            &state.store,
            |owner| verifier.staff_active(owner),
            presented,
        )
        .await?;
        Ok(Caller(principal))
    }
}
