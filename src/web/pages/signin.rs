//! Sign in (LDAP bind), the TOTP challenge on later sign-ins, and sign out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use secrecy::{ExposeSecret, SecretString};

use super::layout::{message, page};
use super::{Ctx, Signed, csrf_ok, failed, field, next_step, page_session, refusal};
use crate::signin::{FactorError, SigninError};
use crate::web::AppState;
use crate::web::session;

/// The pre-session CSRF cookie of the sign-in form (double submit).
const LOGIN_CSRF: &str = "staffgate_login_csrf";

fn login_csrf(headers: &HeaderMap) -> Option<String> {
    session::cookie(headers, LOGIN_CSRF)
}

fn login_form(
    ctx: &Ctx,
    providers: &[(String, String)],
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
    secure: bool,
) -> Response {
    let t = ctx.lang.texts();
    let body = html! {
        @if let Some(e) = error { (message("error", e)) }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(csrf);
            label for="username" { (t.username) }
            input #username type="text" name="username" autocomplete="username" required maxlength="64" autofocus;
            label for="password" { (t.password) }
            input #password type="password" name="password" autocomplete="current-password" required maxlength="256";
            button #sign-in type="submit" { (t.sign_in) }
        }
        @for (name, display) in providers {
            p { a.button.secondary id={ "sso-" (name) } href={ "/oidc/" (name) "/start" } { (t.sso_with) " " (display) } }
        }
    };
    let mut response = ctx.render(
        status,
        page(ctx.lang, t.title_sign_in, "/login", None, None, body),
    );
    let flag = if secure { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF}={csrf}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{flag}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The identity providers offered next to the password form: (name, display name).
fn providers(s: &AppState) -> Vec<(String, String)> {
    s.signin
        .oidc
        .all()
        .iter()
        .map(|p| (p.config.name.clone(), p.config.display_name.clone()))
        .collect()
}

/// A fresh form token. Without the system's random source no form is offered at all.
fn fresh_csrf() -> Option<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).ok()?;
    Some(hex::encode(b))
}

pub async fn login_page(State(s): State<Arc<AppState>>, ctx: Ctx, headers: HeaderMap) -> Response {
    if page_session(&s, &headers).await.is_ok() {
        return Redirect::to("/me").into_response();
    }
    match fresh_csrf() {
        Some(csrf) => login_form(
            &ctx,
            &providers(&s),
            &csrf,
            None,
            StatusCode::OK,
            !s.signin.config.plain_http,
        ),
        None => failed(&ctx, &"no random source for the form token"),
    }
}

pub async fn login(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = ctx.lang.texts();
    let secure = !s.signin.config.plain_http;
    let Some(csrf) = fresh_csrf() else {
        return failed(&ctx, &"no random source for the form token");
    };
    let cookie = login_csrf(&headers);
    if cookie.is_none() || field(&form, "csrf") != cookie.as_deref() {
        return login_form(
            &ctx,
            &providers(&s),
            &csrf,
            Some(t.form_expired),
            StatusCode::FORBIDDEN,
            secure,
        );
    }
    let (Some(username), Some(password)) = (field(&form, "username"), field(&form, "password"))
    else {
        return login_form(
            &ctx,
            &providers(&s),
            &csrf,
            Some(t.wrong_credentials),
            StatusCode::BAD_REQUEST,
            secure,
        );
    };
    let password = SecretString::from(password.to_owned());
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match s
        .signin
        .login(username, &password, &peer.ip().to_string(), agent)
        .await
    {
        Ok(opened) => {
            let cookie =
                session::set_cookie(opened.session.expose_secret(), opened.ttl_secs, secure);
            let mut response = Redirect::to("/me").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => {
            // Where to change a password, when the deployment names the page.
            let change_url = match &e {
                SigninError::Account { change_url, .. } => change_url.clone(),
                _ => None,
            };
            match refusal(&ctx, e) {
                Ok((status, text)) => {
                    let text = match change_url {
                        Some(url) => format!("{text} {url}"),
                        None => text.to_owned(),
                    };
                    login_form(&ctx, &providers(&s), &csrf, Some(&text), status, secure)
                }
                Err(page) => *page,
            }
        }
    }
}

pub async fn logout(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut next = None;
    if let Ok(p) = page_session(&s, &headers).await {
        // A session from a provider goes on to end the provider's session as well.
        next = s.signin.logout(&p.session).await.ok().flatten();
    }
    let mut response = Redirect::to(next.as_deref().unwrap_or("/login")).into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(!s.signin.config.plain_http)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

fn totp_form(
    ctx: &Ctx,
    who: &str,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = ctx.lang.texts();
    let body = html! {
        @if let Some(e) = error { (message("error", e)) }
        p { (t.totp_intro) }
        form method="post" action="/totp" {
            input type="hidden" name="csrf" value=(csrf);
            label for="code" { (t.code) }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" autofocus;
            button #verify type="submit" { (t.confirm) }
        }
        details {
            summary { (t.use_recovery) }
            form method="post" action="/totp" {
                input type="hidden" name="csrf" value=(csrf);
                label for="recovery" { (t.recovery_code) }
                input #recovery type="text" name="recovery_code" autocomplete="off" maxlength="32";
                button.secondary type="submit" { (t.confirm) }
            }
        }
    };
    ctx.render(
        status,
        page(ctx.lang, t.title_totp, "/totp", Some(who), Some(0), body),
    )
}

pub async fn totp_page(Signed { ctx, page: p }: Signed) -> Response {
    totp_form(
        &ctx,
        p.session.staff.username.as_str(),
        &p.csrf,
        None,
        StatusCode::OK,
    )
}

pub async fn totp(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let who = p.session.staff.username.to_string();
    if !csrf_ok(&p, &form) {
        return totp_form(
            &ctx,
            &who,
            &p.csrf,
            Some(ctx.lang.texts().form_expired),
            StatusCode::FORBIDDEN,
        );
    }
    let result = match (field(&form, "code"), field(&form, "recovery_code")) {
        (_, Some(rc)) if !rc.is_empty() => {
            s.signin.use_recovery_code(&p.session, rc).await.map(|_| ())
        }
        (Some(code), _) => s.signin.verify_code(&p.session, code).await,
        _ => Err(FactorError::WrongCode),
    };
    match result {
        Ok(()) => Redirect::to("/me").into_response(),
        Err(FactorError::NotEnrolled) => Redirect::to("/enrol").into_response(),
        Err(e) => match refusal(&ctx, e) {
            Ok((status, text)) => totp_form(&ctx, &who, &p.csrf, Some(&text), status),
            Err(page) => *page,
        },
    }
}

/// Sends a person to the first-login step they are on, if any.
pub async fn step_redirect(
    s: &AppState,
    p: &super::PageSession,
) -> Result<Option<Response>, Response> {
    let facts = s.compliance.facts(&p.session.staff).await.map_err(|e| {
        tracing::error!(error = %e, "reading first-login facts failed");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    })?;
    Ok(next_step(s, &p.session, &facts).map(|to| Redirect::to(to).into_response()))
}
