//! Offboarding from the console: a confirmation naming what will be revoked, the receipt
//! page (refreshing until every replica confirmed), schedules in a named time zone, their
//! cancellation, and reinstatement. Each needs HR's permit, checked again on the POST.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::person::{back, find, person_form};
use super::{Console, refusal, when};
use crate::domain::receipt::ReplicaState;
use crate::offboarding::OffboardAnswer;
use crate::web::AppState;
use crate::web::pages::layout::message;

/// How long the POST waits for every replica before showing the receipt anyway (the page
/// then refreshes until they confirm).
const WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn reason_of(form: &HashMap<String, String>) -> Option<&str> {
    form.get("reason")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty() && r.chars().count() <= 500)
}

/// "Offboard now", step one: what will be revoked, and the button that does it.
pub async fn confirm(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    if c.principal.hr().is_err() {
        return c.refused(StatusCode::FORBIDDEN, t.not_allowed);
    }
    let staff = match find(&s, &c, &raw).await {
        Ok(staff) => staff,
        Err(page) => return page,
    };
    let Some(reason) = reason_of(&q) else {
        return c.refused(StatusCode::BAD_REQUEST, t.reason_needed);
    };
    let live = match s.tokens.list(Some(staff.username.as_str()), None).await {
        Ok(list) => list.into_iter().filter(|t| t.state == "live").count(),
        Err(e) => return refusal(&c, e),
    };
    let reach = s.registry.reachable(&s.engine, &staff);
    let base = format!("/console/people/{}", staff.username);
    let body = html! {
        p { (t.will_revoke) }
        ul #will-revoke {
            li { strong { (live) } " " (t.will_tokens) }
            li { (t.will_sessions) }
            li { (t.will_channels) ": "
                @for (i, r) in reach.iter().enumerate() { @if i > 0 { ", " } (r.channel.spec.id.as_str()) }
                @if reach.is_empty() { span.muted { (t.none) } } }
        }
        p { strong { (t.reason) ": " } (reason) }
        form method="post" action={ (base) "/offboard" } {
            input type="hidden" name="csrf" value=(c.page.csrf);
            input type="hidden" name="reason" value=(reason);
            button.danger #confirm-offboard type="submit" { (t.confirm_offboard) " " (staff.username) }
        }
        p { a href=(base) { (t.cancel) } }
    };
    let title = format!("{}: {}", t.offboard_now, staff.username);
    c.render(StatusCode::OK, &title, &base, body)
}

/// "Offboard now", step two: offboards, then shows the receipt (redirect after POST).
pub async fn offboard(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    let (permit, staff) = match person_form(&s, &c, c.principal.hr(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(reason) = reason_of(&form) else {
        return c.refused(StatusCode::BAD_REQUEST, t.reason_needed);
    };
    let receipt = format!("/console/people/{}/receipt", staff.username);
    match s
        .offboarding
        .offboard(&permit, &staff.username, reason, WAIT)
        .await
    {
        // Done or still being written: the receipt page shows which, and refreshes.
        Ok(OffboardAnswer::Done(_) | OffboardAnswer::InProgress) => {
            Redirect::to(&receipt).into_response()
        }
        Err(e) => refusal(&c, e),
    }
}

/// The receipt: revoked per channel, and each replica's confirmation; it refreshes itself
/// every two seconds until every replica confirmed.
pub async fn receipt(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
) -> Response {
    let t = c.t();
    let staff = match find(&s, &c, &raw).await {
        Ok(staff) => staff,
        Err(page) => return page,
    };
    let r = match s.offboarding.receipt_now(&staff.username).await {
        Ok(r) => r,
        Err(crate::offboarding::OffboardError::NoReceipt(_)) => {
            let body =
                html! { meta http-equiv="refresh" content="2"; (message("note", t.in_progress)) };
            return c.render(StatusCode::OK, t.receipt, "/console/people", body);
        }
        Err(e) => return refusal(&c, e),
    };
    let words = c.ctx.lang.texts();
    let settled = r.propagation.as_ref().is_none_or(|p| p.confirmed);
    let body = html! {
        @if !settled { meta http-equiv="refresh" content="2"; }
        dl.facts {
            dt { (t.name) } dd { (r.name) " (" (r.staff) ", " (r.email) ")" }
            dt { (t.offboarded_at) } dd { (when(t, Some(r.offboarded_at.timestamp_millis()))) }
            dt { (t.by) } dd { (r.by) }
            dt { (t.reason) } dd { (r.reason) }
            dt { (t.tokens_revoked) } dd #tokens-revoked { (r.tokens_revoked) }
            dt { (t.sessions_ended) } dd { (r.sessions_ended) }
            dt { (t.keys_revoked) } dd { (r.api_keys_revoked) }
        }
        h2 { (t.channels) }
        div.scroll tabindex="0" { table #receipt-channels { tr { th { (t.channel) } th { (t.actions) } th { (t.tokens_revoked) } th { (t.last_use) } }
            @for line in &r.channels { tr {
                td { (line.channel) } td { (words.actions_in_words(line.actions)) } td { (line.tokens_revoked) }
                td { (when(t, line.last_used_at.map(|d| d.timestamp_millis()))) }
            } } } }
        h2 { (t.replicas) }
        @if let Some(p) = &r.propagation {
            @if p.confirmed { (message("note", t.all_confirmed)) } @else { p.muted { (t.waiting_replicas) } }
            div.scroll tabindex="0" { table #replicas { tr { th { (t.replica) } th { (t.state) } th { (t.confirmed_after) } }
                @for rep in &p.replicas { tr {
                    td { (rep.name) }
                    td class=(if rep.state == ReplicaState::Confirmed { "ok" } else { "bad" }) { (match rep.state {
                        ReplicaState::Confirmed => t.state_confirmed,
                        ReplicaState::Pending => t.state_pending,
                        ReplicaState::FailingClosed => t.state_failing_closed,
                    }) }
                    td { @if let Some(ms) = rep.confirmed_after_ms { (ms) " ms" } }
                } } } }
        }
        p.noprint { a href={ "/console/people/" (r.staff) } { "← " (r.staff) } }
    };
    let title = format!("{}: {}", t.receipt, r.staff);
    c.render(StatusCode::OK, &title, "/console/people", body)
}

