//! Agreements: NDA versions in force and upcoming, who acknowledged the chosen version
//! (when, in which language), who is missing, and both as CSV.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::{Console, refusal, when};
use crate::domain::time::{now_millis, to_datetime};
use crate::web::AppState;

/// Rows shown on the page per list; the CSV has them all.
const SHOWN: usize = 500;

pub async fn show(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let t = c.t();
    let nda = s.compliance.nda();
    let version = q
        .get("version")
        .filter(|v| v.len() <= 64)
        .map(String::as_str);
    let report = match s.compliance.report(version).await {
        Ok(r) => r,
        Err(e) => return refusal(&c, e),
    };
    let today = to_datetime(now_millis()).date_naive();
    let body = html! {
        div.scroll tabindex="0" { table #versions {
            tr { th { (t.version) } th { (t.name) } th { (t.in_force) } th {} }
            @for v in nda.versions() { tr {
                td { a href={ "/console/agreements?version=" (v.version) } { (v.version) } }
                td { (v.title) }
                td { (v.effective.format("%Y-%m-%d").to_string()) @if v.effective > today { " (" (t.when) " →)" } }
                td { @if report.version.as_deref() == Some(v.version.as_str()) { strong { "◀" } } }
            } }
        } }
        @if let Some(v) = &report.version {
            p { a #agreements-csv href={ "/console/agreements.csv?version=" (v) } download { (t.download_csv) } }
            h2 { (t.acknowledged) " (" (report.acknowledged.len()) ")" }
            div.scroll tabindex="0" { table #acknowledged {
                tr { th { (t.username) } th { (t.name) } th { (t.when) } th { "lang" } }
                @for a in report.acknowledged.iter().take(SHOWN) { tr {
                    td { (a.username) } td { (a.name) } td { (when(t, Some(a.at))) } td { (a.language) }
                } }
            } }
            h2 { (t.missing) " (" (report.missing.len()) ")" }
            div.scroll tabindex="0" { table #missing {
                tr { th { (t.username) } th { (t.name) } th { (t.status_col) } }
                @for m in report.missing.iter().take(SHOWN) { tr {
                    td { (m["username"].as_str().unwrap_or("")) } td { (m["name"].as_str().unwrap_or("")) } td { (m["status"].as_str().unwrap_or("")) }
                } }
            } }
        }
    };
    c.render(StatusCode::OK, t.agreements, "/console/agreements", body)
}

/// Who acknowledged the version and who is missing, one line each.
pub async fn csv(
    State(s): State<Arc<AppState>>,
    c: Console,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let version = q
        .get("version")
        .filter(|v| v.len() <= 64)
        .map(String::as_str);
    let report = match s.compliance.report(version).await {
        Ok(r) => r,
        Err(e) => return refusal(&c, e),
    };
    let mut out = String::from("username,name,state,acknowledged_at,language\r\n");
    for a in &report.acknowledged {
        let at = to_datetime(a.at).to_rfc3339();
        let line = [
            super::review::cell(&a.username),
            super::review::cell(&a.name),
            "\"acknowledged\"".into(),
            super::review::cell(&at),
            super::review::cell(&a.language),
        ];
        out.push_str(&(line.join(",") + "\r\n"));
    }
    for m in &report.missing {
        let text = |k: &str| super::review::cell(m[k].as_str().unwrap_or(""));
        let line = [
            text("username"),
            text("name"),
            "\"missing\"".into(),
            "\"\"".into(),
            "\"\"".into(),
        ];
        out.push_str(&(line.join(",") + "\r\n"));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"agreements.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
