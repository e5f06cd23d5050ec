//! Status: replicas (state, lag, heartbeat), readiness, which replica runs each job, and
//! the mail outbox.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{Console, refusal};
use crate::web::AppState;

pub async fn show(State(s): State<Arc<AppState>>, c: Console) -> Response {
    let t = c.t();
    let overview = match crate::replica::status::overview(&s.store, &s.presence).await {
        Ok(o) => o,
        Err(e) => return refusal(&c, e),
    };
    let outbox = match &s.mail {
        Some(_) => crate::mail::outbox(&s.store).await.ok().map(|d| d.waiting),
        None => None,
    };
    let body = html! {
        h2 { (t.replicas) }
        div.scroll tabindex="0" { table #replicas {
            tr { th { (t.replica) } th { (t.state) } th { (t.lag) } th { (t.heartbeat) } th { (t.started) } }
            @for r in &overview.replicas { tr {
                td { (r.name) @if r.this { " ★" } }
                td class=(if r.state == "serving" { "ok" } else { "bad" }) { (r.state) }
                td { (r.lag_entries) }
                td { (r.last_heartbeat_ms_ago) " ms" }
                td { (r.started_at.format("%Y-%m-%d %H:%M UTC")) }
            } }
        } }
        h2 { (t.jobs) }
        div.scroll tabindex="0" { table #jobs {
            tr { th { (t.jobs) } th { (t.holder) } }
            @for j in &overview.jobs { tr { td { (j.job) } td { (j.holder) } } }
        } }
        h2 { (t.outbox) }
        p #outbox { @match outbox { Some(n) => { (n) " " (t.waiting) }, None => span.muted { (t.none) } } }
    };
    c.render(StatusCode::OK, t.status, "/console/status", body)
}
