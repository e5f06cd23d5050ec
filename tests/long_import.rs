//! A directory import that runs far longer than a job's lease lives (issue 16): it completes
//! once, on SQLite and on PostgreSQL, without the job being cut off and begun again, and on
//! SQLite brokered calls and API calls keep being answered while it writes.

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

/// Large enough that the import takes several lease lifetimes on this machine (checked
/// below, so the test cannot pass on a premise that did not hold).
const USERS: usize = 30_000;
const LEASE_TTL: Duration = Duration::from_millis(500);

async fn corp(app: &TestApp) -> Value {
    let (_, v) = app.api(Method::GET, "/sync/status", None).await;
    v["sources"][0].clone()
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

/// Calls the broker and the API in a loop until `stop`; answers (broker, api) latencies
/// and every status that was not 200.
async fn keep_calling(
    app: &TestApp,
    token: &str,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (Vec<Duration>, Vec<Duration>, Vec<u16>) {
    let (mut broker, mut api, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    while !*stop.borrow() {
        let t = Instant::now();
        let (status, _) = app.call(Method::GET, "desk", "messages", token).await;
        broker.push(t.elapsed());
        if status != 200 {
            bad.push(status);
        }
        let t = Instant::now();
        let (status, _) = app.api(Method::GET, "/staff/operator", None).await;
        api.push(t.elapsed());
        if status != 200 {
            bad.push(status);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (broker, api, bad)
}

async fn an_import_that_outlasts_the_lease_completes_once(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let ldif = dir.path().join("directory.ldif");
    slapd::write_bulk_ldif(&ldif, USERS, 50, 2);
    let ldap = Slapd::start_bulk(&ldif);
    // The operator is added by hand before the directory arrives: the import must not stall
    // their calls.
    let up = Upstream::start("the-real-secret").await;
    let app = TestApp::spawn_with(db, |c| c.lease_ttl = LEASE_TTL).await;
    app.add_staff("operator", &["support"]).await;
    app.add_desk(&up.base).await;
    let (_, token) = app.issue("operator", "desk", json!({})).await;

    let app = {
        // The same daemon again, now with the directory: the import starts at once.
        let mut app = app;
        app.halt().await;
        app.config.ldap = ldap.sources("mode = \"persist\"\n");
        app.restart().await;
        app
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let (calls, status) = tokio::join!(keep_calling(&app, &token, stop), async {
        let mut seen_running = false;
        let status = loop {
            let s = corp(&app).await;
            seen_running |= s["running"]["phase"] == "applying";
            if s["last_sync"].is_object() && s["running"].is_null() {
                break s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the import never finished: {s}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let _ = stop_tx.send(true);
        assert!(
            seen_running,
            "the status never showed the import being applied"
        );
        status
    });
    let last = &status["last_sync"];
    let took = Duration::from_millis(last["duration_ms"].as_u64().unwrap());
    assert!(
        took > LEASE_TTL * 3,
        "the import took {took:?}: not long enough to show anything about a {LEASE_TTL:?} lease"
    );
    assert_eq!(last["joiners"], USERS, "{status}");
    assert_eq!(
        status["runs_started"], 1,
        "the import was begun more than once: {status}"
    );
    // Every person once, none lost or doubled between slices.
    let (_, people) = app.api(Method::GET, "/staff", None).await;
    assert_eq!(people.as_array().unwrap().len(), USERS + 1);
    // The lease stayed with this replica throughout.
    let (_, overview) = app.api(Method::GET, "/status", None).await;
    let directory = overview["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "directory")
        .cloned()
        .unwrap_or(Value::Null);
    let this = overview["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["this"] == true)
        .cloned()
        .unwrap();
    assert_eq!(directory["holder_id"], this["id"], "{overview}");

    let (broker, api, bad) = calls;
    assert!(bad.is_empty(), "calls refused during the import: {bad:?}");
    assert!(
        broker.len() >= 10,
        "only {} calls during the import",
        broker.len()
    );
    println!(
        "{db:?}: {USERS} users imported in {took:?} (lease {LEASE_TTL:?}); during it {} brokered calls p99 {:?}, {} API calls p99 {:?}",
        broker.len(),
        p99(broker),
        api.len(),
        p99(api)
    );
    app.stop().await;
}

both_backends!(an_import_that_outlasts_the_lease_completes_once);
