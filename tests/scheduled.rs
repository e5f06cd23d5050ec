//! Scheduled offboarding: carried out on time, cancellable, shown in the access review, and
//! done exactly once even with two daemons on one database.

mod common;

use std::time::{Duration, Instant};

use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn in_ms(ms: i64) -> chrono::DateTime<chrono::FixedOffset> {
    let moscow = chrono::FixedOffset::east_opt(3 * 3600).unwrap();
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms)).with_timezone(&moscow)
}

async fn status(app: &TestApp, who: &str) -> Value {
    app.api(Method::GET, &format!("/staff/{who}"), None).await.1["status"].clone()
}

async fn a_scheduled_offboarding_fires_on_time_and_can_be_cancelled(db: Db) {
    let up = Upstream::start("s").await;
    let app = TestApp::spawn(db).await;
    app.add_staff("alice", &["support"]).await;
    app.add_staff("bob", &["support"]).await;
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "s",
    )
    .await;
    let (_, token) = app.issue("alice", "desk", json!({})).await;

    // In the past, or garbage: refused.
    let (s, v) = app
        .api(
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "x", "at": "2020-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_input")),
        "{v}"
    );
    let (s, _) = app
        .api(
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "x", "at": "tomorrow" })),
        )
        .await;
    assert_eq!(s, 400);

    let at = in_ms(1500);
    let out = app.cli(&[
        "offboard",
        "alice",
        "--reason",
        "last working day",
        "--at",
        &at.to_rfc3339(),
    ]);
    assert!(out.contains("scheduled #"), "{out}");
    let bob_at = in_ms(1500).to_rfc3339();
    let (s, v) = app
        .api(
            Method::POST,
            "/staff/bob/offboard",
            Some(json!({ "reason": "changed mind", "at": bob_at })),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let bob_schedule = v["scheduled"].as_i64().unwrap();

    let listed = app.cli(&["scheduled"]);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );
    let (_, access) = app.api(Method::GET, "/access?staff=alice", None).await;
    assert!(
        access[0]["leaves_at"].is_string(),
        "the access review shows the date: {access}"
    );
    app.cli(&["scheduled", "--cancel", &bob_schedule.to_string()]);

    assert_eq!(
        app.call(Method::GET, "desk", "x", &token).await.0,
        200,
        "still working before the moment"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&app, "alice").await != "offboarded" {
        assert!(
            Instant::now() < deadline,
            "the scheduled offboarding never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (s, code) = app.call(Method::GET, "desk", "x", &token).await;
    assert_eq!((s, code.as_deref()), (401, Some("staff_not_active")));
    let receipt = app.offboard("alice").await;
    let done =
        chrono::DateTime::parse_from_rfc3339(receipt["offboarded_at"].as_str().unwrap()).unwrap();
    let late = done.signed_duration_since(at).num_milliseconds();
    println!("scheduled offboarding ran {late} ms after its moment");
    assert!((0..=1000).contains(&late), "{late} ms late");
    assert_eq!(receipt["reason"], "last working day");
    assert!(
        receipt["by"].as_str().unwrap().starts_with("schedule#"),
        "{receipt}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        status(&app, "bob").await,
        "active",
        "the cancelled one did not run"
    );
    let (_, pending) = app.api(Method::GET, "/offboardings/scheduled", None).await;
    assert_eq!(pending.as_array().unwrap().len(), 0);
    app.stop().await;
}

async fn two_daemons_carry_out_a_scheduled_offboarding_once(db: Db) {
    let app = TestApp::spawn(db).await;
    app.add_staff("alice", &["support"]).await;
    let (data, url) = (app.config.data_dir.clone(), app.config.database_url.clone());
    let other = TestApp::spawn_with(db, move |c| {
        c.data_dir = data;
        c.database_url = url;
    })
    .await;
    let at = in_ms(800).to_rfc3339();
    let (s, v) = app
        .api(
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "last day", "at": at })),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&app, "alice").await != "offboarded" {
        assert!(Instant::now() < deadline, "never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (_, audit) = app.api(Method::GET, "/audit?limit=1000", None).await;
    let runs = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "staff.offboard" && e["subject"] == "alice")
        .count();
    assert_eq!(runs, 1, "carried out exactly once by two daemons");
    other.stop().await;
    app.stop().await;
}

both_backends!(
    a_scheduled_offboarding_fires_on_time_and_can_be_cancelled,
    two_daemons_carry_out_a_scheduled_offboarding_once,
);
