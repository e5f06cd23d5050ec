//! First login: TOTP enrolment (QR code and key, confirm, recovery codes once) and the NDA.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{PreEscaped, html};

use super::layout::{message, page};
use super::{Ctx, PageSession, Signed, csrf_ok, failed, field, refusal};
use crate::compliance::NdaAckError;
use crate::signin::FactorError;
use crate::web::AppState;

fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
    )
}

async fn enrol_form(
    s: &AppState,
    ctx: &Ctx,
    p: &PageSession,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = ctx.lang.texts();
    let enrolment = match s.signin.enrolment(&p.session).await {
        Ok(e) => e,
        Err(FactorError::AlreadyEnrolled) => return Redirect::to("/me").into_response(),
        Err(e) => return failed(ctx, &e),
    };
    let body = html! {
        @if let Some(e) = error { (message("error", e)) }
        p { (t.enrol_intro) }
        @if let Some(svg) = qr_svg(&enrolment.otpauth_url) {
            div.qr { (PreEscaped(svg)) }
        }
        p { (t.enrol_key) ": " span #totp-key .key { (enrolment.key) } }
        // For a phone that cannot scan its own screen.
        p { a #otpauth href=(enrolment.otpauth_url) { (t.open_in_app) } }
        form method="post" action="/enrol" {
            input type="hidden" name="csrf" value=(p.csrf);
            label for="code" { (t.code) }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" autofocus;
            button #confirm type="submit" { (t.confirm) }
        }
    };
    let who = p.session.staff.username.as_str();
    ctx.render(
        status,
        page(ctx.lang, t.title_enrol, "/enrol", Some(who), Some(0), body),
    )
}

pub async fn enrol_page(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
) -> Response {
    enrol_form(&s, &ctx, &p, None, StatusCode::OK).await
}

pub async fn enrol(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = ctx.lang.texts();
    if !csrf_ok(&p, &form) {
        return enrol_form(&s, &ctx, &p, Some(t.form_expired), StatusCode::FORBIDDEN).await;
    }
    let code = field(&form, "code").unwrap_or("");
    match s.signin.confirm_enrolment(&p.session, code).await {
        Ok(codes) => super::recovery::show_next(&s, p.session.id, codes),
        Err(FactorError::AlreadyEnrolled) => Redirect::to("/me").into_response(),
        Err(e) => match refusal(&ctx, e) {
            Ok((status, text)) => enrol_form(&s, &ctx, &p, Some(&text), status).await,
            Err(page) => *page,
        },
    }
}

async fn nda_form(
    s: &AppState,
    ctx: &Ctx,
    p: &PageSession,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = ctx.lang.texts();
    let set = s.compliance.nda();
    let Some(required) = set.required(crate::domain::time::now_millis()) else {
        return Redirect::to("/me").into_response();
    };
    let text = set
        .text(&required.version, ctx.lang.code())
        .unwrap_or(required);
    let mut rendered = String::new();
    // The NDA is the company's own trusted Markdown; raw HTML in it is not passed through.
    let parser = pulldown_cmark::Parser::new(&text.body).map(|ev| match ev {
        pulldown_cmark::Event::Html(h) | pulldown_cmark::Event::InlineHtml(h) => {
            pulldown_cmark::Event::Text(h)
        }
        other => other,
    });
    pulldown_cmark::html::push_html(&mut rendered, parser);
    // The text usually opens with its own title; then it is not said twice.
    let titled = text.body.trim_start().starts_with('#');
    // Someone who accepted an earlier version is told this one is new.
    let earlier = match s.compliance.acknowledgements_of(p.session.staff.id).await {
        Ok(acks) => acks.iter().any(|a| a.version != text.version),
        Err(e) => return failed(ctx, &e),
    };
    let body = html! {
        @if let Some(e) = error { (message("error", e)) }
        @if earlier { (message("note", t.nda_new_version)) }
        p { (t.nda_intro) }
        @if !titled { h2 { (text.title) } }
        div.nda #nda-text { (PreEscaped(rendered)) }
        p #nda-meta { (t.version) " " (text.version) " · " (t.effective_from) " " (text.effective) }
        details { summary { (t.details) } p.fingerprint { "SHA-256 " (text.sha256) } }
        form method="post" action="/nda" {
            input type="hidden" name="csrf" value=(p.csrf);
            input type="hidden" name="version" value=(text.version);
            input type="hidden" name="language" value=(text.language);
            input type="hidden" name="sha256" value=(text.sha256);
            button #accept type="submit" { (t.nda_accept) }
        }
    };
    let who = p.session.staff.username.as_str();
    ctx.render(
        status,
        page(ctx.lang, t.title_nda, "/nda", Some(who), Some(1), body),
    )
}

pub async fn nda_page(State(s): State<Arc<AppState>>, Signed { ctx, page: p }: Signed) -> Response {
    nda_form(&s, &ctx, &p, None, StatusCode::OK).await
}

pub async fn nda(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = ctx.lang.texts();
    if !csrf_ok(&p, &form) {
        return nda_form(&s, &ctx, &p, Some(t.form_expired), StatusCode::FORBIDDEN).await;
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let result = s
        .compliance
        .acknowledge(
            &p.session.staff,
            p.session.factor.is_some(),
            field(&form, "version").unwrap_or(""),
            field(&form, "sha256").unwrap_or(""),
            field(&form, "language").unwrap_or(""),
            &peer.ip().to_string(),
            agent,
        )
        .await;
    match result {
        Ok(()) => match s
            .compliance
            .finish_first_login(&p.session.staff, p.session.factor.as_ref())
            .await
        {
            Ok(_) => Redirect::to("/me").into_response(),
            Err(e) => failed(&ctx, &e),
        },
        Err(NdaAckError::Stale(_)) => {
            nda_form(&s, &ctx, &p, Some(t.nda_changed), StatusCode::CONFLICT).await
        }
        Err(e) => failed(&ctx, &e),
    }
}
