//! Audit: the log newest first with filters (person, event, actor, time), each entry's
//! details as a readable list, and the chain's verification naming the first bad entry.
//! For auditors and admins; HR reads receipts, not the log.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::{Console, refusal, when};
use crate::store::audit::AuditFilter;
use crate::web::AppState;

const PAGE: i64 = 100;

fn given<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// `2026-12-01` as the start of that day (UTC), in ms.
fn day(raw: Option<&str>) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(raw?, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// An entry's details, one line per field, values as plain text.
fn details(raw: &str) -> Markup {
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw) {
        Ok(map) => html! { dl.facts { @for (k, v) in &map {
            dt { (k) } dd { @match v { serde_json::Value::String(s) => (s), other => (other.to_string()) } }
        } } },
        Err(_) => html! { code { (raw) } },
    }
}

pub async fn show(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    if c.principal.auditor().is_err() {
        return c.refused(StatusCode::FORBIDDEN, t.not_allowed);
    }
    let filter = AuditFilter {
        subject: given(&q, "person").map(str::to_owned),
        event: given(&q, "event").map(str::to_owned),
        actor: given(&q, "actor").map(str::to_owned),
        from: day(given(&q, "from")),
        to: day(given(&q, "to")).map(|d| d + 86_400_000),
        before: given(&q, "before").and_then(|b| b.parse().ok()),
        limit: PAGE,
    };
    let entries = match crate::store::audit::search(s.store.pool(), &filter).await {
        Ok(e) => e,
        Err(e) => return refusal(&c, e),
    };
    let verified = if q.contains_key("verify") {
        match crate::audit::verify(&s.store).await {
            Ok(v) => Some(v),
            Err(e) => return refusal(&c, e),
        }
    } else {
        None
    };
    let older = (entries.len() as i64 == PAGE).then(|| {
        let mut next: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "before" | "verify" | "lang"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.push((
            "before".into(),
            entries.last().map_or(0, |e| e.seq).to_string(),
        ));
        serde_urlencoded::to_string(next).unwrap_or_default()
    });
    let body = html! {
        @if let Some(v) = &verified {
            @match &v.first_bad {
                None => p.msg.note #chain { (t.chain_ok) " (" (v.entries) ")" },
                Some(bad) => p.msg.error #chain role="alert" { (t.chain_broken) ": " (bad.to_string()) },
            }
        }
        form.filters method="get" action="/console/audit" {
            div { label for="person" { (t.subject) } input #person type="search" name="person" value=[given(&q, "person")] maxlength="256"; }
            div { label for="event" { (t.event) } input #event type="search" name="event" value=[given(&q, "event")] maxlength="64"; }
            div { label for="actor" { (t.actor) } input #actor type="search" name="actor" value=[given(&q, "actor")] maxlength="256"; }
            div { label for="from" { (t.from) } input #from type="date" name="from" value=[given(&q, "from")]; }
            div { label for="to" { (t.to) } input #to type="date" name="to" value=[given(&q, "to")]; }
            div { button #filter type="submit" { (t.filter) } }
        }
        form method="get" action="/console/audit" { input type="hidden" name="verify" value="1"; button.secondary #verify type="submit" { (t.verify_chain) } }
        div.scroll tabindex="0" { table #audit {
            tr { th { "#" } th { (t.when) } th { (t.actor) } th { (t.event) } th { (t.subject) } th { (t.details) } }
            @for e in &entries { tr id={ "entry-" (e.seq) } {
                td { (e.seq) } td { (when(t, Some(e.at))) } td { (e.actor) } td { (e.event) } td { (e.subject) }
                td { (details(&e.details)) }
            } }
        } }
        @if let Some(older) = &older { p { a #older href={ "/console/audit?" (older) } { (t.next_page) " →" } } }
    };
    c.render(StatusCode::OK, t.audit, "/console/audit", body)
}
