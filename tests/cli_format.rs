//! The CLI's one output contract, against a running daemon: `--format table|json|csv` on
//! listings and records, RFC 3339 times (never epoch milliseconds), `offboardings list|show`,
//! and the "already offboarded" line on a second offboarding.

mod common;

use common::{Db, TestApp};
use serde_json::{Value, json};

fn no_epoch_millis(v: &Value, path: &str) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "at" || k.ends_with("_at") {
                    assert!(!v.is_number(), "{path}.{k} is a number: {v}");
                }
                no_epoch_millis(v, &format!("{path}.{k}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|v| no_epoch_millis(v, path)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_speaks_table_json_and_csv_with_rfc3339_times() {
    let app = TestApp::spawn(Db::Sqlite).await;
    app.add_staff("alice", &["support"]).await;
    app.add_staff("bob", &["support"]).await;
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read"] }),
        "s",
    )
    .await;
    app.issue("alice", "desk", json!({})).await;
    let lists: [&[&str]; 8] = [
        &["staff", "list"],
        &["token", "list"],
        &["key", "list"],
        &["channel", "list"],
        &["audit", "list"],
        &["scheduled"],
        &["offboardings", "list"],
        &["access"],
    ];
    app.offboard("bob").await;
    for args in lists {
        let table = app.cli(args);
        assert!(
            table
                .lines()
                .next()
                .is_some_and(|h| h.chars().any(|c| c.is_ascii_uppercase())),
            "{args:?}: {table}"
        );
        let json: Value = serde_json::from_str(&app.cli(&[args, &["--format", "json"]].concat()))
            .unwrap_or_else(|e| panic!("{args:?} --format json: {e}"));
        assert!(json.is_array(), "{args:?}");
        no_epoch_millis(&json, &format!("{args:?}"));
        let csv = app.cli(&[args, &["--format", "csv"]].concat());
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let width = reader.headers().unwrap().len();
        for record in reader.records() {
            assert_eq!(record.unwrap().len(), width, "{args:?}: {csv}");
        }
    }
    // The audit log's times read as RFC 3339 in the table too.
    let audit = app.cli(&["audit", "list"]);
    assert!(audit.contains("T") && audit.contains("+00:00"), "{audit}");

    // Receipts: the list and one person's, in every format.
    let list: Value =
        serde_json::from_str(&app.cli(&["offboardings", "list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["staff"], "bob", "{list}");
    let shown = app.cli(&["offboardings", "show", "bob"]);
    assert!(shown.contains("Offboarded bob"), "{shown}");
    let shown: Value =
        serde_json::from_str(&app.cli(&["offboardings", "show", "bob", "--format", "json"]))
            .unwrap();
    no_epoch_millis(&shown, "receipt");
    let record = app.cli(&["staff", "show", "alice"]);
    assert!(
        record.contains("Status:") && record.contains("active"),
        "{record}"
    );

    // Offboarding twice says so and revokes nothing more.
    let again = app.cli(&["offboard", "bob", "--reason", "again"]);
    assert!(
        again.starts_with("bob was already offboarded on 20"),
        "{again}"
    );
    assert!(
        !again.contains("again)"),
        "the first reason is shown: {again}"
    );
}
