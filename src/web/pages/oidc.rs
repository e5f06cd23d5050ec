//! Sign-in with an identity provider (`/oidc/<source>/start`, `…/callback`) and its
//! back-channel logout (`…/backchannel-logout`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use secrecy::ExposeSecret;

use super::layout::{message, page};
use super::{Ctx, refusal};
use crate::signin::oidc::{Callback, Finished, PickupCode};
use crate::web::error::ApiError;
use crate::web::{AppState, session};

/// Binds a provider's answer to the browser that started the sign-in. `Lax`, not `Strict`:
/// the provider's redirect back is a cross-site navigation that must carry it.
const BROWSER_COOKIE: &str = "staffgate_oidc";

fn refused_page(ctx: &Ctx, e: crate::signin::SigninError) -> Response {
    match refusal(ctx, e) {
        Ok((status, text)) => ctx.render(
            status,
            page(
                ctx.lang,
                ctx.lang.texts().title_sign_in,
                "/login",
                None,
                None,
                html! { (message("error", &text)) p { a href="/login" { (ctx.lang.texts().sign_in) } } },
            ),
        ),
        Err(page) => *page,
    }
}

/// An API client's sign-in came back here: the person types this code into the client. No
/// cookie is set: this browser is not the one signing in.
fn pickup_page(ctx: &Ctx, code: &PickupCode) -> Response {
    let t = ctx.lang.texts();
    let body = html! {
        p { (t.sso_pickup_lead) }
        p.pickup id="pickup-code" { (code.0) }
        (message("warning", t.sso_pickup_warning))
    };
    ctx.render(
        StatusCode::OK,
        page(ctx.lang, t.sso_pickup_title, "/login", None, None, body),
    )
}

pub async fn start(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
    ctx: Ctx,
) -> Response {
    match s.signin.oidc_start(&source).await {
        Ok(started) => {
            let secure = if s.signin.config.plain_http {
                ""
            } else {
                "; Secure"
            };
            let mut response = Redirect::to(&started.url).into_response();
            let value = format!(
                "{BROWSER_COOKIE}={}; Path=/oidc/{source}/; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                started.browser
            );
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => refused_page(&ctx, e),
    }
}

pub async fn callback(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(source): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Response {
    let browser = session::cookie(&headers, BROWSER_COOKIE);
    let back = Callback {
        state: q.get("state").map(String::as_str),
        code: q.get("code").map(String::as_str),
        iss: q.get("iss").map(String::as_str),
        error: q.get("error").map(String::as_str),
        browser: browser.as_deref(),
    };
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match s
        .signin
        .oidc_finish(&source, back, &peer.ip().to_string(), agent)
        .await
    {
        Ok(Finished::Pickup(code)) => pickup_page(&ctx, &code),
        Ok(Finished::Browser(opened)) => {
            let secure = !s.signin.config.plain_http;
            // A page that moves on by itself rather than a redirect: the browser came here
            // from the provider's site, and a redirect would carry that cross-site origin
            // to /me, where the SameSite=Strict session cookie would then be held back.
            let body = html! {
                meta http-equiv="refresh" content="0;url=/me";
                p { a href="/me" { (ctx.lang.texts().title_sign_in) } }
            };
            let mut response = ctx.render(
                StatusCode::OK,
                page(
                    ctx.lang,
                    ctx.lang.texts().title_sign_in,
                    "/login",
                    None,
                    None,
                    body,
                ),
            );
            let set = session::set_cookie(opened.session.expose_secret(), opened.ttl_secs, secure);
            if let Ok(v) = HeaderValue::from_str(&set) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            let flag = if secure { "; Secure" } else { "" };
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{BROWSER_COOKIE}=; Path=/oidc/{source}/; HttpOnly; SameSite=Lax; Max-Age=0{flag}"
            )) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => refused_page(&ctx, e),
    }
}

/// The provider posts `logout_token`; 200 when applied, 400 with a reason otherwise.
pub async fn backchannel_logout(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(token) = form.get("logout_token") else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            crate::domain::ErrorCode::LogoutTokenInvalid,
            "no logout_token",
        )
        .into_response();
    };
    match s.signin.oidc_logout(&source, token).await {
        Ok(done) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(done),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(source = %source, error = %e, "provider logout refused");
            ApiError::from(e).into_response()
        }
    }
}
