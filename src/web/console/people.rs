//! People: everyone staffgate knows, found by name, username or e-mail and filtered by
//! status, source and group, with first-login progress and use in each row.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::{Console, when};
use crate::domain::staff::StaffStatus;
use crate::store::people::{PeopleQuery, PersonRow};
use crate::web::AppState;

/// Rows on one page.
const PAGE: u32 = 50;

/// A query field worth filtering on: present, not blank, not absurdly long.
fn given<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

pub async fn list(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    let query = PeopleQuery {
        text: given(&q, "q").map(str::to_owned),
        status: given(&q, "status").and_then(StaffStatus::parse),
        source: given(&q, "source").map(str::to_owned),
        group: given(&q, "group").map(str::to_owned),
        not_offboarded: false,
        after: given(&q, "after").map(str::to_owned),
        limit: PAGE + 1,
    };
    // Source and group are typed, not chosen from a list: listing every distinct group
    // costs a scan of the membership table on each page (measured: the slowest part).
    let mut rows = match crate::store::people::page(s.store.pool(), &query).await {
        Ok(found) => found,
        Err(e) => return crate::web::pages::failed(&c.ctx, &e),
    };
    let more = rows.len() > PAGE as usize;
    rows.truncate(PAGE as usize);
    let nda = s.compliance.nda();
    let now = crate::domain::time::now_millis();
    let next = more.then(|| {
        let mut next: Vec<(String, String)> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "lang")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.push((
            "after".into(),
            rows.last().map(|r| r.username.clone()).unwrap_or_default(),
        ));
        serde_urlencoded::to_string(next).unwrap_or_default()
    });
    let chosen = |name: &str, value: &str| given(&q, name) == Some(value);
    let body = html! {
        form.filters method="get" action="/console/people" role="search" {
            div { label for="q" { (t.search) }
                input #q type="search" name="q" value=[given(&q, "q")] placeholder=(t.search_hint) maxlength="256"; }
            div { label for="status" { (t.status_col) }
                select #status name="status" {
                    option value="" { (t.any) }
                    @for st in [StaffStatus::Active, StaffStatus::Pending, StaffStatus::Offboarded] {
                        option value=(st.as_str()) selected[chosen("status", st.as_str())] { (t.staff_status(st)) }
                    }
                } }
            div { label for="source" { (t.source) }
                input #source type="search" name="source" value=[given(&q, "source")] placeholder="ldap:corp" maxlength="64"; }
            div { label for="group" { (t.group) }
                input #group type="search" name="group" value=[given(&q, "group")] maxlength="128"; }
            div { button #filter type="submit" { (t.filter) } }
        }
        @if rows.is_empty() { p.muted { (t.nobody) } } @else {
            div.scroll tabindex="0" { table #people {
                thead { tr {
                    th { (t.username) } th { (t.name) } th { (t.status_col) } th { (t.source) }
                    th { (t.totp) } th { (t.nda) } th { (t.last_signin) } th { (t.last_use) }
                    th { (t.live_tokens) } th { (t.leaves) }
                } }
                tbody { @for r in &rows { (row(t, r, nda.satisfied(&r.nda_acked, now))) } }
            } }
        }
        p {
            @if given(&q, "after").is_some() { a href="/console/people" { (t.first_page) } " " }
            @if let Some(next) = &next { a #next-page href={ "/console/people?" (next) } { (t.next_page) " →" } }
        }
    };
    c.render(StatusCode::OK, t.people, "/console/people", body)
}

fn row(t: &super::ConsoleTexts, r: &PersonRow, nda_ok: bool) -> maud::Markup {
    let yes_no = |b: bool| if b { t.yes } else { t.no };
    html! {
        tr id={ "person-" (r.username) } {
            td { a href={ "/console/people/" (r.username) } { (r.username) } }
            td { (r.name) br; span.muted { (r.email) } }
            td { (t.staff_status(r.status)) }
            td { (r.source) }
            td class=(if r.totp_enrolled { "ok" } else { "bad" }) { (yes_no(r.totp_enrolled)) }
            td class=(if nda_ok { "ok" } else { "bad" }) { (yes_no(nda_ok)) }
            td { (when(t, r.last_signin)) }
            td { (when(t, r.last_use)) }
            td { (r.live_tokens) }
            td { @if r.leaves_at.is_some() { (when(t, r.leaves_at)) } }
        }
    }
}
