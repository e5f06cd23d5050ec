//! Directory faults against a real slapd: wrong bind credentials, a custom disabled filter,
//! and the same people offered by two sources.

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, SUFFIX, Slapd};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::Value;

async fn status_of(app: &TestApp, source: &str) -> Value {
    let (_, v) = app.api(Method::GET, "/sync/status", None).await;
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == source)
        .cloned()
        .unwrap()
}

async fn wait(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_bind_credentials_are_reported_without_the_password() {
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "pw"));
    let toml_text = ldap
        .source_toml("mode = \"poll\"\npoll_interval = \"1h\"\n")
        .replace(slapd::SYNC_PW, "not-the-password-7731");
    let sources =
        staffgate::directory::ldap::config::parse_sources(&toml::from_str(&toml_text).unwrap())
            .unwrap();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await;
    wait("the error never showed in the status", async || {
        status_of(&app, "corp").await["last_error"].is_object()
    })
    .await;
    let status = status_of(&app, "corp").await;
    let message = status["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("refused the bind as cn=staffgate"),
        "{message}"
    );
    assert!(!status.to_string().contains("not-the-password-7731"));
    assert_eq!(app.api(Method::GET, "/staff/alice", None).await.0, 404);
    // Sign-in through a broken service account is "unavailable", not "wrong password".
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&serde_json::json!({ "username": "alice", "password": "pw" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        401,
        "alice is unknown to staffgate until a sync works"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_disabled_filter_offboards_its_matches() {
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "pw"));
    ldap.add(&slapd::person_ldif("bob", "pw"));
    let sources = ldap.sources(
        "mode = \"poll\"\npoll_interval = \"1h\"\ndisabled_filter = \"(employeeType=left)\"\n",
    );
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await;
    wait("never synced", async || {
        app.api(Method::GET, "/staff/alice", None).await.0 == 200
    })
    .await;
    ldap.modify(
        &format!("dn: uid=alice,ou=people,{SUFFIX}\nchangetype: modify\nadd: employeeType\nemployeeType: left\n\n"),
        false,
    );
    let (code, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["plan"]["leavers"][0]["rule"], "disabled_filter matched",
        "{v}"
    );
    let (_, alice) = app.api(Method::GET, "/staff/alice", None).await;
    assert_eq!(alice["status"], "offboarded");
    let (_, bob) = app.api(Method::GET, "/staff/bob", None).await;
    assert_eq!(bob["status"], "pending");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_from_two_sources_belongs_to_the_first() {
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "pw"));
    let one = ldap.source_toml("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let two = one.replace("[corp]", "[other]");
    let text = format!("{one}\n{two}");
    let sources =
        staffgate::directory::ldap::config::parse_sources(&toml::from_str(&text).unwrap()).unwrap();
    assert_eq!(sources.len(), 2);
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await;
    wait("both sources never synced", async || {
        !status_of(&app, "corp").await["last_sync"].is_null()
            && !status_of(&app, "other").await["last_sync"].is_null()
    })
    .await;
    // Whichever source came first keeps her; the other reports her as skipped, and neither
    // offboards her.
    let mut belongs = 0;
    for source in ["corp", "other"] {
        let (code, v) = app
            .api(Method::POST, &format!("/sync/{source}"), None)
            .await;
        assert_eq!(code, 200, "{v}");
        assert!(v["plan"]["leavers"].as_array().unwrap().is_empty(), "{v}");
        let skipped = v["plan"]["skipped"].to_string();
        if skipped.contains("username alice belongs to ldap:") {
            belongs += 1;
        }
    }
    assert_eq!(belongs, 1, "exactly one source must see alice as another's");
    let (_, alice) = app.api(Method::GET, "/staff/alice", None).await;
    assert_eq!(alice["status"], "pending");
    app.stop().await;
}
