//! Sign-in for API clients: the client starts and holds a handle, the person signs in at the
//! provider in a browser of their own, the callback shows a code and gives that browser no
//! session, and only handle and code together get the session, once; five wrong codes end it.

use super::*;
use common::oidc::sign_in_from;

/// The client starts; `account` signs in; answers the handle and the code the page showed.
async fn started_and_signed_in(app: &TestApp, account: &str, name: &str) -> (String, String) {
    idp()
        .account(
            account,
            json!({ "preferred_username": name, "groups": ["support"] }),
        )
        .await;
    let (s, started) = post(&app.http, app, "/oidc/idp/start", json!({})).await;
    assert_eq!(s, 200, "{started}");
    let handle = started["handle"].as_str().unwrap().to_owned();
    assert!(handle.starts_with("sgh_"), "{started}");
    let url = started["authorization_url"].as_str().unwrap();
    assert!(url.starts_with(&idp().issuer), "{url}");
    let person = browser();
    let (s, page) = sign_in_from(&person, url, account).await;
    assert_eq!(s, 200, "{page}");
    let code = page
        .split("id=\"pickup-code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("no code on the page: {page}"))
        .to_owned();
    assert_eq!(code.len(), 9, "ABCD-EFGH: {page}");
    // The browser the person used got no session: it is not the one signing in.
    let me = person
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    (handle, code)
}

#[tokio::test]
async fn an_api_client_gets_the_session_for_its_handle_and_the_code_the_browser_showed() {
    let app = app_with("sg-api-signin", true).await;
    let (handle, code) = started_and_signed_in(&app, "acct-ivan", "ivan").await;

    // The code without the handle (a phisher who started nothing), or the handle with a
    // wrong code, gets nothing.
    let (s, v) = post(
        &app.http,
        &app,
        "/oidc/idp/session",
        json!({ "handle": "sgh_0000", "code": code }),
    )
    .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (400, &json!("oidc_pickup_invalid"))
    );
    let (s, _) = post(
        &app.http,
        &app,
        "/oidc/idp/session",
        json!({ "handle": handle, "code": "AAAA-AAAA" }),
    )
    .await;
    assert_eq!(s, 400);

    // Handle and code, typed the way a person types: the session, once.
    let typed = code.to_lowercase().replace('-', " ");
    let (s, opened) = post(
        &app.http,
        &app,
        "/oidc/idp/session",
        json!({ "handle": handle, "code": typed }),
    )
    .await;
    assert_eq!(s, 200, "{opened}");
    assert_eq!(opened["staff"], "ivan");
    let session = opened["session"].as_str().unwrap();
    let (s, me) = app.api_as(session, Method::GET, "/me", None).await;
    assert_eq!((s, &me["staff"]["username"]), (200, &json!("ivan")));
    let (s, _) = post(
        &app.http,
        &app,
        "/oidc/idp/session",
        json!({ "handle": handle, "code": code }),
    )
    .await;
    assert_eq!(s, 400, "a pickup is taken once");
    // Another source's path with this handle finds nothing either.
    let (s, v) = post(
        &app.http,
        &app,
        "/oidc/other/session",
        json!({ "handle": handle, "code": code }),
    )
    .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (404, &json!("oidc_source_not_found"))
    );
    app.stop().await;
}

#[tokio::test]
async fn five_wrong_codes_end_the_waiting_session() {
    let app = app_with("sg-api-signin-guess", true).await;
    let (handle, code) = started_and_signed_in(&app, "acct-gosha", "gosha").await;
    for guess in [
        "AAAA-AAAA",
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "EEEE-EEEE",
    ] {
        let (s, _) = post(
            &app.http,
            &app,
            "/oidc/idp/session",
            json!({ "handle": handle, "code": guess }),
        )
        .await;
        assert_eq!(s, 400);
    }
    let (s, _) = post(
        &app.http,
        &app,
        "/oidc/idp/session",
        json!({ "handle": handle, "code": code }),
    )
    .await;
    assert_eq!(s, 400, "the right code after five wrong ones is too late");
    let failed = events(&app, "signin.failed").await;
    assert_eq!(failed.len(), 5, "{failed:?}");
    app.stop().await;
}
