//! "My access": the channels I can reach, a token for one, my live tokens and sessions,
//! the agreements I acknowledged.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::layout::{message, page};
use super::signin::step_redirect;
use super::{Ctx, PageSession, Signed, csrf_ok, failed, field, flash};
use crate::audit::Actor;
use crate::compliance;
use crate::domain::ChannelId;
use crate::domain::time::to_datetime;
use crate::tokens::IssueRequest;
use crate::web::AppState;
use crate::web::session;

/// Lifetimes offered on the page (capped by the configured maximum).
const LIFETIMES: [(&str, u64); 5] = [
    ("15m", 900),
    ("1h", 3600),
    ("4h", 14_400),
    ("8h", 28_800),
    ("12h", 43_200),
];

fn when(ms: i64) -> String {
    to_datetime(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

async fn render(
    s: &AppState,
    ctx: &Ctx,
    p: &PageSession,
    notice: Option<Markup>,
    status: StatusCode,
) -> Response {
    let t = ctx.lang.texts();
    let staff = &p.session.staff;
    let reach: Vec<(String, String)> = s
        .registry
        .reachable(&s.engine, staff)
        .into_iter()
        .map(|r| {
            (
                r.channel.spec.id.to_string(),
                t.actions_in_words(r.reach.actions),
            )
        })
        .collect();
    let tokens = match s.tokens.list(Some(staff.username.as_str()), None).await {
        Ok(list) => list
            .into_iter()
            .filter(|t| t.state == "live")
            .collect::<Vec<_>>(),
        Err(e) => return failed(ctx, &e),
    };
    let sessions = match s.signin.sessions(staff.id).await {
        Ok(v) => v,
        Err(e) => return failed(ctx, &e),
    };
    let acks = match s.compliance.acknowledgements_of(staff.id).await {
        Ok(v) => v,
        Err(e) => return failed(ctx, &e),
    };
    let max = s.tokens.config.max_ttl.as_secs();
    let body = html! {
        @if let Some(n) = notice { (n) }
        h2 { (t.channels) }
        @if reach.is_empty() { p.muted { (t.no_channels) } } @else {
            table #channels { tr { th { (t.channel) } th { (t.actions) } }
                @for (id, actions) in &reach { tr { td { (id) } td { (actions) } } } }
            h2 { (t.issue_token) }
            form method="post" action="/me/issue" {
                input type="hidden" name="csrf" value=(p.csrf);
                label for="channel" { (t.channel) }
                select #channel name="channel" { @for (id, _) in &reach { option value=(id) { (id) } } }
                label for="ttl" { (t.lifetime) }
                select #ttl name="ttl" {
                    @for (label, secs) in LIFETIMES { @if secs <= max { option value=(label) selected[label == "1h"] { (label) } } }
                }
                button #issue type="submit" { (t.issue) }
            }
        }
        h2 { (t.my_tokens) }
        @if tokens.is_empty() { p.muted { (t.no_tokens) } } @else {
            table #tokens { tr { th { "#" } th { (t.channel) } th { (t.actions) } th { (t.issued) } th { (t.expires) } th { (t.last_used) } th { "" } }
                @for tok in &tokens { tr id={ "token-" (tok.id) } {
                    td { (tok.id) } td { (tok.channel) } td { (t.actions_in_words(tok.actions)) }
                    td { (tok.issued_at.format("%Y-%m-%d %H:%M UTC")) }
                    td { (tok.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                    td { @match tok.last_used_at { Some(at) => (at.format("%Y-%m-%d %H:%M UTC")), None => span.muted { (t.never) } } }
                    td { form method="post" action="/me/revoke" {
                        input type="hidden" name="csrf" value=(p.csrf);
                        input type="hidden" name="id" value=(tok.id);
                        button.secondary type="submit" { (t.revoke) } } }
                } } }
        }
        h2 { (t.my_sessions) }
        table #sessions { tr { th { (t.started) } th { (t.device) } th { (t.from) } th { "" } }
            @for ss in &sessions { tr id={ "session-" (ss.id) } {
                td { (when(ss.created_at)) }
                td { (super::device::name(&ss.user_agent)) }
                td { (ss.address) }
                td { @if ss.id == p.session.id { (t.this_session) } @else {
                    form method="post" action="/me/sessions/end" {
                        input type="hidden" name="csrf" value=(p.csrf);
                        input type="hidden" name="id" value=(ss.id);
                        button.secondary type="submit" { (t.sign_out) } } } }
            } } }
        @if p.session.totp_verified() {
            h2 { (t.renew_codes) }
            form #renew-codes method="post" action="/me/recovery-codes" {
                p.muted { (t.renew_codes_hint) }
                input type="hidden" name="csrf" value=(p.csrf);
                label for="renew-code" { (t.code) }
                input #renew-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16";
                button.secondary type="submit" { (t.renew_codes) }
            }
        }
        form method="post" action="/me/end-all" {
            input type="hidden" name="csrf" value=(p.csrf);
            button.secondary #end-all type="submit" { (t.sign_out_everywhere) }
        }
        h2 { (t.my_ndas) }
        table #ndas { tr { th { (t.version) } th { (t.acknowledged_at) } th { "" } }
            @for a in &acks { tr { td { (a.version) } td { (when(a.at)) } td.fingerprint { (a.language) " · " (a.text_sha256) } } } }
    };
    ctx.render(
        status,
        page(
            ctx.lang,
            t.title_access,
            "/me",
            Some(staff.username.as_str()),
            None,
            body,
        ),
    )
}