/// `2026-12-31T18:00` in `Europe/Moscow` → the instant, or none.
fn instant(local: &str, zone: &str) -> Option<(i64, chrono_tz::Tz)> {
    let zone: chrono_tz::Tz = zone.trim().parse().ok()?;
    // Browsers send `datetime-local` with seconds when the field's step asks for them.
    let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(local.trim(), f).ok())?;
    // A local time that a clock change skips or repeats is refused rather than guessed.
    let at = naive.and_local_timezone(zone).single()?;
    Some((at.timestamp_millis(), zone))
}

pub async fn schedule(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    let (permit, staff) = match person_form(&s, &c, c.principal.hr(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(reason) = reason_of(&form) else {
        return c.refused(StatusCode::BAD_REQUEST, t.reason_needed);
    };
    let at = form.get("at").map(String::as_str).unwrap_or("");
    let zone = form.get("zone").map(String::as_str).unwrap_or("UTC");
    let Some((millis, zone)) = instant(at, zone) else {
        return c.refused(StatusCode::BAD_REQUEST, t.bad_time);
    };
    match s
        .offboarding
        .schedule(&permit, &staff.username, millis, Some(zone), reason)
        .await
    {
        Ok(_) => back(&staff.username),
        Err(e) => refusal(&c, e),
    }
}

pub async fn cancel(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (permit, staff) = match person_form(&s, &c, c.principal.hr(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(id) = form.get("id").and_then(|v| v.parse::<i64>().ok()) else {
        return c.refused(StatusCode::BAD_REQUEST, c.t().not_found);
    };
    // Only a schedule of the person on this page: an id from another page is refused.
    let ours = match s.offboarding.scheduled().await {
        Ok(rows) => rows
            .iter()
            .any(|r| r.id == id && r.staff == staff.username.as_str()),
        Err(e) => return refusal(&c, e),
    };
    if !ours {
        return refusal(
            &c,
            crate::offboarding::OffboardError::ScheduleNotPending(id),
        );
    }
    match s.offboarding.cancel_scheduled(&permit, id).await {
        Ok(()) => back(&staff.username),
        Err(e) => refusal(&c, e),
    }
}

pub async fn reinstate(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (permit, staff) = match person_form(&s, &c, c.principal.hr(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(reason) = reason_of(&form) else {
        return c.refused(StatusCode::BAD_REQUEST, c.t().reason_needed);
    };
    match s
        .offboarding
        .reinstate(&permit, &staff.username, reason)
        .await
    {
        Ok(_) => back(&staff.username),
        Err(e) => refusal(&c, e),
    }
}

#[cfg(test)]
mod tests {
    use super::instant;

    #[test]
    fn a_schedule_is_read_in_the_zone_it_was_entered_in() {
        let (ms, zone) = instant("2026-12-31T18:00", "Europe/Moscow").unwrap();
        assert_eq!(zone.name(), "Europe/Moscow");
        // 18:00 in Moscow (UTC+3) is 15:00 UTC.
        assert_eq!(ms, 1_798_729_200_000);
    }

    #[test]
    fn a_skipped_local_time_or_an_unknown_zone_is_refused() {
        // Clocks in Berlin jump from 02:00 to 03:00 on 2027-03-28.
        assert!(instant("2027-03-28T02:30", "Europe/Berlin").is_none());
        assert!(instant("2026-12-31T18:00", "Mars/Olympus").is_none());
        assert!(instant("31.12.2026 18:00", "UTC").is_none());
    }
}
