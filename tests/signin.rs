//! Sign-in by LDAP bind against a real slapd: sessions by cookie and bearer, self-service
//! tokens, and every refusal (wrong password, injected filters, leavers, rate limits).

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp, contains};
use reqwest::Method;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    _ldap: Slapd,
    _upstream: Upstream,
}

async fn world(db: Db) -> World {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    for (uid, pw) in [
        ("alice", "alice-pw-1"),
        ("bob", "bob-pw-2"),
        ("carol", "carol-pw-3"),
        ("dave", "dave-pw-4"),
    ] {
        ldap.add(&slapd::person_ldif(uid, pw));
    }
    ldap.add(&slapd::group_ldif("support", &["alice", "bob", "carol"]));
    let sources = ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let app = TestApp::spawn_with(db, move |c| c.ldap = sources).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "the directory never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for who in ["alice", "carol"] {
        let (s, v) = app
            .api(
                Method::POST,
                &format!("/staff/{who}/activate"),
                Some(json!({"reason": "test"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read"] }),
        "real-channel-secret",
    )
    .await;
    World {
        app,
        _ldap: ldap,
        _upstream: upstream,
    }
}

/// Posts a sign-in; returns status, body and the Set-Cookie header.
async fn login(app: &TestApp, username: &str, password: &str) -> (u16, Value, Option<String>) {
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.json().await.unwrap_or(Value::Null), cookie)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

async fn ldap_bind_sign_in_opens_a_session_for_staff(db: Db) {
    let w = world(db).await;
    let app = &w.app;
    let (status, v, cookie) = login(app, "alice", "alice-pw-1").await;
    assert_eq!(status, 200, "{v}");
    let session = v["session"].as_str().unwrap().to_owned();
    assert!(session.starts_with("sgs_"));
    let cookie = cookie.unwrap();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }

    // The bearer form and the cookie form both work.
    let (s, me) = app.api_as(&session, Method::GET, "/me", None).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["staff"]["username"], "alice");
    assert_eq!(me["channels"][0]["channel"], "support-desk");
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();
    let resp = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .header("cookie", cookie_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Staff issue their own tokens and use them through the broker.
    let (s, t) = app
        .api_as(
            &session,
            Method::POST,
            "/me/tokens",
            Some(json!({ "channel": "support-desk", "ttl": "10m" })),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["staff"], "alice");
    let token = t["token"].as_str().unwrap();
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", token)
            .await
            .0,
        200
    );
    let (_, mine) = app.api_as(&session, Method::GET, "/me/tokens", None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    // A session is not an admin key.
    assert_eq!(
        app.api_as(&session, Method::GET, "/staff", None).await.0,
        401
    );

    // Signing out ends the session.
    assert_eq!(
        app.api_as(&session, Method::POST, "/logout", None).await.0,
        200
    );
    let (s, v) = app.api_as(&session, Method::GET, "/me", None).await;
    assert_eq!((s, code(&v)), (401, "session_invalid"));

    // No password reached the database.
    let dump = app.database_dump().await;
    assert!(!contains(&dump, "alice-pw-1"));
    assert!(!contains(&dump, &session), "sessions are stored hashed");
    w.app.stop().await;
}

async fn sign_in_refuses_wrong_passwords_injection_and_leavers(db: Db) {
    let w = world(db).await;
    let app = &w.app;
    let (s, v, cookie) = login(app, "alice", "wrong").await;
    assert_eq!((s, code(&v)), (401, "invalid_credentials"), "{v}");
    assert!(cookie.is_none());
    // An empty password would make the bind anonymous; it is refused before the directory.
    assert_eq!(
        code(&login(app, "alice", "").await.1),
        "invalid_credentials"
    );
    // Filter injection: never a match for someone else, never a 500.
    for name in [
        "*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice\u{0}",
        "a\\2a",
        &"x".repeat(300),
    ] {
        let (s, v, _) = login(app, name, "alice-pw-1").await;
        assert!(s == 401 || s == 400, "{name:?}: {s} {v}");
    }
    // Not JSON, or not UTF-8: a clear 400.
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .header("content-type", "application/json")
        .body(b"{\"username\":\"al\xffice\",\"password\":\"x\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // A pending person may sign in, but gets no token before their first login is done.
    let (s, v, _) = login(app, "bob", "bob-pw-2").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "pending");
    let bob = v["session"].as_str().unwrap();
    let (s, v) = app
        .api_as(
            bob,
            Method::POST,
            "/me/tokens",
            Some(json!({ "channel": "support-desk" })),
        )
        .await;
    assert_eq!((s, code(&v)), (409, "staff_not_active"), "{v}");

    // Offboarding ends a leaver's sessions, and their right password no longer signs in.
    let (_, v, _) = login(app, "carol", "carol-pw-3").await;
    let carol = v["session"].as_str().unwrap().to_owned();
    app.offboard("carol").await;
    let (s, v) = app.api_as(&carol, Method::GET, "/me", None).await;
    assert_eq!((s, code(&v)), (401, "session_invalid"));
    let (s, v, _) = login(app, "carol", "carol-pw-3").await;
    assert_eq!((s, code(&v)), (403, "staff_offboarded"), "{v}");

    // Failed attempts are audited, without the password.
    let (_, audit) = app.api(Method::GET, "/audit", None).await;
    let text = audit.to_string();
    assert!(text.contains("signin.failed"), "{text}");
    assert!(!text.contains("alice-pw-1") && !text.contains("\"wrong\""));
    w.app.stop().await;
}

async fn repeated_failures_are_rate_limited_per_account(db: Db) {
    let w = world(db).await;
    let app = &w.app;
    for _ in 0..5 {
        assert_eq!(login(app, "dave", "guess").await.0, 401);
    }
    // Even the right password waits now; other accounts are not affected.
    let (s, v, _) = login(app, "dave", "dave-pw-4").await;
    assert_eq!((s, code(&v)), (429, "signin_rate_limited"), "{v}");
    assert_eq!(login(app, "alice", "alice-pw-1").await.0, 200);
    // The API says when to come back; the sign-in page says how long, in words.
    let r = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": "dave", "password": "dave-pw-4" }))
        .send()
        .await
        .unwrap();
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    let form = app
        .http
        .get(format!("{}/login?lang=en", app.base))
        .send()
        .await
        .unwrap();
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("staffgate_login_csrf="))
        .unwrap();
    let html = form.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = html[at..].split('"').next().unwrap().to_owned();
    let page = app
        .http
        .post(format!("{}/login?lang=en", app.base))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "dave"),
            ("password", "dave-pw-4"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 429);
    let text = page.text().await.unwrap();
    assert!(
        text.contains(&format!("Try again in at most {} min.", wait.div_ceil(60))),
        "{text}"
    );
    w.app.stop().await;
}

