//! TOTP against a real slapd: a code is accepted once, also when sent at once to two daemons
//! on one database, and repeated failures lock the second factor for its window.

mod common;

use std::time::Duration;

use common::first_login::{code, enrol, login, now, strict, verify, world};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;
use staffgate::signin::totp;

async fn replayed_codes_are_refused_at_once_and_across_daemons(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let first = login(app, "alice", "alice-pw").await;
    let (seed, _) = enrol(app, &first).await;

    // A second daemon on the same database (and master key).
    let data = app.config.data_dir.clone();
    let url = app.config.database_url.clone();
    let sources = w.ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let other = TestApp::spawn_with(db, move |c| {
        c.data_dir = data;
        c.database_url = url;
        c.ldap = sources;
        strict(c);
    })
    .await;

    let next = totp::code_at(&seed, now() + 30).unwrap();
    let a = login(app, "alice", "alice-pw").await;
    let b = login(&other, "alice", "alice-pw").await;
    let body = json!({ "code": next });
    let (ra, rb) = tokio::join!(
        verify(app, &a, body.clone()),
        verify(&other, &b, body.clone()),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 401],
        "exactly one daemon accepts a code: {ra:?} {rb:?}"
    );
    let refused = if ra.0 == 401 { &ra.1 } else { &rb.1 };
    assert_eq!(code(refused), "totp_replayed");
    other.stop().await;
    w.app.stop().await;
}

async fn lockout_after_repeated_failures_and_its_expiry(db: Db) {
    let w = world(db, |c| {
        c.compliance.totp_max_failures = 3;
        c.compliance.totp_window = Duration::from_secs(2);
    })
    .await;
    let app = &w.app;
    let session = login(app, "alice", "alice-pw").await;
    let (seed, _) = enrol(app, &session).await;
    let later = login(app, "alice", "alice-pw").await;
    for bad in ["111111", "222222", "12ab56"] {
        let (s, v) = verify(app, &later, json!({ "code": bad })).await;
        assert_eq!((s, code(&v)), (401, "totp_invalid"), "{v}");
    }
    let good = totp::code_at(&seed, now() + 30).unwrap();
    let (s, v) = verify(app, &later, json!({ "code": good.clone() })).await;
    assert_eq!(
        (s, code(&v)),
        (429, "totp_locked"),
        "even the right code waits: {v}"
    );
    let (_, audit) = app.api(Method::GET, "/audit?limit=500", None).await;
    assert!(audit.to_string().contains("totp.locked_out"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, v) = verify(app, &later, json!({ "code": good })).await;
    assert_eq!(s, 200, "the lock ends with its window: {v}");
    w.app.stop().await;
}

/// A burst of parallel codes gets no more tries than the limit: each is reserved under the
/// person's row lock before it is checked.
async fn parallel_codes_get_no_more_tries_than_the_limit(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let session = login(app, "alice", "alice-pw").await;
    enrol(app, &session).await;
    let later = login(app, "alice", "alice-pw").await;
    let tries = (0..200).map(|i| {
        let later = later.clone();
        async move { verify(app, &later, json!({ "code": format!("{:06}", i * 7) })).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let checked = answers
        .iter()
        .filter(|(s, v)| *s == 401 && code(v) == "totp_invalid")
        .count();
    let locked = answers
        .iter()
        .filter(|(s, v)| *s == 429 && code(v) == "totp_locked")
        .count();
    assert_eq!(checked, 5, "codes checked");
    assert_eq!(checked + locked, 200);
    w.app.stop().await;
}

both_backends!(
    parallel_codes_get_no_more_tries_than_the_limit,
    replayed_codes_are_refused_at_once_and_across_daemons,
    lockout_after_repeated_failures_and_its_expiry,
);
