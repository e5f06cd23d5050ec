//! Access review: who can reach what, the policy that grants each cell, filters, and a CSV
//! of the whole matrix streamed a page of people at a time (never held in memory).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{Console, ConsoleTexts, when};
use crate::access::page::{Blocked, Gate, ReviewQuery, ReviewRow, review_page};
use crate::domain::staff::StaffStatus;
use crate::domain::time::{now_millis, to_datetime};
use crate::domain::{Action, ChannelId};
use crate::store::people::PersonRow;
use crate::web::AppState;

/// People read per page on screen (a page ends early at [`ROWS`] rows), and per read while
/// streaming the CSV.
const ON_SCREEN: u32 = 25;
const ROWS: usize = 100;
const PER_READ: u32 = 500;

/// The first-login gate as configured now.
struct FirstLogin {
    need_totp: bool,
    need_nda: bool,
    nda: Arc<crate::compliance::nda::NdaSet>,
    now: i64,
}

impl Gate for FirstLogin {
    fn blocked(&self, p: &PersonRow) -> Option<Blocked> {
        if self.need_totp && !p.totp_enrolled {
            Some(Blocked::NoTotp)
        } else if self.need_nda && !self.nda.satisfied(&p.nda_acked, self.now) {
            Some(Blocked::NdaMissing)
        } else {
            None
        }
    }
}

fn gate(s: &AppState) -> FirstLogin {
    let config = &s.compliance.config;
    FirstLogin {
        need_totp: config.require_totp,
        need_nda: config.require_nda,
        nda: s.compliance.nda(),
        now: now_millis(),
    }
}

fn given<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// The filters from the query string; a value that does not parse is ignored, not guessed.
fn query(q: &HashMap<String, String>, people: u32, rows: usize) -> ReviewQuery {
    ReviewQuery {
        channel: given(q, "channel").and_then(|c| ChannelId::parse(c).ok()),
        group: given(q, "group").map(str::to_owned),
        action: given(q, "action").and_then(|a| Action::parse(a).ok()),
        unused_days: given(q, "unused").and_then(|d| d.parse().ok()),
        after: given(q, "after").map(str::to_owned),
        people,
        rows,
    }
}

fn token_cell(t: &ConsoleTexts, r: &ReviewRow) -> String {
    match (r.live_tokens, r.blocked) {
        (0, _) => "0".into(),
        (n, None) => n.to_string(),
        (n, Some(Blocked::NoTotp)) => format!("{n} ({})", t.blocked_totp),
        (n, Some(Blocked::NdaMissing)) => format!("{n} ({})", t.blocked_nda),
    }
}

