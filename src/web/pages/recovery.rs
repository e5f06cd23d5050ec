//! Recovery codes: shown after enrolment or renewal (a redirect after the form, so a refresh
//! or a language switch shows them again rather than losing them), downloadable as a text
//! file, and renewed from "My access" with a fresh TOTP code.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::layout::{message, page};
use super::{Signed, csrf_ok, field, flash, refusal};
use crate::web::AppState;

/// Sends the browser to the codes page with `codes` in a sealed cookie.
pub fn show_next(s: &AppState, session: i64, codes: Vec<String>) -> Response {
    let mut response = Redirect::to("/recovery-codes").into_response();
    if let Some(v) = flash::set_codes(&s.signin.key, session, codes, !s.signin.config.plain_http) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub async fn show(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Signed { ctx, page: p }: Signed,
) -> Response {
    let Some(codes) = flash::codes(&s.signin.key, &headers, p.session.id) else {
        return Redirect::to("/me").into_response();
    };
    let t = ctx.lang.texts();
    let body = html! {
        p { (t.recovery_intro) }
        ul #recovery-codes .codes { @for c in &codes { li { (c) } } }
        p { a #download href="/recovery-codes/download" download="staffgate-recovery-codes.txt" { (t.download_codes) } }
        form method="post" action="/recovery-codes/done" {
            input type="hidden" name="csrf" value=(p.csrf);
            button #continue type="submit" { (t.continue_) }
        }
    };
    let who = p.session.staff.username.as_str();
    ctx.render(
        StatusCode::OK,
        page(
            ctx.lang,
            t.title_recovery,
            "/recovery-codes",
            Some(who),
            None,
            body,
        ),
    )
}

/// The codes as a text file, one per line.
pub async fn download(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Signed { page: p, .. }: Signed,
) -> Response {
    let Some(codes) = flash::codes(&s.signin.key, &headers, p.session.id) else {
        return Redirect::to("/me").into_response();
    };
    let text = format!(
        "staffgate recovery codes for {}\r\nEach signs you in once.\r\n\r\n{}\r\n",
        p.session.staff.username,
        codes.join("\r\n")
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"staffgate-recovery-codes.txt\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}

/// "I kept them": the codes leave the browser.
pub async fn done(
    State(s): State<Arc<AppState>>,
    Signed { page: p, .. }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&p, &form) {
        return Redirect::to("/recovery-codes").into_response();
    }
    let mut response = Redirect::to("/me").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        flash::clear_codes(!s.signin.config.plain_http),
    );
    response
}

/// New codes for a fresh TOTP code; the unused old ones stop working.
pub async fn renew(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = ctx.lang.texts();
    if !csrf_ok(&p, &form) {
        return super::access::with_notice(
            &s,
            &ctx,
            &p,
            message("error", t.form_expired),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let code = field(&form, "code").unwrap_or("");
    match s.signin.renew_recovery_codes(&p.session, code).await {
        Ok(codes) => show_next(&s, p.session.id, codes),
        Err(e) => match refusal(&ctx, e) {
            Ok((status, text)) => {
                super::access::with_notice(&s, &ctx, &p, message("error", &text), status).await
            }
            Err(page) => *page,
        },
    }
}
