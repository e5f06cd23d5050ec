//! A real identity provider, Canaille, both ways: as the SCIM client that pushes to
//! staffgate when a user is created, locked and deleted in it, and as the pull source
//! staffgate reads with a client-credentials token Canaille issues. Linked, the two are one
//! person per user.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::canaille::Canaille;
use crate::common::{Db, TestApp};

const READER_SECRET: &str = "reader-secret-7c1e0b9d";

fn push_source(name: &str) -> Vec<staffgate::config::scim::ScimSource> {
    staffgate::config::scim::parse_sources(&toml::from_str(&format!("[{name}]\n")).unwrap())
        .unwrap()
}

fn pull_source(
    canaille: &Canaille,
    push: Option<&str>,
) -> Vec<staffgate::config::scim_pull::ScimPullSource> {
    let push = push.map_or(String::new(), |p| format!("push = \"{p}\"\n"));
    let text = format!(
        "[canaille-pull]\nurl = \"{}\"\ntoken_url = \"{}\"\nclient_id = \"sg-reader\"\n\
         client_secret = \"{READER_SECRET}\"\ninterval = \"1h\"\n{push}",
        canaille.scim_url(),
        canaille.token_url()
    );
    staffgate::config::scim_pull::parse_sources(&toml::from_str(&text).unwrap()).unwrap()
}

async fn desk(app: &TestApp) -> crate::common::upstream::Upstream {
    let up = crate::common::upstream::Upstream::start("real-secret").await;
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read"] }),
        "real-secret",
    )
    .await;
    up
}

async fn staff(app: &TestApp, name: &str) -> Value {
    app.api(Method::GET, &format!("/staff/{name}"), None)
        .await
        .1
}

