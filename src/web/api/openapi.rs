//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' own annotations and
//! types (utoipa), served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "staffgate",
        description = "Brokered, instantly revocable staff access to customer-communication channels. Admin calls take an API key (`Authorization: Bearer sgk_…`); the `/me` calls take the session cookie from `/login`."
    ),
    paths(
        staff::list,
        staff::put,
        staff::get,
        staff::offboard,
        staff::receipt,
        staff::reinstate,
        staff::scheduled,
        offboardings::list,
        staff::cancel_scheduled,
        staff::activate,
        staff::revoke_tokens,
        channels::list,
        channels::put,
        channels::get,
        channels::set_secret,
        channels::revoke_tokens,
        tokens::issue,
        tokens::list,
        tokens::revoke,
        access::access,
        audit::audit,
        audit::audit_verify,
        policies::reload,
        keys::create,
        keys::list,
        keys::revoke,
        backup::backup,
        status::status,
        sync::status,
        sync::show_plan,
        sync::confirm,
        sync::run,
        me::login,
        me::logout,
        oidc::start,
        oidc::session,
        scim::create,
        scim::list,
        scim::revoke,
        me::me,
        me::issue,
        me::tokens,
        me::revoke_token,
        me::sessions,
        me::end_all,
        first_login::enrol,
        first_login::confirm,
        first_login::verify,
        first_login::nda,
        first_login::acknowledge,
        first_login::reset_totp,
        first_login::report
    ),
    components(schemas(crate::web::answers::ErrorBody)),
    modifiers(&ApiKey),
    security(("api_key" = []))
)]
pub struct ApiDoc;

/// Declares the API key as the bearer scheme every admin call uses.
struct ApiKey;

impl Modify for ApiKey {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("sgk_…")
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// `GET /api/v1/openapi.json`: public, like any API's description.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
