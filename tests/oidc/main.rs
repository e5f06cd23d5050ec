//! Sign-in with a real OpenID Connect provider (npm `oidc-provider`): the code flow with
//! PKCE, state, nonce and RFC 9207's `iss`, a just-in-time joiner through the directory
//! path, a username another source holds refused, replayed and foreign state refused, and
//! the provider's back-channel logout ending the session and its brokered tokens at once;
//! hostile logout tokens refused.

mod api_signin;
mod bad_input;
mod browser;
#[path = "../common/mod.rs"]
mod common;
mod factor;
mod leavers;
mod logout;
mod replicas;

use std::time::{Duration, Instant};

use common::oidc::{browser, desk, idp, sign_in, token_from_session};
use common::process::free_port;
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const SECRET: &str = "oidc-client-secret-never-logged";

/// A daemon with the `idp` source, listening where the provider's client expects it.
async fn app_with(client: &str, provision: bool) -> TestApp {
    app_on(Db::Sqlite, client, provision, |_| {}).await
}

async fn app_on(
    db: Db,
    client: &str,
    provision: bool,
    tweak: impl FnOnce(&mut staffgate::config::Config) + Send + 'static,
) -> TestApp {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let toml = format!(
        "[idp]\nissuer = \"{}\"\nclient_id = \"{client}\"\nclient_secret = \"{SECRET}\"\n\
         display_name = \"Test IdP\"\nprovision = {provision}\n[idp.tags]\ndepartment = \"department\"\n",
        idp().issuer
    );
    let sources = staffgate::config::oidc::parse_sources(&toml::from_str(&toml).unwrap()).unwrap();
    idp().client(client, SECRET, &base, "idp").await;
    TestApp::spawn_with(db, move |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.mail.public_url = base;
        c.signin.plain_http = true;
        c.oidc = sources;
        tweak(c);
    })
    .await
}

async fn staff(app: &TestApp, name: &str) -> (u16, Value) {
    app.api(Method::GET, &format!("/staff/{name}"), None).await
}

