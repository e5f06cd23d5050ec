//! Small holes a hostile insider would try (issue 10): acknowledging the NDA from a session
//! that has not passed TOTP, getting a pending person activated by offboarding and
//! reinstating them, and an API key outliving its owner.

mod common;

use common::first_login::{enrol, login, world};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

async fn the_nda_is_acknowledged_only_from_a_session_that_passed_totp(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let first = login(app, "alice", "alice-pw").await;
    enrol(app, &first).await;
    // A later sign-in, before its TOTP code: a stolen password alone.
    let later = login(app, "alice", "alice-pw").await;
    let (s, nda) = app
        .api_as(&later, Method::GET, "/me/nda?lang=en", None)
        .await;
    assert_eq!(s, 200, "{nda}");
    let (s, v) = app
        .api_as(
            &later,
            Method::POST,
            "/me/nda",
            Some(json!({ "version": nda["version"], "sha256": nda["sha256"], "language": nda["language"] })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("totp_not_verified")),
        "{v}"
    );
    let (_, alice) = app.api(Method::GET, "/staff/alice", None).await;
    assert_eq!(alice["status"], "pending", "not activated by it");
    w.app.stop().await;
}

async fn reinstating_a_pending_person_leaves_them_pending(db: Db) {
    let app = TestApp::spawn(db).await;
    let body = json!({ "email": "p@example.com", "name": "P", "groups": ["support"], "status": "pending" });
    let (s, v) = app.api(Method::PUT, "/staff/newbie", Some(body)).await;
    assert_eq!(s, 200, "{v}");
    app.offboard("newbie").await;
    let (s, v) = app
        .api(
            Method::POST,
            "/staff/newbie/reinstate",
            Some(json!({ "reason": "rehired" })),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("pending")), "{v}");
    // An active person comes back active.
    app.add_staff("alice", &["support"]).await;
    app.offboard("alice").await;
    let (_, v) = app
        .api(
            Method::POST,
            "/staff/alice/reinstate",
            Some(json!({ "reason": "rehired" })),
        )
        .await;
    assert_eq!(v["status"], "active", "{v}");
    app.stop().await;
}

async fn an_api_key_lives_only_while_its_owner_is_active(db: Db) {
    let app = TestApp::spawn(db).await;
    app.add_staff("hana", &["hr"]).await;
    let (s, key) = app
        .api(
            Method::POST,
            "/keys",
            Some(json!({ "name": "hana-laptop", "role": "hr", "staff": "hana" })),
        )
        .await;
    assert_eq!(s, 201, "{key}");
    let text = key["key"].as_str().unwrap().to_owned();
    assert_eq!(app.api_as(&text, Method::GET, "/staff", None).await.0, 200);
    app.offboard("hana").await;
    assert_eq!(app.api_as(&text, Method::GET, "/staff", None).await.0, 401);
    // No new key for someone who is gone.
    let (s, v) = app
        .api(
            Method::POST,
            "/keys",
            Some(json!({ "name": "hana-again", "role": "hr", "staff": "hana" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("staff_not_active")),
        "{v}"
    );
    app.stop().await;
}

both_backends!(
    the_nda_is_acknowledged_only_from_a_session_that_passed_totp,
    reinstating_a_pending_person_leaves_them_pending,
    an_api_key_lives_only_while_its_owner_is_active,
);
