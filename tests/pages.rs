//! The employee pages' defences, over plain HTTP: forged or missing CSRF tokens, oversized
//! forms, a language from the browser, and the security headers.

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, Slapd};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

async fn setup() -> (TestApp, Slapd, String) {
    let ldap = Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "alice-pw"));
    ldap.add(&slapd::group_ldif("support", &["alice"]));
    let sources = ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\n");
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.ldap = sources;
        c.signin.plain_http = true;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/alice", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.api(
        Method::POST,
        "/staff/alice/activate",
        Some(json!({ "reason": "test" })),
    )
    .await;
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "s",
    )
    .await;
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": "alice", "password": "alice-pw" }))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    let session = v["session"].as_str().unwrap().to_owned();
    (app, ldap, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_missing_csrf_tokens_change_nothing() {
    let (app, _ldap, session) = setup().await;
    let cookie = format!("staffgate_session={session}");
    // A cross-site form post: the session cookie rides along, the CSRF token cannot.
    let resp = app
        .http
        .post(format!("{}/me/issue", app.base))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", "forged"),
            ("channel", "support-desk"),
            ("ttl", "1h"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("This form expired"));
    let (_, mine) = app.api_as(&session, Method::GET, "/me/tokens", None).await;
    assert_eq!(mine.as_array().unwrap().len(), 0, "no token was issued");

    let resp = app
        .http
        .post(format!("{}/me/end-all", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();
    assert!(
        resp.url().path().ends_with("/me"),
        "a forged sign-out does nothing"
    );
    assert_eq!(
        app.api_as(&session, Method::GET, "/me", None).await.0,
        200,
        "the session lives"
    );

    // The sign-in form without its double-submit cookie.
    let resp = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[
            ("csrf", "x"),
            ("username", "alice"),
            ("password", "alice-pw"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(
        resp.headers()
            .get("set-cookie")
            .is_some_and(|c| !c.to_str().unwrap().contains("staffgate_session=sgs_"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_forms_are_refused_and_pages_carry_their_headers() {
    let (app, _ldap, _) = setup().await;
    let big = "a".repeat(40_000);
    let resp = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[("csrf", "x"), ("username", big.as_str()), ("password", "p")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);

    let resp = app
        .http
        .get(format!("{}/login", app.base))
        .header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers().clone();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    let cookie = h["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<h1>Вход</h1>"),
        "the browser's language is Russian"
    );
    assert!(
        !body.contains("<script"),
        "the pages work without JavaScript"
    );
    // Without a session every page leads to sign-in.
    let resp = app
        .http
        .get(format!("{}/me", app.base))
        .send()
        .await
        .unwrap();
    assert!(resp.url().path().ends_with("/login"));
    app.stop().await;
}

/// The page's CSRF token, read off `/me`.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let page = app
        .http
        .get(format!("{}/me", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_token_is_shown_once_after_a_redirect_and_only_to_its_session() {
    let (app, _ldap, session) = setup().await;
    let cookie = format!("staffgate_session={session}");
    let csrf = csrf_of(&app, &cookie).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .post(format!("{}/me/issue", app.base))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("channel", "support-desk"),
            ("ttl", "1h"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "POST, then redirect");
    assert_eq!(resp.headers()["location"], "/me");
    let flash = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        flash.contains("HttpOnly") && flash.contains("SameSite=Strict"),
        "{flash}"
    );
    assert!(!flash.contains("sgt_"), "the token travels sealed: {flash}");
    let flash = flash.split(';').next().unwrap().to_owned();

    let page = |cookies: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(format!("{}/me", app.base))
                .header("cookie", cookies)
                .send()
                .await
                .unwrap();
            let cleared = r
                .headers()
                .get_all("set-cookie")
                .iter()
                .any(|v| v.to_str().unwrap().starts_with("sg_issued=;"));
            (r.text().await.unwrap(), cleared)
        }
    };
    let (shown, cleared) = page(format!("{cookie}; {flash}")).await;
    assert!(
        shown.contains("id=\"new-token\""),
        "shown after the redirect"
    );
    assert!(cleared, "and cleared by that answer");
    // Another session of the same person, presenting the stolen flash: nothing.
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": "alice", "password": "alice-pw" }))
        .send()
        .await
        .unwrap();
    let other: serde_json::Value = resp.json().await.unwrap();
    let other = format!("staffgate_session={}", other["session"].as_str().unwrap());
    let (shown, _) = page(format!("{other}; {flash}")).await;
    assert!(
        !shown.contains("id=\"new-token\""),
        "bound to the session that issued it"
    );
    let (_, mine) = app.api_as(&session, Method::GET, "/me/tokens", None).await;
    assert_eq!(
        mine.as_array().unwrap().len(),
        1,
        "one token, however often the page is read"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_gets_a_page_for_a_missing_address_and_an_api_client_json() {
    let (app, _ldap, session) = setup().await;
    let get = |path: &str, accept: &str| {
        app.http
            .get(format!("{}{path}", app.base))
            .header("accept", accept)
            .header("accept-language", "ru-RU,ru;q=0.9")
            .send()
    };
    let r = get("/no-such-page", "text/html,application/xhtml+xml")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("Страница не найдена"), "{html}");
    for (path, accept) in [
        ("/no-such-page", "application/json"),
        ("/api/v1/no-such", "text/html"),
        ("/scim/v2/x/y/z/w", "text/html"),
    ] {
        let r = get(path, accept).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{path}: {v}");
    }
    // The TOTP set-up offers the otpauth:// link beside the QR code.
    let enrol = app
        .http
        .get(format!("{}/enrol", app.base))
        .header("cookie", format!("staffgate_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        enrol.contains("id=\"otpauth\" href=\"otpauth://totp/"),
        "{enrol}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_ends_one_other_session_of_their_own_and_no_one_elses() {
    let (app, ldap, session) = setup().await;
    ldap.add(&slapd::person_ldif("bob", "bob-pw"));
    let (s, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(s, 200, "{v}");
    let login = |user: &'static str, pw: &'static str| {
        let app = &app;
        async move {
            let v: serde_json::Value = app
                .http
                .post(format!("{}/api/v1/login", app.base))
                .header(
                    "user-agent",
                    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                )
                .json(&json!({ "username": user, "password": pw }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["session"].as_str().unwrap().to_owned()
        }
    };
    let laptop = login("alice", "alice-pw").await;
    let bobs = login("bob", "bob-pw").await;
    let (_, mine) = app.api_as(&laptop, Method::GET, "/me/sessions", None).await;
    let laptop_id = mine["current"].as_i64().unwrap();
    let (_, theirs) = app.api_as(&bobs, Method::GET, "/me/sessions", None).await;
    let bob_id = theirs["current"].as_i64().unwrap();

    let cookie = format!("staffgate_session={session}");
    let page = app
        .http
        .get(format!("{}/me", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Firefox · Linux"),
        "a readable device: {page}"
    );
    let csrf = csrf_of(&app, &cookie).await;
    let end = |id: i64| {
        let (app, cookie, csrf) = (&app, cookie.clone(), csrf.clone());
        async move {
            app.http
                .post(format!("{}/me/sessions/end", app.base))
                .header("cookie", cookie)
                .form(&[("csrf", csrf), ("id", id.to_string())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Someone else's session id, sent from alice's page: nothing happens to it.
    assert_eq!(end(bob_id).await, 200);
    assert_eq!(app.api_as(&bobs, Method::GET, "/me", None).await.0, 200);
    // Her laptop's session ends; the session she acts from lives.
    assert_eq!(end(laptop_id).await, 200);
    assert_eq!(app.api_as(&laptop, Method::GET, "/me", None).await.0, 401);
    assert_eq!(app.api_as(&session, Method::GET, "/me", None).await.0, 200);
    let (_, audit) = app.api(Method::GET, "/audit", None).await;
    let signouts: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "signout")
        .collect();
    assert_eq!(signouts.len(), 1, "{audit}");
    assert!(
        signouts[0]["details"]
            .as_str()
            .unwrap()
            .contains(&format!("\"session_id\":{laptop_id}"))
    );
    app.stop().await;
}
