//! A pull source whose provider is hostile or broken: a refused token, an answer that is not
//! a list, a page too large to hold, a redirect, a list that suddenly lacks most people. The
//! provider here is a small HTTP server of the test's own (it plays a broken provider, which
//! no real one does on demand); each case answers a clear error, writes nothing, or holds.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Db, TestApp};

const SECRET: &str = "pull-secret-5d0c3e2a";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Users(usize),
    RefuseToken,
    NotAList,
    Huge,
    Redirect,
}

#[derive(Clone)]
struct Provider {
    mode: Arc<Mutex<Mode>>,
}

async fn token(State(p): State<Provider>, body: String) -> Response {
    assert!(body.contains("grant_type=client_credentials"), "{body}");
    if *p.mode.lock().unwrap() == Mode::RefuseToken {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            axum::Json(json!({ "error": "invalid_client", "error_description": format!("bad secret {SECRET}") })),
        )
            .into_response();
    }
    axum::Json(json!({ "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600 }))
        .into_response()
}

async fn users(
    State(p): State<Provider>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let start: usize = q
        .get("startIndex")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    match *p.mode.lock().unwrap() {
        Mode::Users(n) => {
            // Pages of 7, so the pull pages.
            let page: Vec<Value> = (start..=n.min(start + 6))
                .map(|i| json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                 "id": format!("p{i}"), "userName": format!("person{i}"), "active": true }))
                .collect();
            axum::Json(
                json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                               "totalResults": n, "startIndex": start, "Resources": page }),
            )
            .into_response()
        }
        Mode::NotAList => "<html>maintenance</html>".into_response(),
        Mode::Huge => "x".repeat(33 << 20).into_response(),
        Mode::Redirect => {
            axum::response::Redirect::temporary("http://127.0.0.1:9/steal").into_response()
        }
        Mode::RefuseToken => axum::http::StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn provider(mode: Mode) -> (String, Provider) {
    let p = Provider {
        mode: Arc::new(Mutex::new(mode)),
    };
    let app = Router::new()
        .route("/token", post(token))
        .route("/scim/Users", get(users))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, p)
}

async fn daemon(base: &str) -> TestApp {
    let text = format!(
        "[idp]\nurl = \"{base}/scim\"\ntoken_url = \"{base}/token\"\nclient_id = \"sg\"\n\
         client_secret = \"{SECRET}\"\ninterval = \"1h\"\ngroups = false\n"
    );
    let pulls =
        staffgate::config::scim_pull::parse_sources(&toml::from_str(&text).unwrap()).unwrap();
    TestApp::spawn_with(Db::Sqlite, move |c| c.scim_pull = pulls).await
}

async fn pull(app: &TestApp) -> (u16, Value) {
    loop {
        let (s, v) = app.api(Method::POST, "/sync/idp", None).await;
        if s != 409 {
            return (s, v);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn people(app: &TestApp) -> usize {
    let (_, v) = app.api(Method::GET, "/staff", None).await;
    v.as_array().or(v["staff"].as_array()).map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_provider_gets_a_clear_error_and_changes_nothing() {
    let (base, p) = provider(Mode::Users(20)).await;
    let app = daemon(&base).await;
    let (s, v) = pull(&app).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(people(&app).await, 20, "seven to a page, all read");
    for (mode, words) in [
        (Mode::RefuseToken, "invalid_client"),
        (Mode::NotAList, "not a SCIM list"),
        (Mode::Huge, "larger than"),
        (Mode::Redirect, "HTTP 307"),
    ] {
        *p.mode.lock().unwrap() = mode;
        let (s, v) = pull(&app).await;
        assert_eq!(s, 502, "{v}");
        assert_eq!(v["error"]["code"], "directory_unavailable", "{v}");
        let text = v.to_string();
        assert!(text.contains(words), "{text}");
        assert!(
            !text.contains(SECRET),
            "the provider's words are not echoed: {text}"
        );
        assert_eq!(people(&app).await, 20, "nothing written");
    }
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    assert!(status.to_string().contains("HTTP 307"), "{status}");
    assert!(!String::from_utf8_lossy(&app.database_dump().await).contains(SECRET));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_suddenly_lacks_most_people_is_held_until_an_admin_confirms() {
    let (base, p) = provider(Mode::Users(40)).await;
    let app = daemon(&base).await;
    assert_eq!(pull(&app).await.0, 200);
    for i in 1..=40 {
        let (s, _) = app
            .api(
                Method::POST,
                &format!("/staff/person{i}/activate"),
                Some(json!({ "reason": "t" })),
            )
            .await;
        assert_eq!(s, 200);
    }
    // The provider now lists 12: 28 would leave at once.
    *p.mode.lock().unwrap() = Mode::Users(12);
    let (s, v) = pull(&app).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["verdict"]["verdict"], "hold", "{v}");
    let plan = v["plan_id"].as_i64().unwrap();
    let (_, p40) = app.api(Method::GET, "/staff/person40", None).await;
    assert_eq!(p40["status"], "active", "nobody left while held");
    let (s, v) = app
        .api(Method::POST, &format!("/sync/plans/{plan}/confirm"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, p40) = app.api(Method::GET, "/staff/person40", None).await;
    assert_eq!(p40["status"], "offboarded");
    let (_, p12) = app.api(Method::GET, "/staff/person12", None).await;
    assert_eq!(p12["status"], "active");
    app.stop().await;
}
