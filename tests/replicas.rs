//! Two daemons on one database: what one does, the other applies within milliseconds —
//! a channel, a token, an offboarding, a group move — through the change log.

mod common;

use std::time::{Duration, Instant};

use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

async fn pair(db: Db) -> (TestApp, TestApp) {
    let a = TestApp::spawn(db).await;
    let (data, url) = (a.config.data_dir.clone(), a.config.database_url.clone());
    let b = TestApp::spawn_with(db, move |c| {
        c.data_dir = data;
        c.database_url = url;
    })
    .await;
    (a, b)
}

/// Polls a brokered call on `app` until it answers `want`; returns how long that took.
async fn until(app: &TestApp, token: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        // A response in flight when the revocation lands is cut mid-body (by design):
        // that shows up here as a send error, and the next call gets the refusal.
        let sent = app
            .http
            .get(app.broker("desk", "x"))
            .bearer_auth(token)
            .send()
            .await;
        if let Ok(resp) = sent {
            let status = resp.status().as_u16();
            if resp.bytes().await.is_ok() && status == want {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn what_one_replica_does_the_other_applies(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    a.add_staff("alice", &["support"]).await;
    a.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "s",
    )
    .await;
    let (_, token) = a.issue("alice", "desk", json!({})).await;
    let took = until(&b, &token, 200).await;
    println!("issued on A -> accepted on B after {took:?}");

    a.offboard("alice").await;
    let took = until(&b, &token, 401).await;
    println!("offboarded on A -> refused on B after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (_, code) = b.call(Method::GET, "desk", "x", &token).await;
    assert_eq!(code.as_deref(), Some("staff_not_active"));

    // A move away from the group on A: B's policy view follows.
    a.api(
        Method::POST,
        "/staff/alice/reinstate",
        Some(json!({ "reason": "rehired" })),
    )
    .await;
    a.add_staff("bob", &["support"]).await;
    let (_, bob) = a.issue("bob", "desk", json!({})).await;
    until(&b, &bob, 200).await;
    a.add_staff("bob", &["sales"]).await;
    let took = until(&b, &bob, 403).await;
    println!("moved out of support on A -> refused on B after {took:?}");

    let (s, _) = b.api_as(&a.key, Method::GET, "/staff", None).await;
    assert_eq!(s, 200);
    b.stop().await;
    a.stop().await;
}

both_backends!(what_one_replica_does_the_other_applies);
