//! Presets against a real daemon and a real recording upstream: a request is classified from
//! the API's own method table, whatever HTTP method carries it.

mod common;

use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

/// Presets classify from each API's own table: VK sends over GET, the Graph API takes
/// `method=` as the HTTP method, Viber's webhook is configuration.
async fn presets_tell_a_read_from_a_write_whatever_the_http_method(db: Db) {
    use common::upstream::Upstream;
    let app = TestApp::spawn(db).await;
    let up = Upstream::start("vk-real-secret").await;
    app.add_staff("alice", &["support"]).await;
    for (id, preset) in [("vk", "vk"), ("wa", "whatsapp-cloud"), ("viber", "viber")] {
        let body = json!({ "preset": preset, "upstream": up.base, "tags": ["support"] });
        app.add_channel(id, body, "vk-real-secret").await;
    }
    let (_, read) = app
        .issue("alice", "vk", json!({ "actions": ["read"] }))
        .await;
    let vk = |method: &str| {
        let url = app.broker("vk", &format!("method/{method}?peer_id=1&v=5.199"));
        app.http.get(url).query(&[("access_token", read.as_str())])
    };
    let resp = vk("messages.getHistory").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let seen = up.requests().pop().unwrap();
    let query = seen.query.unwrap_or_default();
    assert!(query.contains("access_token=vk-real-secret"), "{query}");
    assert!(
        !query.contains(read.as_str()),
        "the brokered token went upstream"
    );
    let before = up.count();
    for (method, code) in [
        ("messages.send", "action_not_in_token"),
        ("execute", "action_unmapped"),
        ("groups.setCallbackSettings", "action_unmapped"),
        ("Messages.Send", "action_unmapped"),
    ] {
        let resp = vk(method).send().await.unwrap();
        let status = resp.status().as_u16();
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (403, Some(code)),
            "{method}"
        );
    }

    let (_, wa) = app.issue("alice", "wa", json!({})).await;
    let graph =
        |m: Method, path: &str| app.http.request(m, app.broker("wa", path)).bearer_auth(&wa);
    let resp = graph(Method::GET, "v21.0/5678?method=delete")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_override_refused");
    for path in ["v21.0/1234/register", "v21.0/1234/subscribed_apps"] {
        let resp = graph(Method::POST, path).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }

    let (_, vb) = app.issue("alice", "viber", json!({})).await;
    let viber = |path: &str| app.http.post(app.broker("viber", path)).bearer_auth(&vb);
    assert_eq!(viber("set_webhook").send().await.unwrap().status(), 403);
    assert_eq!(up.count(), before, "a refused request reached the upstream");
    assert_eq!(viber("send_message").send().await.unwrap().status(), 200);
    let seen = up.requests().pop().unwrap();
    assert_eq!(seen.header("x-viber-auth-token"), Some("vk-real-secret"));
    assert_eq!(seen.header("authorization"), None);

    // Without rules or a preset nothing would be brokered: such a channel is refused.
    let bare = json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"] });
    let (status, v) = app.api(Method::PUT, "/channels/bare", Some(bare)).await;
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("preset"), "{v}");
    app.stop().await;
}

both_backends!(presets_tell_a_read_from_a_write_whatever_the_http_method);
