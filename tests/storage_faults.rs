//! Storage faults with real parts (issue 17): the embedded SQLite on a small tmpfs the test
//! mounts and fills, and PostgreSQL with the staff table locked by a second connection while
//! the caller gives up.

mod common;

use std::time::{Duration, Instant};

use common::faults::{Tmpfs, fill, truncate_wal};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

async fn offboard(app: &TestApp, who: &str) -> (u16, serde_json::Value) {
    app.api(
        Method::POST,
        &format!("/staff/{who}/offboard"),
        Some(json!({ "reason": "left" })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_answered_with_its_code_and_writes_recover_without_a_restart() {
    let Some(disk) = Tmpfs::mount("16m") else {
        return;
    };
    let data = disk.path().join("data");
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.data_dir = data).await;
    let up = Upstream::start("the-real-secret").await;
    for who in ["alice", "bob", "carol"] {
        app.add_staff(who, &["support"]).await;
    }
    app.add_desk(&up.base).await;
    let (_, alice) = app.issue("alice", "desk", json!({})).await;
    let (_, bob) = app.issue("bob", "desk", json!({})).await;
    assert_eq!(app.call(Method::GET, "desk", "m", &alice).await.0, 200);

    truncate_wal(disk.path().join("data/staffgate.db")).await;
    let ballast = disk.path().join("ballast");
    fill(&ballast);

    // The database refuses the write: answered with its own code, never `internal`.
    let (status, v) = offboard(&app, "alice").await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "storage_full", "{v}");
    // Refused on this replica at once all the same, and health says why.
    assert_eq!(
        app.call(Method::GET, "desk", "m", &alice)
            .await
            .1
            .as_deref(),
        Some("staff_not_active")
    );
    // The rule while writes fail: existing grants are served (nothing access-removing was
    // answered as done without being written), and their activity is kept for later.
    for _ in 0..3 {
        assert_eq!(app.call(Method::GET, "desk", "m", &bob).await.0, 200);
    }
    let (status, body) = app.readyz().await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage_full"), "{body}");
    let text = app.metrics().await;
    assert!(
        text.contains("staffgate_offboardings_unrecorded 1"),
        "{text}"
    );

    // Space comes back: no restart, the owed offboarding lands by itself, the next ones work.
    std::fs::remove_file(&ballast).unwrap();
    let freed = Instant::now();
    let ready_after = loop {
        if app.readyz().await.0 == 200 {
            break freed.elapsed();
        }
        assert!(
            freed.elapsed() < Duration::from_secs(10),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (status, v) = offboard(&app, "bob").await;
    let offboarded_after = freed.elapsed();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["staff"], "bob");
    let (status, again) = offboard(&app, "alice").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["reason"], "left", "alice's own receipt: {again}");
    let (_, alice_row) = app.api(Method::GET, "/staff/alice", None).await;
    assert_eq!(alice_row["status"], "offboarded");
    for token in [&alice, &bob] {
        assert_eq!(
            app.call(Method::GET, "desk", "m", token).await.1.as_deref(),
            Some("staff_not_active")
        );
    }
    // The calls made while the disk was full were written once it was not.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, tokens) = app.api(Method::GET, "/tokens?staff=bob", None).await;
        if tokens[0]["last_used_at"].is_string() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bob's calls were never recorded: {tokens}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Other writes work too, and the chain is whole.
    app.issue("carol", "desk", json!({})).await;
    let (status, verify) = app.api(Method::GET, "/audit/verify", None).await;
    assert_eq!(status, 200, "{verify}");
    println!(
        "disk freed → /readyz green after {ready_after:?}; → next offboarding answered after {offboarded_after:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarding_whose_caller_hangs_up_is_carried_out_once_the_lock_is_released() {
    let app = TestApp::spawn(Db::Postgres).await;
    let up = Upstream::start("the-real-secret").await;
    app.add_staff("alice", &["support"]).await;
    app.add_desk(&up.base).await;
    let (_, token) = app.issue("alice", "desk", json!({})).await;

    let url = app.pg_url();
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE staff IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    // The caller gives up after a second and goes away.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/api/v1/staff/alice/offboard", app.base))
        .bearer_auth(&app.key)
        .json(&json!({ "reason": "left" }))
        .send()
        .await;
    assert!(gave_up.is_err(), "the lock should hold the answer back");
    drop(impatient);
    tokio::time::sleep(Duration::from_secs(1)).await;
    sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
    let released = Instant::now();
    loop {
        let (_, v) = app.api(Method::GET, "/staff/alice", None).await;
        if v["status"] == "offboarded" {
            break;
        }
        assert!(
            released.elapsed() < Duration::from_secs(10),
            "the offboarding was cancelled with its caller: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The lock also held the replica's follower back, so it may still be failing closed
    // (503 replica_not_current) for its recovery time: never served, refused for the
    // offboarding as soon as it serves again.
    loop {
        let (status, code) = app.call(Method::GET, "desk", "m", &token).await;
        assert_ne!(status, 200, "an offboarded person's token was served");
        if code.as_deref() == Some("staff_not_active") {
            break;
        }
        assert_eq!(code.as_deref(), Some("replica_not_current"));
        assert!(released.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, receipt) = app.api(Method::GET, "/staff/alice/offboarding", None).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["reason"], "left");
    assert_eq!(receipt["tokens_revoked"], 1);
    app.stop().await;
}