pub async fn show(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    // A filter that does not parse is said, not dropped: an unfiltered list read as a
    // filtered one would mislead a review.
    let unknown_action = given(&q, "action").is_some_and(|a| Action::parse(a).is_err());
    let unknown_channel = given(&q, "channel").is_some_and(|ch| ChannelId::parse(ch).is_err());
    if unknown_action || unknown_channel {
        return c.refused(StatusCode::BAD_REQUEST, t.bad_filter);
    }
    let filters = query(&q, ON_SCREEN, ROWS);
    let page = match review_page(&s.store, &s.engine, &s.registry, &gate(&s), &filters).await {
        Ok(page) => page,
        Err(e) => return crate::web::pages::failed(&c.ctx, &e),
    };
    let words = c.ctx.lang.texts();
    let channels = s.registry.all();
    let own: Vec<(String, String)> = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "after" | "lang"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let csv = serde_urlencoded::to_string(&own).unwrap_or_default();
    let next = page.next_after.as_ref().map(|after| {
        let mut next = own.clone();
        next.push(("after".into(), after.clone()));
        serde_urlencoded::to_string(next).unwrap_or_default()
    });
    let chosen = |name: &str, value: &str| given(&q, name) == Some(value);
    let body = html! {
        form.filters method="get" action="/console/access" {
            div { label for="channel" { (t.channel) }
                select #channel name="channel" { option value="" { (t.any) }
                    @for ch in &channels { option value=(ch.spec.id.as_str()) selected[chosen("channel", ch.spec.id.as_str())] { (ch.spec.id.as_str()) } } } }
            div { label for="group" { (t.group) }
                input #group type="text" name="group" value=[given(&q, "group")] maxlength="128"; }
            div { label for="action" { (t.actions) }
                select #action name="action" { option value="" { (t.any) }
                    @for a in Action::ALL { option value=(a.as_str()) selected[chosen("action", a.as_str())] { (words.actions_in_words(crate::domain::ActionSet::EMPTY.with(a))) } } } }
            div { label for="unused" { (t.unused_days) }
                input #unused type="number" name="unused" min="1" max="3650" value=[given(&q, "unused")]; }
            div { button #filter type="submit" { (t.filter) } }
        }
        p { a #csv href={ "/console/access.csv?" (csv) } download="access-review.csv" { (t.download_csv) } }
        div.scroll tabindex="0" { table #review {
            thead { tr { th { (t.username) } th { (t.channel) } th { (t.actions) } th { (t.granted_by) }
                th { (t.live_tokens) } th { (t.last_use) } th { (t.leaves) } } }
            tbody { @for r in &page.rows { tr {
                td { a href={ "/console/people/" (r.staff) } { (r.staff) } br; span.muted { (r.name) } }
                td { (r.channel) }
                td { (words.actions_in_words(r.actions))
                    @if r.status == StaffStatus::Pending { br; span.muted { (t.will_reach) } } }
                td { @for p in &r.policies { code { (p) } " " } }
                td class=(if r.blocked.is_some() && r.live_tokens > 0 { "bad" } else { "" }) { (token_cell(t, r)) }
                td { (when(t, r.last_used_at)) }
                td { @if r.leaves_at.is_some() { (when(t, r.leaves_at)) } }
            } } }
        } }
        @if let Some(next) = &next { p { a #next-page href={ "/console/access?" (next) } { (t.next_page) " →" } } }
    };
    c.render(StatusCode::OK, t.access_review, "/console/access", body)
}

/// A CSV cell: quoted, and a leading `= + - @` neutralised so a spreadsheet does not run
/// a name from the directory as a formula.
pub fn cell(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

fn rfc3339(ms: Option<i64>) -> String {
    ms.map(|ms| to_datetime(ms).to_rfc3339())
        .unwrap_or_default()
}

fn csv_line(r: &ReviewRow) -> String {
    let state = match (r.live_tokens, r.blocked) {
        (0, _) => "",
        (_, None) => "live",
        (_, Some(Blocked::NoTotp)) => "blocked_no_totp",
        (_, Some(Blocked::NdaMissing)) => "blocked_nda_missing",
    };
    let actions: Vec<&str> = r.actions.iter().map(|a| a.as_str()).collect();
    [
        cell(&r.staff),
        cell(&r.name),
        cell(r.status.as_str()),
        cell(&r.channel),
        cell(&actions.join(" ")),
        cell(&r.policies.join(" ")),
        r.live_tokens.to_string(),
        cell(state),
        cell(&rfc3339(r.last_used_at)),
        cell(&rfc3339(r.leaves_at)),
    ]
    .join(",")
        + "\r\n"
}

const HEADER: &str = "staff,name,status,channel,actions,policies,live_tokens,tokens_state,last_used_at,leaves_at\r\n";

/// The whole matrix (with the page's filters), streamed a page of people at a time.
pub async fn csv(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut first = query(&q, PER_READ, usize::MAX);
    first.after = None;
    tracing::info!(actor = %c.principal.actor().0, "access review exported as CSV");
    let start = (Some(first), true);
    let stream = futures_util::stream::unfold(start, move |(next, header)| {
        let s = s.clone();
        async move {
            if header {
                return Some((
                    Ok(bytes::Bytes::from_static(HEADER.as_bytes())),
                    (next, false),
                ));
            }
            let q = next?;
            match review_page(&s.store, &s.engine, &s.registry, &gate(&s), &q).await {
                Ok(page) => {
                    let text: String = page.rows.iter().map(csv_line).collect();
                    let next = page.next_after.map(|after| ReviewQuery {
                        after: Some(after),
                        ..q
                    });
                    Some((Ok(bytes::Bytes::from(text)), (next, false)))
                }
                Err(e) => {
                    // The client sees a cut-off download, never half a line as if complete.
                    tracing::error!(error = %e, "access review CSV failed mid-way");
                    Some((
                        Err(std::io::Error::other("the review could not be read")),
                        (None, false),
                    ))
                }
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-review.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn a_csv_cell_is_quoted_and_never_a_formula() {
        assert_eq!(cell("alice"), "\"alice\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
    }
}
