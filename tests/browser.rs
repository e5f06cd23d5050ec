//! End to end in a real headless Chromium, driven over WebDriver: an employee's first login
//! against the test slapd (sign in, TOTP enrolment from the page's key, recovery codes, the
//! NDA in Russian), a token from "my access" used through the broker, then offboarding kills
//! both the page session and the token. Screenshots of every page go to the test's output
//! directory (`target/tmp/browser-first-login/`).

mod common;

use std::time::{Duration, Instant};

use common::chromium::{Shots, at, browser, el, now, text_of};
use common::slapd::{self, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp};
use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_goes_through_first_login_in_a_real_browser() {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "alice-pw"));
    ldap.add(&slapd::group_ldif("support", &["alice"]));
    let sources = ldap.sources("mode = \"persist\"\n");
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.ldap = sources;
        c.compliance.require_totp = true;
        c.compliance.require_nda = true;
        c.signin.plain_http = true;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read", "POST /messages send"] }),
        "real-channel-secret",
    )
    .await;

    let shots_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-first-login");
    let _ = std::fs::remove_dir_all(&shots_dir);
    std::fs::create_dir_all(&shots_dir).unwrap();
    let mut shots = Shots {
        dir: shots_dir.clone(),
        n: 0,
    };
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = browser(profile.path()).await;

    // Sign in with the directory password.
    c.goto(&format!("{}/login", app.base)).await.unwrap();
    shots.take(&c, "sign-in").await;
    el(&c, Locator::Id("username"))
        .await
        .send_keys("alice")
        .await
        .unwrap();
    el(&c, Locator::Id("password"))
        .await
        .send_keys("alice-pw")
        .await
        .unwrap();
    el(&c, Locator::Id("sign-in")).await.click().await.unwrap();

    // First login starts with TOTP enrolment; the "phone" reads the key off the page.
    at(&c, "/enrol").await;
    shots.take(&c, "enrol").await;
    let key = text_of(&c, "#totp-key").await.replace(' ', "");
    let seed = totp_rs::Secret::try_from_base32(&key)
        .unwrap()
        .as_ref()
        .to_vec();
    let code = staffgate::signin::totp::code_at(&seed, now()).unwrap();
    el(&c, Locator::Id("code"))
        .await
        .send_keys(&code)
        .await
        .unwrap();
    el(&c, Locator::Id("confirm")).await.click().await.unwrap();
    el(&c, Locator::Id("recovery-codes")).await;
    shots.take(&c, "recovery-codes").await;
    let codes = c
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    let first_code = codes[0].text().await.unwrap();
    // The page came by a redirect: switching language shows the same codes, in Russian.
    at(&c, "/recovery-codes").await;
    c.goto(&format!("{}/recovery-codes?lang=ru", app.base))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "h1").await, "Ваши коды восстановления");
    assert!(text_of(&c, "#recovery-codes").await.contains(&first_code));
    shots.take(&c, "recovery-codes-ru").await;
    c.goto(&format!("{}/recovery-codes?lang=en", app.base))
        .await
        .unwrap();
    // The download is the same codes as a text file.
    let href = el(&c, Locator::Id("download"))
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(href, "/recovery-codes/download");
    el(&c, Locator::Id("continue")).await.click().await.unwrap();
    // Kept: the codes are gone from the browser.
    at(&c, "/nda").await;
    c.goto(&format!("{}/recovery-codes", app.base))
        .await
        .unwrap();
    assert!(
        !c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/recovery-codes")
    );

    // The NDA, read in Russian.
    c.goto(&format!("{}/nda", app.base)).await.unwrap();
    at(&c, "/nda").await;
    c.goto(&format!("{}/nda?lang=ru", app.base)).await.unwrap();
    shots.take(&c, "nda-ru").await;
    assert_eq!(text_of(&c, "h1").await, "Соглашение о конфиденциальности");
    assert!(
        text_of(&c, "#nda-text")
            .await
            .contains("Данные клиентов остаются здесь")
    );
    el(&c, Locator::Id("accept")).await.click().await.unwrap();

    // My access, still in Russian (remembered), then in English.
    at(&c, "/me").await;
    assert_eq!(text_of(&c, "h1").await, "Мой доступ");
    shots.take(&c, "my-access-ru").await;
    c.goto(&format!("{}/me?lang=en", app.base)).await.unwrap();
    assert!(text_of(&c, "#channels").await.contains("support-desk"));
    el(&c, Locator::Id("ttl"))
        .await
        .select_by_value("15m")
        .await
        .unwrap();
    el(&c, Locator::Id("issue")).await.click().await.unwrap();
    shots.take(&c, "token-issued").await;
    let token = c
        .find(Locator::Id("new-token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("sgt_"), "{token}");
    // The snippet names this daemon's broker and the channel, with the token in place.
    let curl = text_of(&c, "#snippet-curl").await;
    assert!(
        curl.contains(&format!("{}/broker/support-desk/", app.base)) && curl.contains(&token),
        "{curl}"
    );
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &token)
            .await
            .0,
        200
    );
    // The issue form redirected here; a refresh shows the page again and issues nothing.
    assert!(c.current_url().await.unwrap().path().ends_with("/me"));
    c.refresh().await.unwrap();
    assert!(
        c.find(Locator::Id("new-token")).await.is_err(),
        "the token is shown once"
    );
    // New recovery codes for a fresh code: the old ones stop working.
    let fresh = staffgate::signin::totp::code_at(&seed, now() + 30).unwrap();
    el(&c, Locator::Id("renew-code"))
        .await
        .send_keys(&fresh)
        .await
        .unwrap();
    el(&c, Locator::Css("#renew-codes button"))
        .await
        .click()
        .await
        .unwrap();
    at(&c, "/recovery-codes").await;
    let renewed = text_of(&c, "#recovery-codes").await;
    assert!(!renewed.contains(&first_code), "{renewed}");
    el(&c, Locator::Id("continue")).await.click().await.unwrap();
    at(&c, "/me").await;
    let rows = c
        .find_all(Locator::Css("#tokens tr[id^='token-']"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "a refresh did not issue a second token");
    let seen = upstream.requests();
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some("Bearer real-channel-secret")
    );
    c.goto(&format!("{}/me", app.base)).await.unwrap();
    assert!(text_of(&c, "#tokens").await.contains("support-desk"));
    shots.take(&c, "my-access").await;

    // HR offboards her: the page session and the token die together.
    app.offboard("alice").await;
    c.goto(&format!("{}/me", app.base)).await.unwrap();
    at(&c, "/login").await; // the page session ended
    shots.take(&c, "after-offboarding").await;
    let (status, code) = app
        .call(Method::GET, "support-desk", "messages", &token)
        .await;
    assert_eq!((status, code.as_deref()), (401, Some("staff_not_active")));
    // Her right password no longer opens a session.
    el(&c, Locator::Id("username"))
        .await
        .send_keys("alice")
        .await
        .unwrap();
    el(&c, Locator::Id("password"))
        .await
        .send_keys("alice-pw")
        .await
        .unwrap();
    el(&c, Locator::Id("sign-in")).await.click().await.unwrap();
    assert!(
        text_of(&c, ".msg.error")
            .await
            .contains("Your access has ended")
    );
    shots.take(&c, "offboarded-sign-in").await;

    c.close().await.unwrap();
    let taken = std::fs::read_dir(&shots_dir).unwrap().count();
    assert_eq!(taken, 10, "a screenshot of every page");
    println!("screenshots in {}", shots_dir.display());
    app.stop().await;
}
