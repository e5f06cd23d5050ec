//! A real Telegram bot library (python-telegram-bot) works through the broker unchanged.

mod common;

use common::upstream::Upstream;
use common::{Db, TestApp};
use serde_json::{Value, json};

const BOT_SECRET: &str = "7012345678:AAH-real-telegram-bot-secret_xyz";

fn python() -> String {
    std::env::var("STAFFGATE_TEST_PYTHON").expect(
        "STAFFGATE_TEST_PYTHON must point at a Python with python-telegram-bot; run scripts/test.sh (the README's test command)",
    )
}

async fn run_client(base: &str, token: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/telegram_client.py"
    );
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(base)
        .arg(token)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("client said: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_telegram_bot_works_through_the_broker_and_stops_at_offboarding() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let up = Upstream::start(BOT_SECRET).await;
    app.add_staff("alice", &["support"]).await;
    app.add_channel(
        "telegram-support",
        json!({ "kind": "telegram", "upstream": up.base, "tags": ["support"] }),
        BOT_SECRET,
    )
    .await;
    let (_, token) = app.issue("alice", "telegram-support", json!({})).await;
    assert!(
        token
            .split_once(':')
            .is_some_and(|(d, _)| d.bytes().all(|b| b.is_ascii_digit())),
        "telegram-shaped: {token}"
    );

    let base = format!("{}/broker/telegram-support", app.base);
    let seen = run_client(&base, &token).await;
    assert_eq!(seen, json!({ "username": "support_bot", "sent": true }));
    let paths: Vec<String> = up.requests().iter().map(|r| r.path.clone()).collect();
    // The library calls getMe on start and once more for us.
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with(&format!("/bot{BOT_SECRET}/"))),
        "{paths:?}"
    );
    assert_eq!(
        paths.last().unwrap(),
        &format!("/bot{BOT_SECRET}/sendMessage")
    );
    let before = up.count();
    assert!(
        up.requests()
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.body).contains(&token))
    );

    app.offboard("alice").await;
    let after = run_client(&base, &token).await;
    assert_eq!(after["error"], "invalid_token", "{after}");
    assert_eq!(
        up.count(),
        before,
        "nothing reached Telegram after the offboarding"
    );
    app.stop().await;
}
