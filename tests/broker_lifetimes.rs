//! Expiry is not revocation (issue 17): a call that passed every check on arrival gets its
//! upstream's answer even if its token expires meanwhile; a revocation during the call
//! still cuts it, and the cut is counted.

mod common;

use std::time::{Duration, Instant};

use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

async fn desk(app: &TestApp, up: &Upstream) {
    app.add_staff("alice", &["support"]).await;
    app.add_desk(&up.base).await;
}

async fn a_token_that_expires_during_a_slow_call_gets_the_answer(db: Db) {
    let app = TestApp::spawn(db).await;
    let up = Upstream::start("the-real-secret").await;
    desk(&app, &up).await;

    // Headers 600 ms late, the token expiring 400 ms into the wait.
    let (_, token) = app.issue("alice", "desk", json!({ "ttl": "2s" })).await;
    let issued = Instant::now();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let sent_at = issued.elapsed();
    let resp = app
        .http
        .post(app.broker("desk", "late"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        sent_at < Duration::from_millis(1900),
        "sent before expiry: {sent_at:?}"
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "{\"ok\":true,\"sent\":true}");
    assert!(
        issued.elapsed() > Duration::from_secs(2),
        "answered after expiry"
    );

    // A body streaming across the expiry arrives whole.
    let (_, token) = app.issue("alice", "desk", json!({ "ttl": "2s" })).await;
    let issued = Instant::now();
    tokio::time::sleep(Duration::from_millis(1750)).await;
    let resp = app
        .http
        .get(app.broker("desk", "slow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("the whole body, not a cut");
    assert!(body.ends_with("chunk9;"), "{body}");
    assert!(issued.elapsed() > Duration::from_secs(2));
    // Once expired, a new call is refused as expired.
    assert_eq!(
        app.call(Method::GET, "desk", "m", &token)
            .await
            .1
            .as_deref(),
        Some("token_expired")
    );
    app.stop().await;
}

async fn a_token_revoked_during_a_slow_call_is_cut_and_counted(db: Db) {
    let app = TestApp::spawn(db).await;
    let up = Upstream::start("the-real-secret").await;
    desk(&app, &up).await;
    let (id, token) = app.issue("alice", "desk", json!({})).await;
    let resp = app
        .http
        .get(app.broker("desk", "slow"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, v) = app
        .api(
            Method::DELETE,
            &format!("/tokens/{id}"),
            Some(json!({ "reason": "lost laptop" })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(resp.text().await.is_err(), "the caller sees the cut");
    let text = app.metrics().await;
    assert!(
        text.contains("staffgate_broker_cuts_total{channel=\"desk\",reason=\"access revoked\"} 1"),
        "{text}"
    );
    app.stop().await;
}

both_backends!(
    a_token_that_expires_during_a_slow_call_gets_the_answer,
    a_token_revoked_during_a_slow_call_is_cut_and_counted,
);
