//! The broker against a real upstream, on SQLite and on PostgreSQL.

mod common;

use common::upstream::Upstream;
use common::{Db, TestApp, contains};
use reqwest::Method;
use serde_json::json;

const SECRET: &str = "EAAG-real-whatsapp-secret-0123456789";

async fn setup(db: Db) -> (TestApp, Upstream) {
    let app = TestApp::spawn(db).await;
    let up = Upstream::start(SECRET).await;
    app.add_staff("alice", &["support"]).await;
    let body = json!({ "kind": "bearer", "upstream": format!("{}/v17.0", up.base), "tags": ["support"], "rules": ["GET /** read", "POST /** send"] });
    app.add_channel("whatsapp-main", body, SECRET).await;
    (app, up)
}

async fn secret_is_injected_and_the_callers_credential_removed(db: Db) {
    let (app, up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    let resp = app
        .http
        .post(app.broker("whatsapp-main", "123/messages?x=1"))
        .bearer_auth(&token)
        .header("cookie", "session=callers")
        .header("x-custom", "kept")
        .body("{\"to\":\"+1\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = up.requests();
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    assert_eq!(r.path, "/v17.0/123/messages");
    assert_eq!(r.query.as_deref(), Some("x=1"));
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(r.header("cookie"), None);
    assert_eq!(r.header("x-custom"), Some("kept"));
    assert_eq!(r.body, b"{\"to\":\"+1\"}");
    assert!(
        !r.headers.iter().any(|(_, v)| v.contains(&token)),
        "the brokered token must not reach the upstream"
    );
    app.stop().await;
}

async fn secret_never_appears_in_responses_or_the_database(db: Db) {
    let (app, _up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    let resp = app
        .http
        .get(app.broker("whatsapp-main", "echo-secret"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let headers = format!("{:?}", resp.headers());
    let body = resp.text().await.unwrap();
    assert!(
        !headers.contains(SECRET) && !body.contains(SECRET),
        "{headers} {body}"
    );
    assert!(
        body.contains(&"*".repeat(SECRET.len())),
        "masked at the same length: {body}"
    );

    let (_, channel) = app.api(Method::GET, "/channels/whatsapp-main", None).await;
    assert!(!channel.to_string().contains(SECRET));
    let (_, audit) = app.api(Method::GET, "/audit?limit=1000", None).await;
    assert!(!audit.to_string().contains(SECRET));
    assert!(!audit.to_string().contains(&token));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let dump = app.database_dump().await;
    assert!(!dump.is_empty());
    assert!(!contains(&dump, SECRET), "channel secret stored in clear");
    assert!(!contains(&dump, &token), "brokered token stored in clear");
    assert!(!contains(&dump, &app.key), "admin key stored in clear");
    app.stop().await;
}

async fn every_denial_is_clear_and_never_reaches_the_upstream(db: Db) {
    let (app, up) = setup(db).await;
    app.add_staff("bob", &["sales"]).await;
    let other = json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /messages read"] });
    app.add_channel("vk-main", other, "vk-secret-value").await;
    let (_, token) = app
        .issue("alice", "whatsapp-main", json!({ "actions": ["read"] }))
        .await;
    let (_, vk_token) = app.issue("alice", "vk-main", json!({})).await;
    let forged = token[..token.len() - 1].to_owned() + if token.ends_with('A') { "B" } else { "A" };

    let c = &app.http;
    let b = |rest: &str| app.broker("whatsapp-main", rest);
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        ("no token", c.get(b("x")), 401, "token_missing"),
        (
            "basic auth",
            c.get(b("x")).basic_auth("u", Some("p")),
            401,
            "token_missing",
        ),
        (
            "malformed",
            c.get(b("x")).bearer_auth("hello"),
            401,
            "token_malformed",
        ),
        (
            "checksum",
            c.get(b("x")).bearer_auth(&forged),
            401,
            "token_malformed",
        ),
        (
            "other channel's token",
            c.get(b("x")).bearer_auth(&vk_token),
            403,
            "token_wrong_channel",
        ),
        (
            "action not in token",
            c.post(b("x")).bearer_auth(&token),
            403,
            "action_not_in_token",
        ),
        (
            "unmapped",
            c.post(app.broker("vk-main", "messages"))
                .bearer_auth(&vk_token),
            403,
            "action_unmapped",
        ),
        (
            "unknown channel",
            c.get(app.broker("nope", "x")).bearer_auth(&token),
            404,
            "channel_not_found",
        ),
        (
            "encoded slash",
            c.get(b("a%2F..%2Fadmin")).bearer_auth(&token),
            400,
            "path_rejected",
        ),
        (
            "absolute url",
            c.get(b("http://evil.example/x")).bearer_auth(&token),
            400,
            "path_rejected",
        ),
        (
            "method",
            c.request(Method::TRACE, b("x")).bearer_auth(&token),
            405,
            "method_not_allowed",
        ),
        (
            "huge header",
            c.get(b("x"))
                .bearer_auth(&token)
                .header("x-big", "a".repeat(20_000)),
            431,
            "headers_too_large",
        ),
    ];
    for (what, req, status, code) in cases {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{what}: {v}");
    }
    // HTTP clients normalise dot segments, so traversal goes over a raw socket.
    for path in [
        "a/../../admin",
        "%2e%2e/%2e%2e/admin",
        "..%2f..%2fadmin",
        ".%2e/x",
    ] {
        let (status, body) = raw(
            &app.base,
            "GET",
            &format!("/broker/whatsapp-main/{path}"),
            &token,
            "",
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("path_rejected"), "{path}: {body}");
    }
    // Bob's group reaches nothing: issuing is refused.
    let (status, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "bob", "channel": "whatsapp-main" })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("nothing_permitted"))
    );
    assert_eq!(
        up.count(),
        0,
        "no refused request reached the upstream: {:?}",
        up.requests()
    );
    app.stop().await;
}

async fn an_oversized_body_is_refused(db: Db) {
    let (app, up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    // The broker answers from the declared length, before reading a byte of the body; a
    // client still writing would see a reset, so the head goes over a raw socket.
    let declared = format!("Content-Length: {}\r\n", 11 * 1024 * 1024);
    let (status, answer) = raw(
        &app.base,
        "POST",
        "/broker/whatsapp-main/m",
        &token,
        &declared,
    )
    .await;
    assert_eq!(status, 413);
    assert!(answer.contains("body_too_large"), "{answer}");
    assert_eq!(up.count(), 0);
    app.stop().await;
}

async fn expired_tokens_fail(db: Db) {
    let (app, up) = setup(db).await;
    let (_, token) = app
        .issue("alice", "whatsapp-main", json!({ "ttl": "1s" }))
        .await;
    assert_eq!(
        app.call(Method::GET, "whatsapp-main", "x", &token).await.0,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, code) = app.call(Method::GET, "whatsapp-main", "x", &token).await;
    assert_eq!(status, 401);
    assert_eq!(code.as_deref(), Some("token_expired"));
    assert_eq!(up.count(), 1);
    app.stop().await;
}

async fn a_policy_reload_that_removes_a_permission_makes_the_next_call_fail(db: Db) {
    let (app, _up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    assert_eq!(
        app.call(Method::POST, "whatsapp-main", "m", &token).await.0,
        200
    );

    // A broken policy is refused and the old set stays.
    std::fs::write(
        app.policies().join("broken.cedar"),
        "permit (principal, action, resource) when { resource.nope };",
    )
    .unwrap();
    let (status, v) = app.api(Method::POST, "/policies/reload", None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("policy_invalid"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broken.cedar:1"),
        "{v}"
    );
    assert_eq!(
        app.call(Method::POST, "whatsapp-main", "m", &token).await.0,
        200
    );

    std::fs::remove_file(app.policies().join("broken.cedar")).unwrap();
    let support = std::fs::read_to_string(app.policies().join("support.cedar")).unwrap();
    std::fs::write(
        app.policies().join("support.cedar"),
        support.replace(
            "action in [Action::\"read\", Action::\"send\"]",
            "action == Action::\"read\"",
        ),
    )
    .unwrap();
    let (status, v) = app.api(Method::POST, "/policies/reload", None).await;
    assert_eq!(status, 200, "{v}");
    let (status, code) = app.call(Method::POST, "whatsapp-main", "m", &token).await;
    assert_eq!(status, 403);
    assert_eq!(code.as_deref(), Some("policy_denied"));
    assert_eq!(
        app.call(Method::GET, "whatsapp-main", "m", &token).await.0,
        200
    );
    app.stop().await;
}

/// Sends a request head exactly as written (HTTP clients would normalise it) and reads the
/// whole answer.
async fn raw(base: &str, method: &str, path: &str, token: &str, extra: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n{extra}Connection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

async fn metrics_count_outcomes_for_api_keys_only(db: Db) {
    let (app, _up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    for _ in 0..3 {
        assert_eq!(
            app.call(Method::GET, "whatsapp-main", "x", &token).await.0,
            200
        );
    }
    let bogus = "sgt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000";
    app.call(Method::GET, "whatsapp-main", "x", bogus).await;
    assert_eq!(
        app.http
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Activity is reported when each response body ends; give the last one a moment.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let text = app.metrics().await;
    assert!(
        text.contains(
            "staffgate_broker_requests_total{channel=\"whatsapp-main\",outcome=\"accepted\"} 3"
        ),
        "{text}"
    );
    assert!(
        text.contains("outcome=\"token_malformed\"") || text.contains("outcome=\"token_unknown\""),
        "{text}"
    );
    assert!(
        text.contains(
            "staffgate_broker_request_duration_seconds_count{channel=\"whatsapp-main\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains("staffgate_live_tokens 1"), "{text}");
    app.stop().await;
}

both_backends!(
    metrics_count_outcomes_for_api_keys_only,
    secret_is_injected_and_the_callers_credential_removed,
    secret_never_appears_in_responses_or_the_database,
    every_denial_is_clear_and_never_reaches_the_upstream,
    an_oversized_body_is_refused,
    expired_tokens_fail,
    a_policy_reload_that_removes_a_permission_makes_the_next_call_fail,
);
