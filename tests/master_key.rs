//! One master key per deployment (issue 17): a replica started with another key refuses to
//! start and says which file, and a missing key file next to sealed data is an error, never
//! a fresh key.

mod common;

use common::{Db, TestApp};
use serde_json::json;
use staffgate::app::Application;

async fn refusal(config: staffgate::config::Config) -> String {
    match Application::build(config).await {
        Ok(_) => panic!("the daemon started"),
        Err(e) => e.to_string(),
    }
}

async fn a_replica_with_another_master_key_refuses_to_start(db: Db) {
    let first = TestApp::spawn(db).await;
    first
        .add_channel(
            "desk",
            json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
            "the-real-secret",
        )
        .await;
    let elsewhere = tempfile::tempdir().unwrap();
    let other_key = elsewhere.path().join("other.key");
    std::fs::write(&other_key, [0x42u8; 32]).unwrap();
    let mut second = first.config.clone();
    second.master_key_file = Some(other_key.clone());
    let why = refusal(second).await;
    assert!(why.contains("is not this deployment's"), "{why}");
    assert!(why.contains(&other_key.display().to_string()), "{why}");
    // The first replica's key, given as 64 hex characters or 32 raw bytes, is accepted.
    let hex_text = std::fs::read_to_string(first.config.data_dir.join("master.key")).unwrap();
    let raw = elsewhere.path().join("raw.key");
    std::fs::write(&raw, hex::decode(hex_text.trim()).unwrap()).unwrap();
    let mut third = first.config.clone();
    third.master_key_file = Some(raw);
    let app = Application::build(third)
        .await
        .expect("the same key as raw bytes");
    drop(app);
    first.stop().await;
}

async fn a_missing_key_file_beside_sealed_data_is_refused_and_none_is_created(db: Db) {
    let mut app = TestApp::spawn(db).await;
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "the-real-secret",
    )
    .await;
    app.halt().await;
    let key = app.config.data_dir.join("master.key");
    std::fs::remove_file(&key).unwrap();
    let why = refusal(app.config.clone()).await;
    assert!(why.contains("is missing"), "{why}");
    assert!(!key.exists(), "a new key file was created");
}

both_backends!(
    a_replica_with_another_master_key_refuses_to_start,
    a_missing_key_file_beside_sealed_data_is_refused_and_none_is_created,
);
