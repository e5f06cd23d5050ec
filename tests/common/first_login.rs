//! First-login helpers shared by the first-login and TOTP tests: a slapd with alice and bob,
//! a daemon with both requirements on, and the steps a person's phone and browser take.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use staffgate::config::Config;
use staffgate::signin::totp;

use super::slapd::{self, Slapd};
use super::upstream::Upstream;
use super::{Db, TestApp};

pub struct World {
    pub app: TestApp,
    pub ldap: Slapd,
    _upstream: Upstream,
}

pub fn strict(c: &mut Config) {
    c.compliance.require_totp = true;
    c.compliance.require_nda = true;
}

pub async fn world(db: Db, tweak: impl FnOnce(&mut Config) + Send + 'static) -> World {
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

pub async fn wait_synced(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn login(app: &TestApp, user: &str, pw: &str) -> String {
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

pub fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The seed, as the person's phone gets it from the otpauth URL.
pub fn seed_from(url: &str) -> Vec<u8> {
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
pub async fn enrol(app: &TestApp, session: &str) -> (Vec<u8>, Vec<String>) {
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

pub async fn acknowledge(app: &TestApp, session: &str, lang: &str) -> Value {
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

/// Posts a TOTP code (or `{"recovery_code": …}`) in a session.
pub async fn verify(app: &TestApp, session: &str, body: Value) -> (u16, Value) {
    app.api_as(session, Method::POST, "/me/totp/verify", Some(body))
        .await
}
