//! The code flow in a real headless Chromium (the WebDriver harness): "Sign in with Test IdP"
//! on /login, the provider's own login form, back to staffgate with the provider's MFA
//! accepted (no TOTP enrolment), the NDA, "my access", a token used through the broker; then
//! the provider's back-channel logout ends the page session and the token together.

use super::*;
use common::chromium::{Shots, at, browser as chromium, el, text_of};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_signs_in_with_the_provider_in_a_real_browser() {
    let client = "sg-chromium";
    let app = app_on(Db::Sqlite, client, true, |c| {
        c.compliance.require_totp = true;
        c.compliance.require_nda = true;
        c.oidc[0].accept_idp_mfa = vec!["mfa".into()];
    })
    .await;
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;
    idp()
        .account(
            "acct-lena",
            json!({ "preferred_username": "lena", "name": "Lena", "groups": ["support"],
                    "amr": ["pwd", "mfa"] }),
        )
        .await;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-oidc");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut shots = Shots { dir, n: 0 };
    let profile = tempfile::tempdir().unwrap();
    let (_driver, c) = chromium(profile.path()).await;

    c.goto(&format!("{}/login", app.base)).await.unwrap();
    shots.take(&c, "sign-in").await;
    el(&c, Locator::Id("sso-idp")).await.click().await.unwrap();
    // The provider's own login page.
    el(&c, Locator::Css("input[name=login]"))
        .await
        .send_keys("acct-lena")
        .await
        .unwrap();
    el(&c, Locator::Css("input[name=password]"))
        .await
        .send_keys("any")
        .await
        .unwrap();
    shots.take(&c, "provider-login").await;
    el(&c, Locator::Css("button[type=submit]"))
        .await
        .click()
        .await
        .unwrap();

    // Her provider says she passed MFA: first login goes straight to the NDA.
    at(&c, "/nda").await;
    shots.take(&c, "nda").await;
    el(&c, Locator::Id("accept")).await.click().await.unwrap();
    at(&c, "/me").await;
    assert!(text_of(&c, "#channels").await.contains("desk"));
    el(&c, Locator::Id("issue")).await.click().await.unwrap();
    let token = el(&c, Locator::Id("new-token"))
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    shots.take(&c, "token-issued").await;
    assert_eq!(app.call(Method::GET, "desk", "x", &token).await.0, 200);
    assert_eq!(
        up.requests().last().unwrap().header("authorization"),
        Some("Bearer real-secret")
    );

    // The provider logs her out: the page session and the token end together.
    assert_eq!(idp().logout(client, "acct-lena").await, 1);
    let (status, code) = app.call(Method::GET, "desk", "x", &token).await;
    assert_eq!((status, code.as_deref()), (401, Some("token_revoked")));
    c.goto(&format!("{}/me", app.base)).await.unwrap();
    at(&c, "/login").await;
    shots.take(&c, "after-provider-logout").await;
    c.close().await.unwrap();
    app.stop().await;
}