/// A burst of parallel guesses gets no more attempts than the limit: each is reserved (and
/// counted) before the directory is asked, so only that many reach a bind. Every attempt
/// that was not refused by the limit was a bind with the wrong password; the audit log
/// shows the same number.
async fn parallel_guesses_get_no_more_attempts_than_the_limit(db: Db) {
    let w = world(db).await;
    let app = &w.app;
    let guesses = (0..200).map(|i| async move { login(app, "carol", &format!("guess-{i}")).await });
    let answers = futures_util::future::join_all(guesses).await;
    let tried = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let limited = answers
        .iter()
        .filter(|(s, v, _)| *s == 429 && code(v) == "signin_rate_limited")
        .count();
    assert_eq!(tried, 5, "attempts that reached the directory");
    assert_eq!(
        tried + limited,
        200,
        "every other guess was refused by the limit"
    );
    let (_, audit) = app.api(Method::GET, "/audit?limit=1000", None).await;
    let failed = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "signin.failed" && e["subject"] == "carol")
        .count();
    assert_eq!(failed, 5, "{audit}");
    w.app.stop().await;
}

both_backends!(
    parallel_guesses_get_no_more_attempts_than_the_limit,
    ldap_bind_sign_in_opens_a_session_for_staff,
    sign_in_refuses_wrong_passwords_injection_and_leavers,
    repeated_failures_are_rate_limited_per_account,
);
