//! The employee pages: server-rendered HTML that works without JavaScript, in English and
//! Russian. Handlers parse the form, call one service, render. Every form carries a CSRF
//! token; the session cookie is HttpOnly and SameSite=Strict.

mod access;
pub(crate) mod device;
mod enrol;
mod flash;
mod i18n;
pub(crate) mod layout;
mod oidc;
mod recovery;
pub(crate) mod signin;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

use super::AppState;
use super::session;
use crate::compliance::Facts;
use crate::signin::StaffSession;
pub use i18n::Lang;

/// The largest form the pages accept (every field is short).
const FORM_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/me") }))
        .route("/assets/staffgate.css", get(layout::stylesheet))
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/logout", post(signin::logout))
        .route("/oidc/{source}/start", get(oidc::start))
        .route("/oidc/{source}/callback", get(oidc::callback))
        .route(
            "/oidc/{source}/backchannel-logout",
            post(oidc::backchannel_logout),
        )
        .route("/totp", get(signin::totp_page).post(signin::totp))
        .route("/enrol", get(enrol::enrol_page).post(enrol::enrol))
        .route("/nda", get(enrol::nda_page).post(enrol::nda))
        .route("/me", get(access::show))
        .route("/me/issue", post(access::issue))
        .route("/me/revoke", post(access::revoke))
        .route("/me/end-all", post(access::end_all))
        .route("/me/sessions/end", post(access::end_session))
        .route("/me/recovery-codes", post(recovery::renew))
        .route("/recovery-codes", get(recovery::show))
        .route("/recovery-codes/download", get(recovery::download))
        .route("/recovery-codes/done", post(recovery::done))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
}

/// What every page handler knows about the request.
pub struct Ctx {
    pub lang: Lang,
    /// Set when `?lang=` asked for a language: remembered in a cookie.
    remember: bool,
}

impl Ctx {
    pub fn new(query: &HashMap<String, String>, headers: &HeaderMap) -> Ctx {
        let asked = query.get("lang").and_then(|l| Lang::parse(l));
        Ctx {
            lang: Lang::pick(asked.map(Lang::code), headers),
            remember: asked.is_some(),
        }
    }

    /// Renders with the status, remembering an explicit language choice.
    pub fn render(&self, status: StatusCode, markup: Markup) -> Response {
        let mut response = (status, axum::response::Html(markup.into_string())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"),
        );
        if self.remember
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                i18n::LANG_COOKIE,
                self.lang.code()
            ))
        {
            headers.append(header::SET_COOKIE, v);
        }
        response
    }
}

/// Any page request: its language.
impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<AppState>) -> Result<Self, Response> {
        let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| q.0)
            .unwrap_or_default();
        Ok(Ctx::new(&query, &parts.headers))
    }
}

/// A page request from a signed-in person; anyone else is sent to the sign-in page.
pub struct Signed {
    pub ctx: Ctx,
    pub page: PageSession,
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let page = page_session(state, &parts.headers).await?;
        Ok(Signed { ctx, page })
    }
}

/// The signed-in person behind a page request, with the raw session id (for CSRF).
pub struct PageSession {
    pub session: StaffSession,
    pub csrf: String,
}

/// The session from the cookie, or a redirect to the sign-in page.
pub async fn page_session(state: &AppState, headers: &HeaderMap) -> Result<PageSession, Response> {
    let to_login = || Redirect::to("/login").into_response();
    let presented = session::presented(headers).ok_or_else(to_login)?;
    let session = state
        .signin
        .authenticate(&presented)
        .await
        .map_err(|_| to_login())?;
    Ok(PageSession {
        csrf: session::csrf_token(&presented),
        session,
    })
}

/// A form's CSRF field matches the session's token.
pub fn csrf_ok(page: &PageSession, form: &HashMap<String, String>) -> bool {
    form.get("csrf").is_some_and(|c| c == &page.csrf)
}

/// Where first login goes next, or `None` when it is done.
pub fn next_step(state: &AppState, session: &StaffSession, facts: &Facts) -> Option<&'static str> {
    let config = &state.compliance.config;
    // A provider's accepted factor (in `session.factor`) stands in for enrolment and code.
    if config.require_totp && session.factor.is_none() {
        return Some(if facts.totp_enrolled {
            "/totp"
        } else {
            "/enrol"
        });
    }
    let now = crate::domain::time::now_millis();
    if config.require_nda && !state.compliance.nda().satisfied(&facts.nda_acked, now) {
        return Some("/nda");
    }
    None
}

/// A short form field, or none (oversized fields are refused, not truncated).
pub fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| v.len() <= 256)
}

/// A refusal on a page: status and code from the API's one error mapping, words from the
/// page's language; a refusal without words of its own is the generic failure page.
pub fn refusal(
    ctx: &Ctx,
    e: impl Into<crate::web::error::ApiError>,
) -> Result<(StatusCode, String), Box<Response>> {
    let e = e.into();
    let t = ctx.lang.texts();
    match t.refusal(e.code) {
        // A lockout says how long it lasts.
        Some(text) => Ok((
            e.status,
            match e.retry_after_secs {
                Some(secs) => format!("{text} {}", t.wait_for(secs)),
                None => text.to_owned(),
            },
        )),
        None => Err(Box::new(failed(ctx, &format!("{}: {}", e.code, e.message)))),
    }
}

/// The generic failure page: the cause goes to the log only.
pub fn failed(ctx: &Ctx, cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(cause = %cause, "page failed");
    let text = match ctx.lang {
        Lang::En => "Something went wrong on our side. Please try again.",
        Lang::Ru => "Что-то пошло не так. Попробуйте ещё раз.",
    };
    ctx.render(
        StatusCode::INTERNAL_SERVER_ERROR,
        layout::page(
            ctx.lang,
            "staffgate",
            "/me",
            None,
            None,
            layout::message("error", text),
        ),
    )
}

/// A path nobody serves: a page in the browser's language for a browser, the API's JSON
/// error for everything else (API and SCIM paths always).
pub async fn not_found(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !browser || path.starts_with("/api/") || path.starts_with("/scim/") {
        return crate::web::error::ApiError::new(
            StatusCode::NOT_FOUND,
            crate::domain::ErrorCode::NotFound,
            "no such endpoint",
        )
        .into_response();
    }
    let ctx = Ctx::new(&HashMap::new(), &headers);
    let t = ctx.lang.texts();
    let body = maud::html! {
        p { (t.not_found) }
        p { a href="/me" { (t.to_my_access) } }
    };
    ctx.render(
        StatusCode::NOT_FOUND,
        layout::page(ctx.lang, t.not_found_title, "/me", None, None, body),
    )
}
