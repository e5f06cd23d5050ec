//! Active Directory against a real Samba 4 domain controller: uSNChanged polling (group
//! removal, direct and through a nested group, disable, deletion and natural expiry each
//! refused within the poll interval plus a second), idle polls that read a few hundred
//! bytes, renames that keep the person, `base_dn` at the domain root over LDAPS, AD
//! sign-in names and bind sub-codes, one held plan per source confirmed on today's facts,
//! Unicode group names, ranged member reads.
//!
//! One DC serves the binary (Samba's ports are fixed); each test works in an OU of its own
//! and uses usernames no other test uses (sAMAccountName is unique in the domain).

mod changes;
#[path = "../common/mod.rs"]
mod common;
mod names;
mod sources;

use std::time::{Duration, Instant};

use common::peers::Proxy;
use common::samba::{self, Ou};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const POLL: &str = "poll_interval = \"2s\"\nfull_sync_interval = \"1h\"\n";

async fn app_for(ou: &Ou, extra: &str) -> TestApp {
    let sources = ou.sources(extra);
    TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await
}

async fn until_staff(app: &TestApp, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = app.api(Method::GET, &format!("/staff/{name}"), None).await;
        if s == 200 {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn activate(app: &TestApp, name: &str) {
    let (s, v) = app
        .api(
            Method::POST,
            &format!("/staff/{name}/activate"),
            Some(json!({ "reason": "first login done (test)" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn support_channel(app: &TestApp, upstream: &Upstream) {
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read"] }),
        "real-channel-secret",
    )
    .await;
}

/// A token for a synced person in `support`.
async fn ready(app: &TestApp, name: &str) -> String {
    until_staff(app, name).await;
    activate(app, name).await;
    app.issue(name, "support-desk", json!({})).await.1
}

/// Audit entries of one event.
async fn events(app: &TestApp, event: &str) -> Vec<Value> {
    let (s, v) = app.api(Method::GET, "/audit?limit=1000", None).await;
    assert_eq!(s, 200, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

async fn refused_after(app: &TestApp, token: &str, since: Instant, what: &str) -> Duration {
    loop {
        let (status, _) = app
            .call(Method::GET, "support-desk", "messages", token)
            .await;
        if status != 200 {
            let took = since.elapsed();
            println!("AD {what} -> brokered token refused: {took:?}");
            return took;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "{what}: token still accepted after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
