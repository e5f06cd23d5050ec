//! Offboarding, reinstatement, access review and the audit chain, on both backends.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

async fn setup(db: Db) -> (TestApp, Upstream) {
    let app = TestApp::spawn(db).await;
    let up = Upstream::start("unused").await;
    app.add_staff("alice", &["support"]).await;
    app.add_channel(
        "whatsapp-main",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        "wa-secret-1",
    )
    .await;
    (app, up)
}

async fn no_call_is_accepted_after_the_offboard_returns_and_streams_are_cut(db: Db) {
    let (app, up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    let http = app.http.clone();

    // Streams in flight: each takes ~500 ms upstream.
    let mut streams = Vec::new();
    for _ in 0..4 {
        let resp = http
            .get(app.broker("whatsapp-main", "slow"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        streams.push(resp);
    }
    // A flood of short calls, each tagged, recording whether it was sent after the offboard returned.
    let returned = Arc::new(AtomicBool::new(false));
    let mut flood = Vec::new();
    for worker in 0..16 {
        let (http, url, token, returned) = (
            http.clone(),
            app.broker("whatsapp-main", "x"),
            token.clone(),
            returned.clone(),
        );
        flood.push(tokio::spawn(async move {
            let mut late = Vec::new();
            for i in 0..60 {
                let after = returned.load(Ordering::SeqCst);
                let tag = format!("w{worker}-{i}");
                // A call in flight when the offboarding lands is cut: that is an error, not an acceptance.
                let status = match http
                    .get(&url)
                    .bearer_auth(&token)
                    .header("x-call", &tag)
                    .send()
                    .await
                {
                    Ok(resp) => resp.status().as_u16(),
                    Err(_) => 0,
                };
                if after {
                    late.push((tag, status));
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            late
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let t = Instant::now();
    let receipt = app.offboard("alice").await;
    returned.store(true, Ordering::SeqCst);
    println!("offboard call took {:?}", t.elapsed());
    assert_eq!(receipt["tokens_revoked"], 1);

    let mut late_calls = Vec::new();
    for f in flood {
        late_calls.extend(f.await.unwrap());
    }
    assert!(
        !late_calls.is_empty(),
        "the flood must still be running after the offboard"
    );
    let accepted: Vec<_> = late_calls.iter().filter(|(_, s)| *s != 401).collect();
    assert!(
        accepted.is_empty(),
        "calls accepted after the offboard returned: {accepted:?}"
    );
    let late_tags: std::collections::HashSet<_> =
        late_calls.iter().map(|(t, _)| t.clone()).collect();
    let leaked: Vec<_> = up
        .requests()
        .into_iter()
        .filter_map(|r| r.header("x-call").map(str::to_owned))
        .filter(|t| late_tags.contains(t))
        .collect();
    assert!(
        leaked.is_empty(),
        "upstream saw calls sent after the offboard: {leaked:?}"
    );

    for resp in streams {
        let result = resp.bytes().await;
        assert!(
            result.is_err(),
            "a stream in flight must be cut, got {:?}",
            result.map(|b| b.len())
        );
    }
    app.stop().await;
}

async fn offboarding_is_idempotent_and_reinstating_revives_no_token(db: Db) {
    let (app, _up) = setup(db).await;
    let (_, token) = app.issue("alice", "whatsapp-main", json!({})).await;
    let (status, _) = app.call(Method::GET, "whatsapp-main", "x", &token).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let first = app.offboard("alice").await;
    assert_eq!(first["channels"][0]["channel"], "whatsapp-main");
    assert_eq!(first["channels"][0]["actions"], json!(["read", "send"]));
    assert!(first["channels"][0]["last_used_at"].is_string(), "{first}");
    let mut second = app.offboard("alice").await;
    // The stored receipt is returned again; only the propagation report is fresh.
    let mut first = first;
    assert_eq!(
        first["propagation"]["replicas"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    first["propagation"].take();
    second["propagation"].take();
    // ...and says it is the first one's.
    assert_eq!(second["already_offboarded"].take(), true);
    second.as_object_mut().unwrap().remove("already_offboarded");
    assert_eq!(first, second);

    let (status, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "alice", "channel": "whatsapp-main" })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("staff_not_active"))
    );

    let (status, _) = app
        .api(
            Method::POST,
            "/staff/alice/reinstate",
            Some(json!({ "reason": "rehired" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app.call(Method::GET, "whatsapp-main", "x", &token).await;
    assert_eq!(
        status, 401,
        "an old token must stay dead after reinstatement"
    );
    let (_, fresh) = app.issue("alice", "whatsapp-main", json!({})).await;
    assert_eq!(
        app.call(Method::GET, "whatsapp-main", "x", &fresh).await.0,
        200
    );
    app.stop().await;
}

async fn offboarding_needs_hr_or_admin_and_revokes_the_persons_api_keys(db: Db) {
    let (app, _up) = setup(db).await;
    let (_, auditor) = app
        .api(
            Method::POST,
            "/keys",
            Some(json!({ "name": "qa", "role": "auditor" })),
        )
        .await;
    let (_, hr) = app
        .api(
            Method::POST,
            "/keys",
            Some(json!({ "name": "hr", "role": "hr" })),
        )
        .await;
    let (_, own) = app
        .api(
            Method::POST,
            "/keys",
            Some(json!({ "name": "alice-cli", "role": "auditor", "staff": "alice" })),
        )
        .await;
    let reason = Some(json!({ "reason": "left" }));
    let (status, v) = app
        .api_as(
            auditor["key"].as_str().unwrap(),
            Method::POST,
            "/staff/alice/offboard",
            reason.clone(),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (403, Some("role_forbidden"))
    );
    let (status, v) = app
        .api_as(
            hr["key"].as_str().unwrap(),
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "" })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    let (status, v) = app
        .api_as(
            hr["key"].as_str().unwrap(),
            Method::POST,
            "/staff/alice/offboard",
            reason,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["api_keys_revoked"], 1);
    assert!(v["by"].as_str().unwrap().starts_with("key:hr#"));
    let (status, v) = app
        .api_as(own["key"].as_str().unwrap(), Method::GET, "/staff", None)
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (401, Some("api_key_unknown"))
    );
    app.stop().await;
}

async fn access_review_shows_who_can_reach_what_and_why(db: Db) {
    let (app, _up) = setup(db).await;
    app.add_staff("lead", &["team-leads"]).await;
    app.add_staff("carol", &["sales"]).await;
    app.issue("alice", "whatsapp-main", json!({ "actions": ["read"] }))
        .await;
    let (status, rows) = app.api(Method::GET, "/access", None).await;
    assert_eq!(status, 200);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let alice = rows.iter().find(|r| r["staff"] == "alice").unwrap();
    assert_eq!(alice["actions"], json!(["read", "send"]));
    assert_eq!(alice["policies"], json!(["support-operators"]));
    assert_eq!(alice["live_tokens"], 1);
    let lead = rows.iter().find(|r| r["staff"] == "lead").unwrap();
    // The new action classes show up by name, with the policy that gives each.
    assert_eq!(lead["actions"], json!(["read", "manage"]));
    assert_eq!(
        lead["policies"],
        json!(["leads-manage-support", "leads-read-everything"])
    );
    let (_, only) = app.api(Method::GET, "/access?staff=lead", None).await;
    assert_eq!(only.as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn audit_verify_catches_a_tampered_row(db: Db) {
    let (app, _up) = setup(db).await;
    app.issue("alice", "whatsapp-main", json!({})).await;
    app.offboard("alice").await;
    let (_, v) = app.api(Method::GET, "/audit/verify", None).await;
    assert_eq!(v["ok"], true, "{v}");
    let entries = v["entries"].as_i64().unwrap();
    assert!(entries >= 5, "{v}");

    let tamper = "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3";
    match app.db {
        Db::Sqlite => {
            let path = app.dir.path().join("data/staffgate.db");
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
                "sqlite://{}",
                path.display()
            ))
            .await
            .unwrap();
            sqlx::query(tamper).execute(&mut conn).await.unwrap();
        }
        Db::Postgres => {
            let root = common::postgres_admin_url()
                .rsplit_once('/')
                .unwrap()
                .0
                .to_owned();
            let url = format!("{root}/{}", app.pg_name.as_ref().unwrap());
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query(tamper).execute(&mut conn).await.unwrap();
        }
    }
    let (_, v) = app.api(Method::GET, "/audit/verify", None).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad"], json!({ "problem": "altered", "seq": 3 }));
    app.stop().await;
}

async fn bad_api_input_gets_a_precise_error_and_changes_nothing(db: Db) {
    let (app, _up) = setup(db).await;
    let put = |body: &'static str| {
        app.http
            .put(format!("{}/api/v1/staff/dave", app.base))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = put("{not json").await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid_json"
    );
    let resp = put("{\"email\":\"d@x\",\"name\":\"D\",\"groups\":[\"a\\u0007b\"]}")
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("groups:"),
        "{v}"
    );
    let (status, v) = app
        .api(
            Method::PUT,
            "/channels/Bad_Id",
            Some(json!({ "kind": "bearer", "upstream": "http://x" })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    let (status, v) = app
        .api(
            Method::PUT,
            "/channels/ok",
            Some(json!({ "kind": "smoke-signals", "upstream": "http://x" })),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("kind:"),
        "{v}"
    );
    let (status, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "alice", "channel": "whatsapp-main", "ttl": "100y" })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    // An empty action list is a mistake, not "everything".
    let (status, v) = app
        .api(
            Method::POST,
            "/tokens",
            Some(json!({ "staff": "alice", "channel": "whatsapp-main", "actions": [] })),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("invalid_input"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("actions:"),
        "{v}"
    );
    let (status, _) = app.api_as("sgk_wrong", Method::GET, "/staff", None).await;
    assert_eq!(status, 401);
    let (_, staff) = app.api(Method::GET, "/staff", None).await;
    assert_eq!(
        staff.as_array().unwrap().len(),
        1,
        "nothing was created: {staff}"
    );
    app.stop().await;
}

async fn concurrent_issuances_are_each_written_audited_and_chained(db: Db) {
    let (app, _up) = setup(db).await;
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.issue("alice", "whatsapp-main", json!({})).await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (id, token) = t.await.unwrap();
        assert!(ids.insert(id));
        assert_eq!(
            app.call(reqwest::Method::GET, "whatsapp-main", "x", &token)
                .await
                .0,
            200
        );
    }
    let (_, audit) = app
        .api(reqwest::Method::GET, "/audit?limit=1000", None)
        .await;
    let issued = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "token.issue")
        .count();
    assert_eq!(issued, 32, "one audit entry per token");
    let (_, verify) = app.api(reqwest::Method::GET, "/audit/verify", None).await;
    assert_eq!(verify["ok"], true, "{verify}");
    std::sync::Arc::try_unwrap(app).ok().unwrap().stop().await;
}

both_backends!(
    concurrent_issuances_are_each_written_audited_and_chained,
    no_call_is_accepted_after_the_offboard_returns_and_streams_are_cut,
    offboarding_is_idempotent_and_reinstating_revives_no_token,
    offboarding_needs_hr_or_admin_and_revokes_the_persons_api_keys,
    access_review_shows_who_can_reach_what_and_why,
    audit_verify_catches_a_tampered_row,
    bad_api_input_gets_a_precise_error_and_changes_nothing,
);
