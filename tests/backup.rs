//! `staffgate backup`: an online copy of the SQLite database taken while the daemon serves,
//! restored into a second daemon with the same master key; secrets stay sealed in the copy.

mod common;

use common::upstream::Upstream;
use common::{Db, TestApp, contains};
use reqwest::Method;
use serde_json::json;

const SECRET: &str = "EAAG-backup-test-channel-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores_into_a_working_daemon() {
    let up = Upstream::start(SECRET).await;
    let app = TestApp::spawn(Db::Sqlite).await;
    app.add_staff("alice", &["support"]).await;
    app.add_channel(
        "whatsapp-main",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        SECRET,
    )
    .await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;

    // Calls keep flowing while the backup is made.
    let busy = {
        let (http, url, token) = (
            app.http.clone(),
            app.broker("whatsapp-main", "x"),
            token.clone(),
        );
        tokio::spawn(async move {
            for _ in 0..50 {
                let s = http
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(s.as_u16(), 200);
            }
        })
    };
    let out_dir = tempfile::tempdir().unwrap();
    let copy = out_dir.path().join("copy.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_staffgate"))
        .arg("backup")
        .arg(&copy)
        .env("STAFFGATE_URL", &app.base)
        .env("STAFFGATE_ADMIN_KEY", &app.key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    busy.await.unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bytes = std::fs::read(&copy).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    assert!(!contains(&bytes, SECRET), "the channel secret stays sealed");
    assert!(
        !contains(&bytes, &token),
        "tokens are stored as hashes only"
    );

    // Restore: the copy and the same master key in a new data directory.
    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::copy(&copy, data.join("staffgate.db")).unwrap();
    std::fs::copy(
        app.config.data_dir.join("master.key"),
        data.join("master.key"),
    )
    .unwrap();
    let second = TestApp::spawn_with(Db::Sqlite, move |c| c.data_dir = data).await;
    let before = up.count();
    assert_eq!(
        second
            .call(Method::GET, "whatsapp-main", "after-restore", &token)
            .await
            .0,
        200
    );
    let seen = up.requests();
    assert_eq!(seen.len(), before + 1);
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some(&*format!("Bearer {SECRET}"))
    );
    second.stop().await;

    let (_, audit) = app.api(Method::GET, "/audit", None).await;
    assert!(audit.to_string().contains("database.backup"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_is_backed_up_with_its_own_tools() {
    let app = TestApp::spawn(Db::Postgres).await;
    let (status, v) = app.api(Method::POST, "/backup", None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("backup_not_sqlite"))
    );
    app.stop().await;
}
