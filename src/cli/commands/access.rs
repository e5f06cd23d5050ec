//! `staffgate access`: who can reach which channel, why, and when it was last used.

use reqwest::Method;

use super::{Client, query, render};
use crate::access::AccessRow;
use crate::cli::Format;

pub async fn run(
    api: &Client,
    format: Format,
    channel: Option<String>,
    staff: Option<String>,
) -> anyhow::Result<()> {
    let q = query(&[("staff", staff), ("channel", channel)]);
    let rows: Vec<AccessRow> = api
        .call_as(Method::GET, &format!("/access?{q}"), None)
        .await?;
    let v = render::typed(&rows)?;
    let cols = [
        ("staff", "STAFF"),
        ("name", "NAME"),
        ("channel", "CHANNEL"),
        ("actions", "ACTIONS"),
        ("policies", "BECAUSE OF"),
        ("live_tokens", "LIVE TOKENS"),
        ("last_used_at", "LAST USED"),
    ];
    render::rows(format, &v, &cols)
}
