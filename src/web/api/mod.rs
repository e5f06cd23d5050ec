//! `/api/v1` routes.

mod access;
mod audit;
mod backup;
mod channels;
mod first_login;
mod keys;
mod me;
mod offboardings;
mod oidc;
mod openapi;
mod policies;
mod scim;
mod staff;
mod status;
mod sync;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post, put};

use super::AppState;
use super::error::ApiError;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .route("/staff", get(staff::list))
        .route("/staff/{username}", put(staff::put).get(staff::get))
        .route("/staff/{username}/offboard", post(staff::offboard))
        .route("/staff/{username}/offboarding", get(staff::receipt))
        .route("/staff/{username}/reinstate", post(staff::reinstate))
        .route("/offboardings", get(offboardings::list))
        .route("/offboardings/scheduled", get(staff::scheduled))
        .route(
            "/offboardings/scheduled/{id}",
            delete(staff::cancel_scheduled),
        )
        .route("/staff/{username}/activate", post(staff::activate))
        .route(
            "/staff/{username}/revoke-tokens",
            post(staff::revoke_tokens),
        )
        .route("/channels", get(channels::list))
        .route("/channels/{id}", put(channels::put).get(channels::get))
        .route("/channels/{id}/secret", put(channels::set_secret))
        .route(
            "/channels/{id}/revoke-tokens",
            post(channels::revoke_tokens),
        )
        .route("/tokens", post(tokens::issue).get(tokens::list))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/access", get(access::access))
        .route("/audit", get(audit::audit))
        .route("/audit/verify", get(audit::audit_verify))
        .route("/policies/reload", post(policies::reload))
        .route("/keys", post(keys::create).get(keys::list))
        .route("/keys/{id}", delete(keys::revoke))
        .route("/backup", post(backup::backup))
        .route("/scim/{source}/tokens", post(scim::create))
        .route("/scim/tokens", get(scim::list))
        .route("/scim/tokens/{id}", delete(scim::revoke))
        .route("/status", get(status::status))
        .route("/sync/status", get(sync::status))
        .route("/sync/plans/{id}", get(sync::show_plan))
        .route("/sync/plans/{id}/confirm", post(sync::confirm))
        .route("/sync/{source}", post(sync::run))
        .route("/login", post(me::login))
        .route("/logout", post(me::logout))
        .route("/oidc/{source}/start", post(oidc::start))
        .route("/oidc/{source}/session", post(oidc::session))
        .route("/me", get(me::me))
        .route("/me/tokens", post(me::issue).get(me::tokens))
        .route("/me/tokens/{id}", delete(me::revoke_token))
        .route("/me/sessions", get(me::sessions))
        .route("/me/sessions/end-all", post(me::end_all))
        .route("/me/totp/enrol", post(first_login::enrol))
        .route("/me/totp/confirm", post(first_login::confirm))
        .route("/me/totp/verify", post(first_login::verify))
        .route(
            "/me/nda",
            get(first_login::nda).post(first_login::acknowledge),
        )
        .route(
            "/staff/{username}/totp/reset",
            post(first_login::reset_totp),
        )
        .route("/nda/acknowledgements", get(first_login::report))
}

/// Parses a path or body field into a domain type, naming the field on failure.
fn parse<T, E: std::fmt::Display>(field: &str, r: Result<T, E>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::bad_request(field, e))
}
