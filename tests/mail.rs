//! Mail through a real SMTP server (aiosmtpd): joiners are invited to their first login,
//! active staff are asked to acknowledge a new NDA version once, and admins hear when the
//! mass-deprovisioning guard holds a plan. (The receipt mail, with the relay down and then
//! up, is in `production.rs`.)

mod common;

use std::time::{Duration, Instant};

use common::peers::Smtp;
use common::slapd::{self, SUFFIX, Slapd};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

fn subjects(mails: &[String], starting: &str) -> usize {
    mails
        .iter()
        .filter(|m| {
            m.lines()
                .any(|l| l.starts_with(&format!("Subject: {starting}")))
        })
        .count()
}

async fn wait_until_mails(smtp: &Smtp, subject: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mails = smtp.mails();
        if subjects(&mails, subject) >= n {
            return mails;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} mails {subject:?}",
            subjects(&mails, subject)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joiners_new_nda_versions_and_the_guard_are_mailed_once() {
    let smtp = Smtp::start().await;
    let ldap = Slapd::start();
    let names: Vec<String> = (0..12).map(|i| format!("user{i:02}")).collect();
    ldap.add(
        &names
            .iter()
            .map(|n| slapd::person_ldif(n, "pw"))
            .collect::<String>(),
    );
    let sources = ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let port = smtp.port;
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.ldap = sources;
        c.compliance.require_nda = true;
        c.mail.host = Some("127.0.0.1".into());
        c.mail.port = Some(port);
        c.mail.security = staffgate::config::SmtpSecurity::Plain;
        c.mail.admins = vec!["admins@example.com".into()];
        c.mail.public_url = "https://staffgate.example.com".into();
    })
    .await;

    // Twelve joiners: twelve invitations, each with the link to sign in.
    let mails = wait_until_mails(&smtp, "Complete your first login", 12).await;
    let invite = mails
        .iter()
        .find(|m| m.contains("To: user03@example.org"))
        .unwrap();
    assert!(
        invite.contains("https://staffgate.example.com/login"),
        "{invite}"
    );

    // They finish first login; then legal publishes a version everyone must acknowledge.
    for n in &names {
        let (s, v) = app
            .api(
                Method::POST,
                &format!("/staff/{n}/activate"),
                Some(json!({ "reason": "test" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let today = chrono::Utc::now().date_naive();
    std::fs::write(
        app.policies().join("nda").join("2099-new.md"),
        format!("+++\nversion = \"2099-new\"\ntitle = \"New rules\"\neffective = \"{today}\"\nreacknowledge = true\n+++\n\nNew rules.\n"),
    )
    .unwrap();
    for _ in 0..2 {
        // A second reload asks again; the outbox keeps one mail per person and version.
        let (s, v) = app.api(Method::POST, "/policies/reload", None).await;
        assert_eq!(s, 200, "{v}");
    }
    let mails = wait_until_mails(&smtp, "Please acknowledge the NDA, version 2099-new", 12).await;
    let nda = mails
        .iter()
        .find(|m| m.contains("version 2099-new"))
        .unwrap();
    assert!(nda.contains("https://staffgate.example.com/nda"), "{nda}");

    // Everyone vanishes from the directory: the guard holds the plan and tells the admins.
    for n in &names {
        ldap.delete(&format!("uid={n},ou=people,{SUFFIX}"));
    }
    let (s, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verdict"]["verdict"], "hold", "{v}");
    let plan = v["plan_id"].as_i64().unwrap();
    let mails = wait_until_mails(&smtp, "staffgate held a directory sync plan", 1).await;
    let alert = mails
        .iter()
        .find(|m| m.contains("held a directory sync plan"))
        .unwrap();
    assert!(alert.contains("To: admins@example.com"), "{alert}");
    assert!(alert.contains(&format!("--confirm {plan}")), "{alert}");
    assert!(!alert.contains(slapd::SYNC_PW), "{alert}");

    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = smtp.mails();
    assert_eq!(subjects(&mails, "Complete your first login"), 12);
    assert_eq!(subjects(&mails, "Please acknowledge the NDA"), 12);
    assert_eq!(mails.len(), 25, "nothing else, nothing twice");
    let (_, status) = app.api(Method::GET, "/status", None).await;
    assert_eq!(status["outbox"]["waiting"], 0, "{status}");
    let _: Value = status;
    app.stop().await;
}

/// A daemon mailing receipts to HR through a relay speaking `security`, trusting `ca`.
async fn receipt_through(
    port: u16,
    security: staffgate::config::SmtpSecurity,
    ca: std::path::PathBuf,
) -> TestApp {
    TestApp::spawn_with(Db::Sqlite, move |c| {
        c.mail.host = Some("127.0.0.1".into());
        c.mail.port = Some(port);
        c.mail.security = security;
        c.mail.ca_file = Some(ca);
        c.mail.hr = vec!["hr@example.com".into()];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_is_reached_over_starttls_or_tls_and_verified() {
    use staffgate::config::SmtpSecurity;
    let pki = common::pki::pki(false);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (
        dir.path().join("c.pem"),
        dir.path().join("k.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, &pki.cert_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    for (flag_cert, flag_key, security) in [
        ("--tlscert", "--tlskey", SmtpSecurity::StartTls),
        ("--smtpscert", "--smtpskey", SmtpSecurity::Tls),
    ] {
        let args = vec![
            flag_cert.to_owned(),
            cert.clone(),
            flag_key.to_owned(),
            key.clone(),
        ];
        let smtp = Smtp::start_with(&args).await;
        let app = receipt_through(smtp.port, security, ca.clone()).await;
        app.add_staff("alice", &["support"]).await;
        app.offboard("alice").await;
        let mails = wait_until_mails(&smtp, "Offboarded: alice", 1).await;
        assert!(mails[0].contains("hr@example.com"), "{security:?}");
        app.stop().await;
    }

    // A relay whose certificate the configured CA did not sign: nothing is sent, and the
    // status says why.
    let smtp = Smtp::start_with(&["--tlscert".into(), cert, "--tlskey".into(), key]).await;
    let other = dir.path().join("other-ca.pem");
    std::fs::write(&other, common::pki::pki(false).ca_pem).unwrap();
    let app = receipt_through(smtp.port, SmtpSecurity::StartTls, other).await;
    app.add_staff("bob", &["support"]).await;
    app.offboard("bob").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let (_, s) = app.api(Method::GET, "/status", None).await;
        if s["outbox"]["last_error"].is_string() {
            break s;
        }
        assert!(Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["outbox"]["waiting"], 1, "{status}");
    assert!(smtp.mails().is_empty());
    println!("untrusted relay: {}", status["outbox"]["last_error"]);
    app.stop().await;
}
