//! First login through the API against a real slapd: TOTP enrolment, replay refusal (also at
//! once and across two daemons on one database), lockout, recovery codes, the NDA, the gate
//! on every issuing path, and a new NDA version stopping existing tokens.

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp, contains};
use reqwest::Method;
use serde_json::{Value, json};
use staffgate::config::Config;
use staffgate::signin::totp;

struct World {
    app: TestApp,
    ldap: Slapd,
    _upstream: Upstream,
}

fn strict(c: &mut Config) {
    c.compliance.require_totp = true;
    c.compliance.require_nda = true;
}

async fn world(db: Db, tweak: impl FnOnce(&mut Config) + Send + 'static) -> World {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "alice-pw"));
    ldap.add(&slapd::person_ldif("bob", "bob-pw"));
    ldap.add(&slapd::group_ldif("support", &["alice", "bob"]));
    let sources = ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let app = TestApp::spawn_with(db, move |c| {
        c.ldap = sources;
        strict(c);
        tweak(c);
    })
    .await;
    wait_synced(&app).await;
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read"] }),
        "real-channel-secret",
    )
    .await;
    World {
        app,
        ldap,
        _upstream: upstream,
    }
}

async fn wait_synced(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(app: &TestApp, user: &str, pw: &str) -> String {
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": user, "password": pw }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    v["session"].as_str().unwrap().to_owned()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The seed, as the person's phone gets it from the otpauth URL.
fn seed_from(url: &str) -> Vec<u8> {
    let secret = reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    totp_rs::Secret::try_from_base32(secret)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// Enrols and confirms TOTP in `session`; returns the seed and the recovery codes.
async fn enrol(app: &TestApp, session: &str) -> (Vec<u8>, Vec<String>) {
    let (s, v) = app
        .api_as(session, Method::POST, "/me/totp/enrol", None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let seed = seed_from(v["otpauth_url"].as_str().unwrap());
    let c = totp::code_at(&seed, now()).unwrap();
    let (s, v) = app
        .api_as(
            session,
            Method::POST,
            "/me/totp/confirm",
            Some(json!({ "code": c })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let codes: Vec<String> = v["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (seed, codes)
}

async fn acknowledge(app: &TestApp, session: &str, lang: &str) -> Value {
    let (s, nda) = app
        .api_as(session, Method::GET, &format!("/me/nda?lang={lang}"), None)
        .await;
    assert_eq!(s, 200, "{nda}");
    let (s, v) = app
        .api_as(
            session,
            Method::POST,
            "/me/nda",
            Some(json!({ "version": nda["version"], "sha256": nda["sha256"], "language": nda["language"] })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn first_login_enrols_totp_acknowledges_the_nda_and_activates(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let session = login(app, "alice", "alice-pw").await;
    let issue = json!({ "channel": "support-desk" });
    let (s, v) = app
        .api_as(&session, Method::POST, "/me/tokens", Some(issue.clone()))
        .await;
    assert_eq!(
        (s, code(&v)),
        (409, "staff_not_active"),
        "pending people get nothing"
    );

    // A wrong first code, then the right one.
    let (s, _) = app
        .api_as(&session, Method::POST, "/me/totp/enrol", None)
        .await;
    assert_eq!(s, 200);
    let (s, v) = app
        .api_as(
            &session,
            Method::POST,
            "/me/totp/confirm",
            Some(json!({ "code": "000000" })),
        )
        .await;
    assert!(s == 401 && code(&v) == "totp_invalid" || s == 200, "{v}");
    let (seed, recovery) = if s == 200 {
        panic!("000000 happened to be the code; rerun")
    } else {
        enrol(app, &session).await
    };
    assert_eq!(recovery.len(), 10);
    let (s, v) = app
        .api_as(&session, Method::POST, "/me/tokens", Some(issue.clone()))
        .await;
    assert_eq!(
        (s, code(&v)),
        (409, "staff_not_active"),
        "the NDA is still missing: {v}"
    );

    // The NDA: a tampered hash is refused, the real one activates.
    let (_, nda) = app
        .api_as(&session, Method::GET, "/me/nda?lang=ru", None)
        .await;
    assert_eq!(nda["language"], "ru");
    let (s, v) = app
        .api_as(
            &session,
            Method::POST,
            "/me/nda",
            Some(json!({ "version": nda["version"], "sha256": "0".repeat(64), "language": "ru" })),
        )
        .await;
    assert_eq!((s, code(&v)), (409, "nda_changed"), "{v}");
    let v = acknowledge(app, &session, "ru").await;
    assert_eq!(v["status"], "active");

    let (s, t) = app
        .api_as(&session, Method::POST, "/me/tokens", Some(issue.clone()))
        .await;
    assert_eq!(s, 201, "{t}");
    let token = t["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        200
    );

    // A later sign-in needs the second factor before any token.
    let later = login(app, "alice", "alice-pw").await;
    let (s, v) = app
        .api_as(&later, Method::POST, "/me/tokens", Some(issue.clone()))
        .await;
    assert_eq!((s, code(&v)), (403, "totp_not_verified"), "{v}");
    // The code used to enrol is spent: replay is refused.
    let spent = totp::code_at(&seed, now()).unwrap();
    let (s, v) = app
        .api_as(
            &later,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "code": spent })),
        )
        .await;
    assert_eq!((s, code(&v)), (401, "totp_replayed"), "{v}");
    // The next step's code (within the skew) is fresh.
    let next = totp::code_at(&seed, now() + 30).unwrap();
    let (s, v) = app
        .api_as(
            &later,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "code": next })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        app.api_as(&later, Method::POST, "/me/tokens", Some(issue.clone()))
            .await
            .0,
        201
    );

    // A recovery code works once.
    let third = login(app, "alice", "alice-pw").await;
    let (s, v) = app
        .api_as(
            &third,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "recovery_code": recovery[0] })),
        )
        .await;
    assert_eq!(
        (s, v["recovery_codes_left"].as_u64()),
        (200, Some(9)),
        "{v}"
    );
    let fourth = login(app, "alice", "alice-pw").await;
    let (s, v) = app
        .api_as(
            &fourth,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "recovery_code": recovery[0] })),
        )
        .await;
    assert_eq!((s, code(&v)), (401, "totp_invalid"), "{v}");

    // HR's report: who acknowledged which text, from where; who is missing.
    let (s, report) = app.api(Method::GET, "/nda/acknowledgements", None).await;
    assert_eq!(s, 200, "{report}");
    let ack = &report["acknowledged"][0];
    assert_eq!(ack["username"], "alice");
    assert_eq!(ack["language"], "ru");
    assert_eq!(ack["text_sha256"], nda["sha256"]);
    assert_eq!(ack["address"], "127.0.0.1");
    assert!(report["missing"].to_string().contains("bob"));

    // The same through the CLI, as HR runs it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_staffgate"))
        .args(["nda", "report"])
        .env("STAFFGATE_URL", &app.base)
        .env("STAFFGATE_ADMIN_KEY", &app.key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 acknowledged") && text.contains("alice") && text.contains("MISSING"),
        "{text}"
    );

    // Nothing secret is stored in clear.
    let dump = app.database_dump().await;
    let key = totp_rs::Secret::from(seed.clone()).to_base32();
    assert!(!contains(&dump, &key), "the TOTP seed is sealed");
    assert!(!contains(&dump, &recovery[1]), "recovery codes are hashed");
    let (_, audit) = app.api(Method::GET, "/audit?limit=500", None).await;
    for event in [
        "totp.enrolled",
        "totp.replayed",
        "totp.recovery_used",
        "nda.acknowledged",
        "staff.first_login_done",
    ] {
        assert!(
            audit.to_string().contains(event),
            "{event} missing from the audit log"
        );
    }
    w.app.stop().await;
}

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
        app.api_as(&a, Method::POST, "/me/totp/verify", Some(body.clone())),
        other.api_as(&b, Method::POST, "/me/totp/verify", Some(body.clone())),
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
        let (s, v) = app
            .api_as(
                &later,
                Method::POST,
                "/me/totp/verify",
                Some(json!({ "code": bad })),
            )
            .await;
        assert_eq!((s, code(&v)), (401, "totp_invalid"), "{v}");
    }
    let good = totp::code_at(&seed, now() + 30).unwrap();
    let (s, v) = app
        .api_as(
            &later,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "code": good.clone() })),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (429, "totp_locked"),
        "even the right code waits: {v}"
    );
    let (_, audit) = app.api(Method::GET, "/audit?limit=500", None).await;
    assert!(audit.to_string().contains("totp.locked_out"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, v) = app
        .api_as(
            &later,
            Method::POST,
            "/me/totp/verify",
            Some(json!({ "code": good })),
        )
        .await;
    assert_eq!(s, 200, "the lock ends with its window: {v}");
    w.app.stop().await;
}

