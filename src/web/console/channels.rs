//! Channels: the list with kind, upstream, whether a secret is set, and last use; for an
//! admin, adding one by kind or preset, setting or replacing its secret (write-only: the
//! page never shows it), and revoking every token on it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use secrecy::SecretString;

use super::{Console, refusal, when};
use crate::domain::channel::{ChannelInput, ChannelSpec};
use crate::domain::{ChannelId, ErrorCode, Role};
use crate::web::AppState;
use crate::web::error::ApiError;

pub async fn list(State(s): State<Arc<AppState>>, c: Console) -> Response {
    let t = c.t();
    let (channels, last) = match tokio::try_join!(
        async { s.channels.list().await.map_err(ApiError::from) },
        async {
            crate::store::activity::last_use_by_channel(s.store.pool())
                .await
                .map_err(ApiError::from)
        },
    ) {
        Ok(found) => found,
        Err(e) => return refusal(&c, e),
    };
    let admin = c.role() == Role::Admin;
    let csrf = &c.page.csrf;
    let body = html! {
        div.scroll tabindex="0" { table #channels {
            tr { th { (t.channel) } th { (t.kind) } th { (t.upstream) } th { (t.tags) } th { (t.secret) } th { (t.last_use) } th {} }
            @for ch in &channels { tr id={ "channel-" (ch.id.as_str()) } {
                td { (ch.id.as_str()) br; a href={ "/console/access?channel=" (ch.id.as_str()) } { (t.who_reaches) } }
                td { (ch.preset.as_deref().unwrap_or(&ch.kind)) }
                td { code { (ch.upstream) } }
                td { (ch.tags.join(", ")) }
                td class=(if ch.secret_set { "ok" } else { "bad" }) { (if ch.secret_set { t.secret_set } else { t.secret_missing }) }
                td { (when(t, last.get(ch.id.as_str()).copied())) }
                td { @if admin {
                    form method="post" action={ "/console/channels/" (ch.id.as_str()) "/secret" } {
                        input type="hidden" name="csrf" value=(csrf);
                        label for={ "secret-" (ch.id.as_str()) } { (t.set_secret) }
                        input id={ "secret-" (ch.id.as_str()) } type="password" name="secret" autocomplete="off" required maxlength="4096";
                        button.secondary type="submit" { (t.set_secret) }
                    }
                    form method="post" action={ "/console/channels/" (ch.id.as_str()) "/revoke-tokens" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button.secondary type="submit" { (t.revoke_tokens) }
                    }
                } }
            } }
        } }
        @if admin {
            h2 { (t.add_channel) }
            form #add-channel method="post" action="/console/channels" {
                input type="hidden" name="csrf" value=(csrf);
                label for="new-id" { (t.channel) } input #new-id type="text" name="id" required maxlength="64" pattern="[a-z0-9-]+";
                label for="new-kind" { (t.kind) }
                select #new-kind name="kind" {
                    @for k in ["preset:whatsapp-cloud", "preset:vk", "preset:viber", "telegram", "bearer"] { option value=(k) { (k) } }
                }
                label for="new-upstream" { (t.upstream) } input #new-upstream type="text" name="upstream" required maxlength="512";
                label for="new-rules" { "Rules (METHOD PATH ACTION, one per line)" } textarea #new-rules name="rules" rows="3" maxlength="4096" {}
                label for="new-tags" { (t.tags) } input #new-tags type="text" name="tags" maxlength="512";
                button type="submit" { (t.add_channel) }
            }
        }
    };
    c.render(StatusCode::OK, t.channels, "/console/channels", body)
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidInput, message)
}

pub async fn add(
    State(s): State<Arc<AppState>>,
    c: Console,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let permit = match c.form_permit(c.principal.admin(), &form) {
        Ok(permit) => permit,
        Err(page) => return page,
    };
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let id = match ChannelId::parse(field("id")) {
        Ok(id) => id,
        Err(e) => return refusal(&c, bad(format!("id: {e}"))),
    };
    let (kind, preset) = match field("kind").strip_prefix("preset:") {
        Some(p) => (None, Some(p)),
        None => (Some(field("kind")), None),
    };
    let split = |raw: &str, sep: char| -> Vec<String> {
        raw.split(sep)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (rules, tags) = (split(field("rules"), '\n'), split(field("tags"), ','));
    let spec = ChannelSpec::parse(
        id,
        ChannelInput {
            kind,
            preset,
            header: None,
            param: None,
            upstream: field("upstream"),
            rules: &rules,
            tags: &tags,
            insecure_upstream: false,
        },
    );
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => return refusal(&c, bad(e.to_string())),
    };
    match s.channels.upsert(&permit, spec).await {
        Ok(_) => Redirect::to("/console/channels").into_response(),
        Err(e) => refusal(&c, e),
    }
}

pub async fn set_secret(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(id): Path<String>,
    Form(mut form): Form<HashMap<String, String>>,
) -> Response {
    let permit = match c.form_permit(c.principal.admin(), &form) {
        Ok(permit) => permit,
        Err(page) => return page,
    };
    let Ok(id) = ChannelId::parse(&id) else {
        return c.refused(StatusCode::NOT_FOUND, c.t().not_found);
    };
    let secret = match form.remove("secret") {
        Some(v) if !v.is_empty() && v.len() <= 4096 => SecretString::from(v),
        _ => return refusal(&c, bad("secret: give the channel's credential".into())),
    };
    match s.channels.set_secret(&permit, &id, secret).await {
        Ok(_) => Redirect::to("/console/channels").into_response(),
        Err(e) => refusal(&c, e),
    }
}

pub async fn revoke_tokens(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let permit = match c.form_permit(c.principal.admin(), &form) {
        Ok(permit) => permit,
        Err(page) => return page,
    };
    let Ok(id) = ChannelId::parse(&id) else {
        return c.refused(StatusCode::NOT_FOUND, c.t().not_found);
    };
    if let Err(e) = s.channels.get(&id).await {
        return refusal(&c, e);
    }
    match s
        .tokens
        .revoke_channel(&permit, &id, "revoked in the console")
        .await
    {
        Ok(_) => Redirect::to("/console/channels").into_response(),
        Err(e) => refusal(&c, e),
    }
}