/// A JSON POST to `/api/v1<path>` with `b` (its cookies): status and body.
async fn post(b: &reqwest::Client, app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let r = b
        .post(format!("{}/api/v1{path}", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn events(app: &TestApp, event: &str) -> Vec<Value> {
    let (_, v) = app.api(Method::GET, "/audit?limit=1000", None).await;
    v.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

async fn a_code_flow_sign_in_makes_a_pending_joiner_and_a_logout_from_the_provider_ends_it(db: Db) {
    // One client and account per backend: both run at once against one provider.
    let client = format!("sg-flow-{db:?}");
    let account = format!("acct-olga-{db:?}");
    let app = app_on(db, &client, true, |_| {}).await;
    idp()
        .account(
            &account,
            json!({ "preferred_username": "olga", "email": "olga@example.com", "name": "Olga",
                    "groups": ["support"], "department": "care" }),
        )
        .await;
    let login = browser();
    let page = login
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/oidc/idp/start") && page.contains("Test IdP"),
        "{page}"
    );

    let (status, body) = sign_in(&login, &app.base, "idp", &account).await;
    assert_eq!(
        status,
        200,
        "{body} {:?}",
        events(&app, "signin.failed").await
    );
    let (s, olga) = staff(&app, "olga").await;
    assert_eq!(s, 200, "{olga}");
    assert_eq!(
        olga["status"], "pending",
        "a first sign-in is a joiner: {olga}"
    );
    assert_eq!(olga["groups"], json!(["support"]));
    let me = login
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the session works");

    // Through first login (requirements are off here), a token from this very session.
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;
    let token = token_from_session(&app, &login, "olga").await;
    assert_eq!(app.call(Method::GET, "desk", "x", &token).await.0, 200);

    // The provider ends the session: staffgate's session and its token end with it.
    let sent_at = Instant::now();
    assert_eq!(idp().logout(&client, &account).await, 1);
    let took = sent_at.elapsed();
    let (status, code) = app.call(Method::GET, "desk", "x", &token).await;
    println!("provider back-channel logout -> brokered token refused: {took:?}");
    assert_eq!((status, code.as_deref()), (401, Some("token_revoked")));
    assert!(took < Duration::from_secs(2), "{took:?}");
    let me = login
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401, "the session ended");
    let out = events(&app, "signout.provider").await;
    assert_eq!(out.len(), 1, "{out:?}");
    let details: Value = serde_json::from_str(out[0]["details"].as_str().unwrap()).unwrap();
    assert_eq!(details["tokens_revoked"], 1, "{out:?}");

    // The client secret is nowhere in the audit log.
    let (_, audit) = app.api(Method::GET, "/audit?limit=1000", None).await;
    assert!(!audit.to_string().contains(SECRET));
    app.stop().await;
}

#[tokio::test]
async fn a_username_another_source_holds_is_refused_and_nothing_is_created() {
    let app = app_with("sg-taken", true).await;
    app.add_staff("mallory", &["admins"]).await;
    idp()
        .account(
            "acct-impostor",
            json!({ "preferred_username": "mallory", "email": "mallory@example.com" }),
        )
        .await;
    let b = browser();
    let (status, body) = sign_in(&b, &app.base, "idp", "acct-impostor").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("belongs to another person"), "{body}");
    let (_, m) = staff(&app, "mallory").await;
    assert_eq!(
        m["groups"],
        json!(["admins"]),
        "the hand-made person is untouched: {m}"
    );
    let refused = events(&app, "signin.failed").await;
    assert!(
        refused
            .iter()
            .any(|e| e["details"].as_str().unwrap_or("").contains("mallory")),
        "{refused:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_callback_without_its_browser_or_with_a_used_state_or_another_issuer_is_refused() {
    let app = app_with("sg-state", true).await;
    idp()
        .account("acct-sam", json!({ "preferred_username": "sam" }))
        .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // No state at all, and a state nobody started.
    for q in ["code=x", "code=x&state=forged"] {
        let url = format!("{}/oidc/idp/callback?{q}", app.base);
        assert_eq!(status_of(&plain, url).await, 400, "{q}");
    }
    // A real state, brought back by another browser (login CSRF).
    let start = plain
        .get(format!("{}/oidc/idp/start", app.base))
        .send()
        .await
        .unwrap();
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let state = url_param(&location, "state");
    let url = format!("{}/oidc/idp/callback?code=x&state={state}", app.base);
    assert_eq!(status_of(&plain, url).await, 400);
    // The right browser, but the answer claims another issuer (mix-up).
    let b2 = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = b2
        .get(format!("{}/oidc/idp/start", app.base))
        .send()
        .await
        .unwrap();
    let state = url_param(start.headers()["location"].to_str().unwrap(), "state");
    let r = b2
        .get(format!(
            "{}/oidc/idp/callback?code=x&state={state}&iss=https%3A%2F%2Fevil.example",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("could not be completed safely")
    );
    // The same state again: taken once only.
    let url = format!("{}/oidc/idp/callback?code=x&state={state}", app.base);
    assert_eq!(status_of(&b2, url).await, 400);
    let (s, _) = staff(&app, "sam").await;
    assert_eq!(s, 404, "nothing was created");
    app.stop().await;
}

#[tokio::test]
async fn forged_id_tokens_are_refused_and_nothing_is_created() {
    let app = app_with("sg-forged", true).await;
    idp()
        .account("acct-fay", json!({ "preferred_username": "fay" }))
        .await;
    for mode in ["none", "hs256", "rogue", "expired", "nonce"] {
        idp().tamper("sg-forged", Some(mode)).await;
        let (status, body) = sign_in(&browser(), &app.base, "idp", "acct-fay").await;
        idp().tamper("sg-forged", None).await;
        assert_eq!(status, 401, "{mode}: {body}");
        assert!(
            body.contains("could not be completed safely"),
            "{mode}: {body}"
        );
        assert_eq!(staff(&app, "fay").await.0, 404, "{mode}: nothing created");
    }
    let refused = events(&app, "signin.failed").await;
    assert_eq!(refused.len(), 5, "{refused:?}");
    let (status, body) = sign_in(&browser(), &app.base, "idp", "acct-fay").await;
    assert_eq!(status, 200, "the real token still works: {body}");
    app.stop().await;
}

/// The value of `attr="…"` after `marker` in `html`.
/// Polls until `check` holds, for at most `secs` seconds; how long it took.
async fn within<F, Fut>(secs: u64, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !check().await {
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.elapsed()
}

#[tokio::test]
async fn a_refresh_moves_a_person_whose_groups_changed_and_ends_one_the_provider_lost() {
    let app = app_on(Db::Sqlite, "sg-refresh", true, |c| {
        c.oidc[0].refresh_interval = Duration::from_secs(1);
    })
    .await;
    idp()
        .account(
            "acct-rita",
            json!({ "preferred_username": "rita", "groups": ["support"] }),
        )
        .await;
    let b = browser();
    let (status, body) = sign_in(&b, &app.base, "idp", "acct-rita").await;
    assert_eq!(status, 200, "{body}");
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;
    let token = token_from_session(&app, &b, "rita").await;
    assert_eq!(app.call(Method::GET, "desk", "x", &token).await.0, 200);

    // The provider moves her out of support: the next refresh revokes what policy no longer
    // permits; she stays signed in.
    idp()
        .account(
            "acct-rita",
            json!({ "preferred_username": "rita", "groups": ["sales"] }),
        )
        .await;
    let took = within(10, "the moved person's token refused", || async {
        app.call(Method::GET, "desk", "x", &token).await.0 != 200
    })
    .await;
    println!("group removed at the provider -> token refused at the next refresh: {took:?}");
    let (_, rita) = staff(&app, "rita").await;
    assert_eq!(rita["groups"], json!(["sales"]), "{rita}");
    let me = |b: reqwest::Client, url: String| async move {
        b.get(url).send().await.unwrap().status().as_u16()
    };
    let me_url = format!("{}/api/v1/me", app.base);
    assert_eq!(me(b.clone(), me_url.clone()).await, 200, "still signed in");

    // The provider no longer knows her: the next refresh ends the session.
    idp().account("acct-rita", Value::Null).await;
    within(
        10,
        "the session of an account the provider lost ended",
        || {
            let (b, url) = (b.clone(), me_url.clone());
            async move { me(b, url).await == 401 }
        },
    )
    .await;
    let ended = events(&app, "signout.provider").await;
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert!(
        ended[0]["details"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{ended:?}"
    );
    // The source in the status and the metrics.
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    let p = &status["identity_providers"][0];
    assert_eq!(p["source"], "idp", "{status}");
    assert!(p["refreshed"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(p["ended_at_refresh"], 1, "{status}");
    assert!(p["key_set_secs_ago"].is_u64(), "{status}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("staffgate_oidc_sessions_ended_at_refresh{source=\"idp\"} 1"),
        "{metrics}"
    );
    app.stop().await;
}

/// The status of one GET with `client` (its cookies, its redirect policy).
async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn sign_ins_waiting_at_the_provider_are_bounded() {
    let app = app_on(Db::Sqlite, "sg-bound", true, |c| {
        c.signin.oidc_pending_limit = 3
    })
    .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = format!("{}/oidc/idp/start", app.base);
    for _ in 0..3 {
        assert_eq!(status_of(&plain, start.clone()).await, 303);
    }
    // Anyone may start a sign-in: the rows that makes stop at the limit.
    assert_eq!(status_of(&plain, start.clone()).await, 429);
    assert_eq!(
        status_of(&plain, format!("{}/oidc/nope/start", app.base)).await,
        404
    );
    app.stop().await;
}

fn url_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

both_backends!(a_code_flow_sign_in_makes_a_pending_joiner_and_a_logout_from_the_provider_ends_it);
