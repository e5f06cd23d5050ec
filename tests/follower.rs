//! The follower, event by event: what one replica records, the other applies from the
//! change log. `replicas.rs` covers issuance, offboarding, reinstatement and a group move;
//! this file covers every other change that alters what a replica holds in memory and that
//! the API, the directory or a person's first login can make.

mod common;

use std::time::{Duration, Instant};

use common::first_login;
use common::replica_pair::{pair, second, until};
use common::slapd::{self, SUFFIX, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn desk(upstream: &str) -> Value {
    json!({ "kind": "bearer", "upstream": upstream, "tags": ["support"], "rules": ["GET /** read"] })
}

/// Alice on `desk` with a token that replica B already accepts.
async fn ready(a: &TestApp, b: &TestApp, up: &Upstream) -> (i64, String) {
    a.add_staff("alice", &["support"]).await;
    a.add_channel("desk", desk(&up.base), "s").await;
    let (id, token) = a.issue("alice", "desk", json!({})).await;
    until(b, &token, 200).await;
    (id, token)
}

async fn ok(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, v) = app.api(method, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {v}");
    v
}

async fn a_token_revoked_on_one_replica_is_refused_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (id, token) = ready(&a, &b, &up).await;
    ok(&a, Method::DELETE, &format!("/tokens/{id}"), None).await;
    until(&b, &token, 401).await;
    b.stop().await;
    a.stop().await;
}

async fn a_persons_tokens_revoked_on_one_replica_are_refused_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    let reason = json!({ "reason": "lost laptop" });
    ok(&a, Method::POST, "/staff/alice/revoke-tokens", Some(reason)).await;
    until(&b, &token, 401).await;
    b.stop().await;
    a.stop().await;
}

async fn a_channels_tokens_revoked_on_one_replica_are_refused_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    let reason = json!({ "reason": "rotating the bot" });
    ok(
        &a,
        Method::POST,
        "/channels/desk/revoke-tokens",
        Some(reason),
    )
    .await;
    until(&b, &token, 401).await;
    b.stop().await;
    a.stop().await;
}

async fn a_channel_repointed_on_one_replica_drops_its_tokens_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let elsewhere = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    ok(
        &a,
        Method::PUT,
        "/channels/desk",
        Some(desk(&elsewhere.base)),
    )
    .await;
    until(&b, &token, 401).await;
    assert_eq!(elsewhere.count(), 0, "nothing reached the new upstream");
    b.stop().await;
    a.stop().await;
}

async fn a_secret_replaced_on_one_replica_is_the_one_the_other_injects(db: Db) {
    let up = Upstream::start("new-secret").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    let secret = json!({ "secret": "new-secret" });
    ok(&a, Method::PUT, "/channels/desk/secret", Some(secret)).await;
    let started = Instant::now();
    loop {
        let before = up.count();
        let (status, _) = b.call(Method::GET, "desk", "x", &token).await;
        assert_eq!(status, 200);
        let seen = up.requests();
        let last = seen[before..]
            .last()
            .expect("the call reached the upstream");
        if last.header("authorization") == Some("Bearer new-secret") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B kept the old secret"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.stop().await;
    a.stop().await;
}

async fn a_person_activated_on_one_replica_is_served_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    a.add_channel("desk", desk(&up.base), "s").await;
    let pending = json!({ "email": "p@example.com", "name": "P", "groups": ["support"], "status": "pending" });
    ok(&a, Method::PUT, "/staff/pat", Some(pending)).await;
    let reason = json!({ "reason": "first login done on paper" });
    ok(&a, Method::POST, "/staff/pat/activate", Some(reason)).await;
    let (_, token) = a.issue("pat", "desk", json!({})).await;
    until(&b, &token, 200).await;
    b.stop().await;
    a.stop().await;
}

async fn policies_reloaded_on_one_replica_are_in_force_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    // Every replica loads its own copy of the folder; a deployment keeps them the same.
    let closed = "@id(\"closed\")\nforbid (principal, action, resource);\n";
    for app in [&a, &b] {
        std::fs::write(app.policies().join("closed.cedar"), closed).unwrap();
    }
    ok(&a, Method::POST, "/policies/reload", None).await;
    until(&b, &token, 403).await;
    b.stop().await;
    a.stop().await;
}

async fn a_totp_reset_on_one_replica_ends_the_persons_tokens_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let (a, b) = pair(db).await;
    let (_, token) = ready(&a, &b, &up).await;
    let reason = json!({ "reason": "new phone" });
    ok(&a, Method::POST, "/staff/alice/totp/reset", Some(reason)).await;
    until(&b, &token, 401).await;
    b.stop().await;
    a.stop().await;
}

async fn a_directory_move_synced_by_one_replica_is_refused_on_the_other(db: Db) {
    let up = Upstream::start("s").await;
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "pw"));
    ldap.add(&slapd::person_ldif("bob", "pw"));
    // Bob stays: a groupOfNames cannot lose its last member.
    ldap.add(&slapd::group_ldif("support", &["alice", "bob"]));
    // Only A follows the directory; B learns of the move from the change log alone.
    let sources = ldap.sources("mode = \"persist\"\n");
    let a = TestApp::spawn_with(db, move |c| c.ldap = sources).await;
    let b = second(&a, db, |_| {}).await;
    let started = Instant::now();
    while a.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "alice never synced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reason = json!({ "reason": "first login done (test)" });
    ok(&a, Method::POST, "/staff/alice/activate", Some(reason)).await;
    a.add_channel("desk", desk(&up.base), "s").await;
    let (_, token) = a.issue("alice", "desk", json!({})).await;
    until(&b, &token, 200).await;
    ldap.modify(
        &format!("dn: cn=support,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=alice,ou=people,{SUFFIX}\n\n"),
        false,
    );
    until(&b, &token, 401).await;
    b.stop().await;
    a.stop().await;
}

async fn a_first_login_finished_on_one_replica_lets_the_other_serve_the_token(db: Db) {
    let w = first_login::world(db, |_| {}).await;
    let b = second(&w.app, db, first_login::strict).await;
    let session = first_login::login(&w.app, "alice", "alice-pw").await;
    first_login::enrol(&w.app, &session).await;
    first_login::acknowledge(&w.app, &session, "en").await;
    let ask = json!({ "channel": "support-desk" });
    let (status, issued) = w
        .app
        .api_as(&session, Method::POST, "/me/tokens", Some(ask))
        .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().unwrap();
    // B serves it only once it has applied the TOTP enrolment, the NDA acknowledgement and
    // the activation that first login wrote on A.
    let started = Instant::now();
    loop {
        let (status, code) = b.call(Method::GET, "support-desk", "messages", token).await;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B still refuses: {status} {code:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.stop().await;
    w.app.stop().await;
}

both_backends!(
    a_first_login_finished_on_one_replica_lets_the_other_serve_the_token,
    a_totp_reset_on_one_replica_ends_the_persons_tokens_on_the_other,
    a_directory_move_synced_by_one_replica_is_refused_on_the_other,
    a_token_revoked_on_one_replica_is_refused_on_the_other,
    a_persons_tokens_revoked_on_one_replica_are_refused_on_the_other,
    a_channels_tokens_revoked_on_one_replica_are_refused_on_the_other,
    a_channel_repointed_on_one_replica_drops_its_tokens_on_the_other,
    a_secret_replaced_on_one_replica_is_the_one_the_other_injects,
    a_person_activated_on_one_replica_is_served_on_the_other,
    policies_reloaded_on_one_replica_are_in_force_on_the_other,
);
