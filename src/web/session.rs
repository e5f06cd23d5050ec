//! Staff callers: a sign-in session from the cookie or an `Authorization: Bearer sgs_…`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::AppState;
use super::error::ApiError;
use crate::signin::{SigninError, StaffSession};

/// The session cookie's name.
pub const COOKIE: &str = "staffgate_session";

/// The session id a request presents, from its bearer header or its cookie.
pub fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    cookie(headers, COOKIE)
}

/// The value of the cookie `name` a request carries.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value for a new session. `Secure` unless the deployment explicitly
/// serves plain HTTP on loopback (`signin.plain_http`).
pub fn set_cookie(session: &str, ttl_secs: u64, secure: bool) -> String {
    let flag = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age={ttl_secs}{flag}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    let flag = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{flag}")
}

/// The CSRF token of a session: derived from the session id, which only its holder knows,
/// so nothing extra is stored and a forged form cannot carry it.
pub fn csrf_token(session: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("staffgate-csrf:{session}").as_bytes())[..16])
}

/// A signed-in staff member.
pub struct Staff(pub StaffSession);

impl FromRequestParts<Arc<AppState>> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let presented = presented(&parts.headers).ok_or(SigninError::NoSession)?;
        Ok(Staff(state.signin.authenticate(&presented).await?))
    }
}
