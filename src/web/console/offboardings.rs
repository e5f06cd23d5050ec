//! Offboardings: every receipt (HR's, the directory's, a schedule's), newest first,
//! searchable by name or username; each opens the printable receipt page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{Console, refusal, when};
use crate::web::AppState;

const PAGE: u32 = 50;

pub async fn list(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    let text = q
        .get("q")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 256);
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let rows = match crate::store::offboardings::page(s.store.pool(), text, before, PAGE).await {
        Ok(rows) => rows,
        Err(e) => return refusal(&c, e),
    };
    let receipts: Vec<(i64, crate::offboarding::Receipt)> = rows
        .into_iter()
        .filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?)))
        .collect();
    let older = (receipts.len() == PAGE as usize)
        .then(|| receipts.last().map(|(id, _)| *id))
        .flatten();
    let body = html! {
        form.filters method="get" action="/console/offboardings" role="search" {
            div { label for="q" { (t.search) } input #q type="search" name="q" value=[text] placeholder=(t.search_hint) maxlength="256"; }
            div { button #filter type="submit" { (t.filter) } }
        }
        @if receipts.is_empty() { p.muted { (t.nobody) } } @else {
            div.scroll tabindex="0" { table #offboardings {
                tr { th { (t.offboarded_at) } th { (t.username) } th { (t.name) } th { (t.by) } th { (t.reason) } th { (t.tokens_revoked) } }
                @for (_, r) in &receipts { tr {
                    td { (when(t, Some(r.offboarded_at.timestamp_millis()))) }
                    td { a href={ "/console/people/" (r.staff) "/receipt" } { (r.staff) } }
                    td { (r.name) } td { (r.by) } td { (r.reason) } td { (r.tokens_revoked) }
                } }
            } }
        }
        @if let Some(id) = older {
            p { a #older href={ "/console/offboardings?" (serde_urlencoded::to_string([("q", text.unwrap_or("")), ("before", &id.to_string())]).unwrap_or_default()) } { (t.next_page) " →" } }
        }
    };
    c.render(
        StatusCode::OK,
        t.offboardings,
        "/console/offboardings",
        body,
    )
}
