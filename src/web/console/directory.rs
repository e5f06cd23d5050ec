//! Directory: every source's status (mode, live, lag, last sync, last error), the plans the
//! mass-offboarding guard held with who they would offboard, Confirm (admin), and a dry
//! run that shows what a sync would do without doing it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{Console, refusal, when};
use crate::directory::reconcile::Plan;
use crate::domain::Role;
use crate::web::AppState;
use crate::web::pages::layout::message;

pub async fn show(State(s): State<Arc<AppState>>, c: Console) -> Response {
    render(&s, &c, None).await
}

async fn render(s: &AppState, c: &Console, note: Option<Markup>) -> Response {
    let t = c.t();
    let held = match s.sync.held_plans().await {
        Ok(held) => held,
        Err(e) => return refusal(c, e),
    };
    let mut plans = Vec::new();
    for h in &held {
        let leavers = match s.sync.plan(h.id).await {
            Ok(view) => serde_json::from_value::<Plan>(view.plan)
                .map(|p| p.leavers)
                .unwrap_or_default(),
            Err(e) => return refusal(c, e),
        };
        plans.push((h, leavers));
    }
    let admin = c.role() == Role::Admin;
    let csrf = &c.page.csrf;
    let body = html! {
        @if let Some(n) = note { (n) }
        div.scroll tabindex="0" { table #sources {
            tr { th { (t.source) } th { (t.mode) } th { (t.live) } th { (t.lag) } th { (t.last_sync) } th { (t.errors) } th {} }
            @for src in s.sync.board.snapshot() { tr id={ "source-" (src.source) } {
                td { (src.source) } td { (src.mode) }
                td { (if src.connected { t.yes } else { t.no }) }
                td { @if let Some(lag) = src.lag_ms { (lag / 1000) " s" } }
                td { (when(t, src.last_sync.as_ref().map(|r| r.at.timestamp_millis()))) }
                td.bad { @if let Some(e) = &src.last_error { (e.message) } }
                td { @if admin {
                    form method="post" action={ "/console/directory/" (src.source) "/dry-run" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button.secondary type="submit" { (t.dry_run) } } } }
            } }
        } }
        h2 { (t.held_plans) }
        @if plans.is_empty() { p.muted { (t.no_held_plans) } }
        @for (h, leavers) in &plans {
            section id={ "plan-" (h.id) } {
                p { strong { "#" (h.id) " · " (h.source) } " · " (when(t, Some(h.created_at.timestamp_millis()))) br; (h.reason) }
                p { (t.would_offboard) " (" (leavers.len()) "):" }
                ul { @for l in leavers.iter().take(500) { li { a href={ "/console/people/" (l.username) } { (l.username) } " — " span.muted { (l.rule) } } } }
                @if admin {
                    form method="post" action={ "/console/directory/plans/" (h.id) "/confirm" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button.danger id={ "confirm-" (h.id) } type="submit" { (t.confirm_plan) }
                    }
                }
            }
        }
    };
    c.render(StatusCode::OK, t.directory, "/console/directory", body)
}

pub async fn confirm(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(id): Path<i64>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let permit = match c.form_permit(c.principal.admin(), &form) {
        Ok(permit) => permit,
        Err(page) => return page,
    };
    match s.sync.confirm(id, &permit).await {
        Ok(_) => Redirect::to("/console/directory").into_response(),
        Err(e) => refusal(&c, e),
    }
}

/// A dry run changes nothing, so its answer is rendered at once.
pub async fn dry_run(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(source): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let permit = match c.form_permit(c.principal.admin(), &form) {
        Ok(permit) => permit,
        Err(page) => return page,
    };
    match s.sync.full_sync(&source, true, permit.actor()).await {
        Ok(outcome) => {
            let p = &outcome.plan;
            let text = format!(
                "{}: {} joiners, {} movers, {} leavers ({})",
                source,
                p.joiners.len(),
                p.movers.len(),
                p.leavers.len(),
                c.t().dry_run
            );
            render(&s, &c, Some(message("note", &text))).await
        }
        Err(e) => refusal(&c, e),
    }
}