async fn the_gate_applies_to_admins_and_a_reset_forces_reenrolment(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let (s, v) = app
        .api(
            Method::POST,
            "/staff/bob/activate",
            Some(json!({ "reason": "test" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "bob", "channel": "support-desk" })),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "totp_not_enrolled"), "{v}");
    let session = login(app, "bob", "bob-pw").await;
    enrol(app, &session).await;
    let (s, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "bob", "channel": "support-desk" })),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "nda_not_acknowledged"), "{v}");
    acknowledge(app, &session, "en").await;
    let (_, token) = app.issue("bob", "support-desk", json!({})).await;
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        200
    );

    let (s, v) = app
        .api(
            Method::POST,
            "/staff/bob/totp/reset",
            Some(json!({ "reason": "lost phone" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        401
    );
    let (s, v) = app.api_as(&session, Method::GET, "/me", None).await;
    assert_eq!(
        (s, code(&v)),
        (401, "session_invalid"),
        "a reset ends every session"
    );
    let again = login(app, "bob", "bob-pw").await;
    let (_, me) = app.api_as(&again, Method::GET, "/me", None).await;
    assert_eq!(me["first_login"]["totp_enrolled"], false);
    enrol(app, &again).await;
    w.app.stop().await;
}

async fn a_new_nda_version_stops_existing_tokens(db: Db) {
    let w = world(db, |_| {}).await;
    let app = &w.app;
    let session = login(app, "alice", "alice-pw").await;
    enrol(app, &session).await;
    acknowledge(app, &session, "en").await;
    let (s, t) = app
        .api_as(
            &session,
            Method::POST,
            "/me/tokens",
            Some(json!({ "channel": "support-desk" })),
        )
        .await;
    assert_eq!(s, 201);
    let token = t["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        200
    );

    // Legal publishes a new version, effective today, that everyone must acknowledge again.
    let today = chrono::Utc::now().date_naive();
    std::fs::write(
        app.policies().join("nda").join("2099-new.md"),
        format!("+++\nversion = \"2099-new\"\ntitle = \"New rules\"\neffective = \"{today}\"\nreacknowledge = true\n+++\n\nNew rules.\n"),
    )
    .unwrap();
    let (s, v) = app.api(Method::POST, "/policies/reload", None).await;
    assert_eq!(s, 200, "{v}");
    let (s, c) = app
        .call(Method::GET, "support-desk", "messages", &token)
        .await;
    assert_eq!((s, c.as_deref()), (403, Some("nda_not_acknowledged")));
    let (s, v) = app
        .api_as(
            &session,
            Method::POST,
            "/me/tokens",
            Some(json!({ "channel": "support-desk" })),
        )
        .await;
    assert_eq!((s, code(&v)), (403, "nda_not_acknowledged"), "{v}");
    acknowledge(app, &session, "en").await;
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        200
    );
    w.app.stop().await;
}

both_backends!(
    first_login_enrols_totp_acknowledges_the_nda_and_activates,
    replayed_codes_are_refused_at_once_and_across_daemons,
    lockout_after_repeated_failures_and_its_expiry,
    the_gate_applies_to_admins_and_a_reset_forces_reenrolment,
    a_new_nda_version_stops_existing_tokens,
);