async fn token_for(app: &TestApp, name: &str) -> String {
    let (s, v) = app
        .api(
            Method::POST,
            &format!("/staff/{name}/activate"),
            Some(json!({ "reason": "test" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, token) = app.issue(name, "desk", json!({})).await;
    assert_eq!(app.call(Method::GET, "desk", "x", &token).await.0, 200);
    token
}

/// Runs the pull now (the daemon's own first pull may still be running: then waits for it).
async fn pull_now(app: &TestApp) -> Value {
    for _ in 0..100 {
        let (s, v) = app.api(Method::POST, "/sync/canaille-pull", None).await;
        if s != 409 {
            assert_eq!(s, 200, "{v}");
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the pull stayed busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaille_pushes_a_joiner_a_lock_and_a_delete() {
    let canaille = Canaille::start();
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.scim = push_source("canaille")).await;
    let _up = desk(&app).await;
    let (s, v) = app.api(Method::POST, "/scim/canaille/tokens", None).await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    canaille.push_to(&format!("{}/scim/v2/canaille", app.base), &token);

    let alice = canaille.add_user("alice");
    let person = staff(&app, "alice").await;
    assert_eq!(person["status"], "pending", "{person}\n{}", canaille.log());
    canaille.cli(&[
        "create",
        "group",
        "--display-name",
        "support",
        "--members",
        &alice,
    ]);
    let brokered = token_for(&app, "alice").await;

    canaille.lock(&alice);
    let (status, code) = app.call(Method::GET, "desk", "x", &brokered).await;
    assert_eq!(
        status, 401,
        "refused once Canaille's push returned: {code:?}"
    );
    assert_eq!(staff(&app, "alice").await["status"], "offboarded");
    let (_, receipt) = app.api(Method::GET, "/staff/alice/offboarding", None).await;
    assert!(receipt.to_string().contains("scim:canaille"), "{receipt}");

    let bob = canaille.add_user("bob");
    assert_eq!(staff(&app, "bob").await["status"], "pending");
    canaille.delete(&bob);
    assert_eq!(
        staff(&app, "bob").await["status"],
        "offboarded",
        "{}",
        canaille.log()
    );
    // Two joiners, a group mover, two leavers: every change counted for the push source.
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("staffgate_directory_changes_applied{source=\"canaille\"} 5"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaille_is_pulled_with_a_client_credentials_token() {
    let canaille = Canaille::start();
    canaille.reader_client("sg-reader", READER_SECRET);
    let alice = canaille.add_user("alice");
    let bob = canaille.add_user("bob");
    canaille.add_user("carol");
    canaille.cli(&[
        "create",
        "group",
        "--display-name",
        "support",
        "--members",
        &alice,
    ]);
    let pulls = pull_source(&canaille, None);
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.scim_pull = pulls).await;
    let _up = desk(&app).await;

    // The daemon pulls by itself once it starts.
    let first = loop {
        let (_, status) = app.api(Method::GET, "/sync/status", None).await;
        let pull = &status["sources"][0];
        assert!(pull["last_error"].is_null(), "{pull}");
        if !pull["last_sync"].is_null() {
            break pull["last_sync"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        (&first["joiners"], &first["verdict"]),
        (&json!(3), &json!("apply")),
        "{first}"
    );
    for name in ["alice", "bob", "carol"] {
        let p = staff(&app, name).await;
        assert_eq!(p["status"], "pending", "{name}: {p}");
    }
    assert_eq!(staff(&app, "alice").await["groups"], json!(["support"]));
    let brokered = token_for(&app, "alice").await;

    // Locked and deleted in Canaille: the next pull offboards both.
    canaille.lock(&alice);
    canaille.delete(&bob);
    let outcome = pull_now(&app).await;
    assert_eq!(
        outcome["applied"]["offboarded"].as_array().map(Vec::len),
        Some(2),
        "{outcome}"
    );
    assert_eq!(app.call(Method::GET, "desk", "x", &brokered).await.0, 401);
    for name in ["alice", "bob"] {
        assert_eq!(staff(&app, name).await["status"], "offboarded", "{name}");
    }
    assert_eq!(staff(&app, "carol").await["status"], "pending");

    // The status board shows the pull, and the client secret is nowhere stored.
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    let pull = status["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "canaille-pull")
        .cloned()
        .unwrap();
    assert_eq!(pull["mode"], "pull", "{pull}");
    assert_eq!(pull["last_sync"]["entries"], 3, "{pull}");
    let dump = app.database_dump().await;
    assert!(!String::from_utf8_lossy(&dump).contains(READER_SECRET));
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("staffgate_directory_lag_milliseconds{source=\"canaille-pull\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_and_pulled_the_same_user_is_one_person() {
    let canaille = Canaille::start();
    canaille.reader_client("sg-reader", READER_SECRET);
    // Dave is in Canaille before staffgate is its application: only the pull finds him.
    let dave = canaille.add_user("dave");
    let pulls = pull_source(&canaille, Some("canaille"));
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.scim = push_source("canaille");
        c.scim_pull = pulls;
    })
    .await;
    let (_, v) = app.api(Method::POST, "/scim/canaille/tokens", None).await;
    canaille.push_to(
        &format!("{}/scim/v2/canaille", app.base),
        v["token"].as_str().unwrap(),
    );
    canaille.add_user("alice");

    pull_now(&app).await;
    let (_, everyone) = app.api(Method::GET, "/staff", None).await;
    let names: Vec<&str> = everyone
        .as_array()
        .or(everyone["staff"].as_array())
        .unwrap()
        .iter()
        .filter_map(|p| p["username"].as_str())
        .collect();
    assert_eq!(
        names.iter().filter(|n| **n == "alice").count(),
        1,
        "{everyone}"
    );
    assert!(names.contains(&"dave"), "{everyone}");
    // Canaille's next push about Dave finds the user the pull made (by externalId).
    canaille.lock(&dave);
    assert_eq!(
        staff(&app, "dave").await["status"],
        "offboarded",
        "{}",
        canaille.log()
    );
    // A second pull changes nothing: the lock is already known, alice is already here.
    let outcome = pull_now(&app).await;
    assert_eq!(outcome["plan"]["joiners"], json!([]), "{outcome}");
    assert_eq!(outcome["plan"]["leavers"], json!([]), "{outcome}");
    app.stop().await;
}
