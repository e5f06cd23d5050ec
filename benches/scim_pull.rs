//! SCIM pull of a real identity provider's users: Canaille 0.3.6 with 10,000 users, read by
//! a `[scim_pull]` source with a client-credentials token Canaille issues, reconciled and
//! applied on SQLite. Reports the first pull (10,000 joiners) whole and how much of it was
//! Canaille answering, then a second pull that changes nothing.
//!
//! `cargo bench --bench scim_pull` (10,000 users); under `cargo test`, 50.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::canaille::Canaille;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::Value;

/// The last finished pull; a failed one ends the bench with its error.
async fn last_sync(app: &TestApp) -> Option<Value> {
    let (_, v) = app.api(Method::GET, "/sync/status", None).await;
    let source = v["sources"]
        .as_array()?
        .iter()
        .find(|s| s["source"] == "idp")?
        .clone();
    assert!(source["last_error"].is_null(), "{source}");
    Some(source["last_sync"].clone()).filter(|l| !l.is_null())
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 10_000 } else { 50 };
    let canaille = Canaille::start();
    canaille.reader_client("sg-reader", "bench-secret");
    canaille.seed_users(n);
    let text = format!(
        "[idp]\nurl = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"sg-reader\"\n\
         client_secret = \"bench-secret\"\ninterval = \"1h\"\ngroups = false\ntimeout = \"300s\"\n",
        canaille.scim_url(),
        canaille.token_url()
    );
    let pulls =
        staffgate::config::scim_pull::parse_sources(&toml::from_str(&text).unwrap()).unwrap();
    let started = Instant::now();
    // The daemon pulls once at start.
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.scim_pull = pulls).await;
    let first = loop {
        if let Some(l) = last_sync(&app).await {
            break l;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no pull finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let wall = started.elapsed();
    assert_eq!(first["joiners"], n, "{first}");
    println!(
        "first pull of {n} users from Canaille: {:.2?} wall (daemon start included); the run {} ms, of which Canaille's answers {} ms",
        wall, first["duration_ms"], first["search_ms"]
    );
    let t = Instant::now();
    let (s, v) = app.api(Method::POST, "/sync/idp", None).await;
    assert_eq!(s, 200, "{v}");
    let again = last_sync(&app).await.unwrap();
    assert_eq!(again["joiners"], 0, "{again}");
    assert_eq!(again["leavers"], 0, "{again}");
    println!(
        "second pull (no change): {:.2?}; the run {} ms, of which Canaille's answers {} ms",
        t.elapsed(),
        again["duration_ms"],
        again["search_ms"]
    );
    app.stop().await;
}