/// The page with a notice above it (another page's form refused).
pub async fn with_notice(
    s: &AppState,
    ctx: &Ctx,
    p: &PageSession,
    notice: Markup,
    status: StatusCode,
) -> Response {
    render(s, ctx, p, Some(notice), status).await
}

/// A form whose CSRF token does not match this session: the page again, with why.
async fn form_expired(s: &AppState, ctx: &Ctx, p: &PageSession) -> Response {
    let t = ctx.lang.texts();
    render(
        s,
        ctx,
        p,
        Some(message("error", t.form_expired)),
        StatusCode::FORBIDDEN,
    )
    .await
}

pub async fn show(
    State(s): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    Signed { ctx, page: p }: Signed,
) -> Response {
    match step_redirect(&s, &p).await {
        Ok(None) => {}
        Ok(Some(r)) | Err(r) => return r,
    }
    let t = ctx.lang.texts();
    let notice = flash::take(&s.signin.key, &headers, p.session.id).map(|issued| {
        let telegram = s.registry.get_str(&issued.channel).is_some_and(|c| {
            c.spec.kind == crate::domain::channel::ChannelKind::Telegram
        });
        let base = format!("{}/broker/{}", s.broker_url, issued.channel);
        html! {
            div.msg.note #issued {
                label for="new-token" { (t.new_token) " #" (issued.id) " · " (issued.channel) }
                textarea.token #new-token readonly { (issued.token) }
                p { (t.new_token_hint) }
                @if telegram {
                    p { (t.telegram_hint) }
                    pre #snippet-base-url { code { (base) "/bot" } }
                    pre #snippet-curl { code { "curl \"" (base) "/bot" (issued.token) "/getMe\"" } }
                } @else {
                    p { (t.broker_hint) }
                    pre #snippet-curl { code { "curl -H \"Authorization: Bearer " (issued.token) "\" \"" (base) "/…\"" } }
                }
            }
        }
    });
    let mut response = render(&s, &ctx, &p, notice, StatusCode::OK).await;
    if flash::present(&headers) {
        response.headers_mut().append(
            header::SET_COOKIE,
            flash::clear(!s.signin.config.plain_http),
        );
    }
    response
}

pub async fn issue(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = ctx.lang.texts();
    // The gate below says why a token cannot be issued; the page says it in words.
    if !csrf_ok(&p, &form) {
        return form_expired(&s, &ctx, &p).await;
    }
    let channel = field(&form, "channel").and_then(|c| ChannelId::parse(c).ok());
    let ttl = field(&form, "ttl").and_then(|v| humantime::parse_duration(v).ok());
    let Some(live) = channel.as_ref().and_then(|c| s.registry.get(c)) else {
        return render(
            &s,
            &ctx,
            &p,
            Some(message("error", t.no_channels)),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let refused =
        |e: &dyn std::fmt::Display| Some(message("error", &format!("{} {e}", t.gate_refused)));
    let facts = match s.compliance.facts(&p.session.staff).await {
        Ok(f) => f,
        Err(e) => return failed(&ctx, &e),
    };
    let cleared = match s
        .compliance
        .clear(&p.session.staff, &facts, p.session.requester())
    {
        Ok(c) => c,
        Err(e) => return render(&s, &ctx, &p, refused(&e), StatusCode::FORBIDDEN).await,
    };
    let actor = Actor(format!("staff:{}", p.session.staff.username));
    let req = IssueRequest {
        actions: None,
        ttl,
        session: Some(p.session.id),
    };
    match compliance::issue_token(&s.tokens, &actor, cleared, &live, req).await {
        Ok(issued) => {
            // Shown by the GET this redirects to, once: a refresh never issues again.
            let token = secrecy::ExposeSecret::expose_secret(&issued.token).to_owned();
            let shown =
                flash::Issued::new(p.session.id, issued.id, issued.channel.to_string(), token);
            let mut response = Redirect::to("/me").into_response();
            if let Some(v) = flash::set(&s.signin.key, &shown, !s.signin.config.plain_http) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Err(e) => render(&s, &ctx, &p, refused(&e), StatusCode::FORBIDDEN).await,
    }
}

pub async fn revoke(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&p, &form) {
        return form_expired(&s, &ctx, &p).await;
    }
    if let Some(id) = field(&form, "id").and_then(|v| v.parse::<i64>().ok()) {
        let actor = Actor(format!("staff:{}", p.session.staff.username));
        if let Err(e) = s.tokens.revoke_own(&actor, &p.session.staff, id).await {
            tracing::info!(error = %e, "own token revoke refused");
        }
    }
    Redirect::to("/me").into_response()
}

/// Ends one of my other sessions (a device I no longer use or trust).
pub async fn end_session(
    State(s): State<Arc<AppState>>,
    Signed { ctx, page: p }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&p, &form) {
        return form_expired(&s, &ctx, &p).await;
    }
    let target = field(&form, "id").and_then(|v| v.parse::<i64>().ok());
    match target {
        // This session ends through "sign out", which also leaves the provider.
        Some(id) if id != p.session.id => {
            if let Err(e) = s.signin.end_session(&p.session, id).await {
                return failed(&ctx, &e);
            }
        }
        _ => {}
    }
    Redirect::to("/me").into_response()
}

pub async fn end_all(
    State(s): State<Arc<AppState>>,
    Signed { page: p, .. }: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !csrf_ok(&p, &form) {
        return Redirect::to("/me").into_response();
    }
    if let Err(e) = s.signin.logout_everywhere(&p.session).await {
        tracing::error!(error = %e, "signing out everywhere failed");
    }
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(!s.signin.config.plain_http)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
