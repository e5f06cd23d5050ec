//! LDAP over TLS against a real slapd: ldaps:// and StartTLS with the company's CA file, and
//! a clear refusal (never a sync, never an offboarding) for an untrusted or expired certificate.

mod common;

use std::time::{Duration, Instant};

use common::pki::pki;
use common::slapd::{self, Slapd};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::Value;

/// Runs an on-demand sync, waiting out the scheduled one if it is still running.
async fn sync_with(app: &TestApp) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, v) = app.api(Method::POST, "/sync/corp", None).await;
        if code != 409 || Instant::now() > deadline {
            return (code, v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn source(url: &str, extra: &str) -> Vec<staffgate::directory::ldap::LdapSource> {
    let text = format!(
        "[corp]\nurl = \"{url}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\n\
         base_dn = \"ou=people,{}\"\nmode = \"poll\"\npoll_interval = \"1h\"\ntimeout = \"5s\"\n{extra}",
        slapd::SYNC_DN,
        slapd::SYNC_PW,
        slapd::SUFFIX
    );
    staffgate::directory::ldap::config::parse_sources(&toml::from_str(&text).unwrap()).unwrap()
}

async fn app_with(sources: Vec<staffgate::directory::ldap::LdapSource>) -> TestApp {
    TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await
}

async fn wait_for_staff(app: &TestApp, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while app
        .api(Method::GET, &format!("/staff/{name}"), None)
        .await
        .0
        != 200
    {
        assert!(Instant::now() < deadline, "{name} never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldaps_and_starttls_work_with_the_company_ca() {
    let pki = pki(false);
    let ldap = Slapd::start_tls(&pki.cert_pem, &pki.key_pem);
    ldap.add(&slapd::person_ldif("alice", "pw"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let ca_line = format!("ca_file = \"{}\"\n", ca.display());

    let ldaps = app_with(source(ldap.ldaps_url.as_ref().unwrap(), &ca_line)).await;
    wait_for_staff(&ldaps, "alice").await;
    ldaps.stop().await;

    let starttls = app_with(source(&ldap.url, &format!("starttls = true\n{ca_line}"))).await;
    wait_for_staff(&starttls, "alice").await;
    let (code, v) = sync_with(&starttls).await;
    assert_eq!(code, 200, "{v}");
    starttls.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_or_expired_certificate_is_refused_and_nobody_is_touched() {
    // Trusted CA, expired certificate.
    let expired = pki(true);
    let ldap = Slapd::start_tls(&expired.cert_pem, &expired.key_pem);
    ldap.add(&slapd::person_ldif("alice", "pw"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &expired.ca_pem).unwrap();
    let app = app_with(source(
        ldap.ldaps_url.as_ref().unwrap(),
        &format!("ca_file = \"{}\"\n", ca.display()),
    ))
    .await;
    let (code, v) = sync_with(&app).await;
    assert_eq!(code, 502, "{v}");
    assert_eq!(v["error"]["code"], "directory_unavailable");
    let message = v["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("expired"), "{message}");
    assert!(!message.contains(slapd::SYNC_PW));
    assert_eq!(app.api(Method::GET, "/staff/alice", None).await.0, 404);
    app.stop().await;

    // A valid certificate from a CA the host does not trust.
    let other = pki(false);
    let ldap = Slapd::start_tls(&other.cert_pem, &other.key_pem);
    let app = app_with(source(ldap.ldaps_url.as_ref().unwrap(), "")).await;
    let (code, v) = sync_with(&app).await;
    assert_eq!(code, 502, "{v}");
    let message = v["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("certificate"), "{message}");
    app.stop().await;
}
