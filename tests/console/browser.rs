//! The console in a real headless Chromium over WebDriver, on two daemons sharing one
//! PostgreSQL: HR signs in with password and TOTP, finds a person, offboards them with a
//! reason, and the receipt page shows both replicas confirmed; the person's token is then
//! refused by the other replica. An admin tours every console page in English at desktop
//! width and at 400 px, and one in Russian, each checked with axe-core for serious or
//! critical accessibility violations. Screenshots go to `target/tmp/console/`.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::json;

use super::world;
use crate::common::chromium::{Shots, at, browser, el, now, text_of};
use crate::common::first_login::{acknowledge, enrol, login};
use crate::common::replica_pair::second;
use crate::common::{Db, TestApp};

const AXE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/peers/axe/node_modules/axe-core/axe.min.js"
);

/// Enrols TOTP and acknowledges the NDA over the API; returns the seed for the "phone".
async fn prepared(app: &TestApp, user: &str) -> Vec<u8> {
    let session = login(app, user, &format!("{user}-pw")).await;
    let (seed, _) = enrol(app, &session).await;
    acknowledge(app, &session, "en").await;
    seed
}

/// Signs in on `/login` with the password, then the TOTP code, as a person would.
async fn sign_in(c: &Client, app: &TestApp, user: &str, seed: &[u8]) {
    c.goto(&format!("{}/login", app.base)).await.unwrap();
    el(c, Locator::Id("username"))
        .await
        .send_keys(user)
        .await
        .unwrap();
    el(c, Locator::Id("password"))
        .await
        .send_keys(&format!("{user}-pw"))
        .await
        .unwrap();
    el(c, Locator::Id("sign-in")).await.click().await.unwrap();
    at(c, "/totp").await;
    // Enrolment used this step's code (a second use is a replay); the next step's code is
    // within the allowed clock skew.
    let code = staffgate::signin::totp::code_at(seed, now() + 30).unwrap();
    el(c, Locator::Id("code"))
        .await
        .send_keys(&code)
        .await
        .unwrap();
    el(c, Locator::Id("verify")).await.click().await.unwrap();
    at(c, "/me").await;
}

/// Runs axe-core on the page; fails on any serious or critical violation.
async fn accessible(c: &Client, page: &str) {
    let axe = std::fs::read_to_string(AXE)
        .expect("axe-core is installed (scripts/test.sh runs npm ci in tests/peers/axe)");
    c.execute(&axe, vec![]).await.unwrap();
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    let found: Vec<String> = serde_json::from_value(found).unwrap();
    assert!(found.is_empty(), "{page}: {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_offboards_in_the_browser_and_both_replicas_confirm_on_the_receipt() {
    let w = world(Db::Postgres).await;
    let b = second(&w.app, Db::Postgres, |c| {
        c.signin.plain_http = true;
        c.compliance.require_totp = true;
        c.compliance.require_nda = true;
    })
    .await;
    let alice = login(&w.app, "alice", "alice-pw").await;
    enrol(&w.app, &alice).await;
    acknowledge(&w.app, &alice, "en").await;
    let (s, v) = w
        .app
        .api_as(
            &alice,
            Method::POST,
            "/me/tokens",
            Some(json!({ "channel": "support-desk" })),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    // Replica B learns of the token from the change log.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b
        .call(Method::GET, "support-desk", "messages", &token)
        .await
        .0
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "replica B never accepted the token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let hana = prepared(&w.app, "hana").await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut shots = Shots { dir, n: 0 };
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    sign_in(&c, &w.app, "hana", &hana).await;

    c.goto(&format!("{}/console/people?q=alice", w.app.base))
        .await
        .unwrap();
    el(&c, Locator::Css("#person-alice a"))
        .await
        .click()
        .await
        .unwrap();
    at(&c, "/console/people/alice").await;
    shots.take(&c, "hr-person").await;
    el(&c, Locator::Id("reason"))
        .await
        .send_keys("last working day")
        .await
        .unwrap();
    el(&c, Locator::Css("#offboard button"))
        .await
        .click()
        .await
        .unwrap();
    at(&c, "/offboard").await;
    assert!(text_of(&c, "#will-revoke").await.contains("support-desk"));
    shots.take(&c, "hr-confirm").await;
    el(&c, Locator::Id("confirm-offboard"))
        .await
        .click()
        .await
        .unwrap();
    at(&c, "/receipt").await;
    // The page refreshes itself until every replica confirmed.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let replicas = c
            .find_all(Locator::Css("#replicas tr td.ok"))
            .await
            .unwrap();
        if replicas.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both replicas never confirmed on the receipt"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shots.take(&c, "hr-receipt").await;
    assert_eq!(text_of(&c, "#tokens-revoked").await, "1");
    assert_eq!(
        b.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        401
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_reads_well_in_english_and_russian_on_a_desk_and_a_phone() {
    let w = world(Db::Sqlite).await;
    let adam = prepared(&w.app, "adam").await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-tour");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut shots = Shots { dir, n: 0 };
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;
    sign_in(&c, &w.app, "adam", &adam).await;
    let pages = [
        ("people", "/console/people"),
        ("person", "/console/people/bob"),
        ("confirm", "/console/people/bob/offboard?reason=test"),
        ("offboardings", "/console/offboardings"),
        ("access", "/console/access"),
        ("channels", "/console/channels"),
        ("directory", "/console/directory"),
        ("agreements", "/console/agreements"),
        ("audit", "/console/audit?verify=1"),
        ("status", "/console/status"),
    ];
    for (width, label) in [(1100, "desktop"), (400, "phone")] {
        c.set_window_size(width, 1400).await.unwrap();
        for (name, path) in pages {
            c.goto(&format!("{}{path}", w.app.base)).await.unwrap();
            el(&c, Locator::Css("nav.console")).await;
            shots.take(&c, &format!("{label}-{name}")).await;
            accessible(&c, path).await;
        }
    }
    c.set_window_size(1100, 1400).await.unwrap();
    c.goto(&format!("{}/console/people?lang=ru", w.app.base))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Сотрудники");
    shots.take(&c, "desktop-people-ru").await;
    accessible(&c, "/console/people?lang=ru").await;
    c.close().await.unwrap();
}
