//! SCIM 2.0 push against the real daemon: the deactivation shapes Entra and Okta document
//! (and the RFC's, a PUT, a DELETE) each end in an offboarding whose token is refused right
//! after the answer; a group membership removed is a mover; more deactivations than the
//! source's guard allows are answered 503 and held until an admin confirms; bad input gets
//! SCIM error bodies; two daemons on one PostgreSQL.

mod bad_input;
mod canaille;
#[path = "../common/mod.rs"]
mod common;
mod compliance;
mod pull_hostile;

use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A daemon with the SCIM source `entra` (guard limits as given), its token, and a `desk`
/// channel for the `support` group.
struct World {
    app: TestApp,
    token: String,
    _up: Upstream,
}

async fn world(db: Db, source_toml: &str) -> World {
    let sources =
        staffgate::config::scim::parse_sources(&toml::from_str(source_toml).unwrap()).unwrap();
    let app = TestApp::spawn_with(db, move |c| c.scim = sources).await;
    let (s, v) = app.api(Method::POST, "/scim/entra/tokens", None).await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sgp_"));
    let up = Upstream::start("real-secret").await;
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read"] }),
        "real-secret",
    )
    .await;
    World {
        app,
        token,
        _up: up,
    }
}

impl World {
    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.scim_as(&self.token, method, path, body).await
    }

    async fn scim_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .app
            .http
            .request(method, format!("{}/scim/v2/entra{path}", self.app.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates `name` and puts them in `support`; answers their SCIM id.
    async fn joiner(&self, name: &str, group: &str) -> String {
        let (s, u) = self
            .scim(
                Method::POST,
                "/Users",
                Some(json!({ "schemas": [USER], "userName": format!("{name}@example.com"),
                             "externalId": format!("ext-{name}"), "active": true,
                             "emails": [{ "value": format!("{name}@example.com"), "primary": true }] })),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_owned();
        let (s, g) = self
            .scim(
                Method::PATCH,
                &format!("/Groups/{group}"),
                Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": id }] }] })),
            )
            .await;
        assert_eq!(s, 200, "{g}");
        id
    }

    async fn group(&self, name: &str) -> String {
        let (s, g) = self
            .scim(
                Method::POST,
                "/Groups",
                Some(json!({ "schemas": [GROUP], "displayName": name })),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        g["id"].as_str().unwrap().to_owned()
    }

    /// Activates `name` (first login is off here) and issues a `desk` token; it works.
    async fn token_for(&self, name: &str) -> String {
        let (s, v) = self
            .app
            .api(
                Method::POST,
                &format!("/staff/{name}/activate"),
                Some(json!({ "reason": "test" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, token) = self.app.issue(name, "desk", json!({})).await;
        // Polled, not asserted at once: with a second replica on the database, this replica's
        // follower can apply the joiner's older entry after the activation (a rare 401 seen
        // once under load on 2026-12-03, written down as a known race, not hidden).
        common::replica_pair::until(&self.app, &token, 200).await;
        token
    }

    async fn status(&self, name: &str) -> String {
        let (_, v) = self
            .app
            .api(Method::GET, &format!("/staff/{name}"), None)
            .await;
        v["status"].as_str().unwrap_or("").to_owned()
    }
}

async fn every_deactivation_shape_is_an_offboarding_refused_right_after_the_answer(db: Db) {
    let w = world(db, "[entra]\n").await;
    let support = w.group("support").await;
    let shapes: Vec<(&str, Method, Option<Value>)> = vec![
        (
            "rfc",
            Method::PATCH,
            Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] }),
            ),
        ),
        (
            "entra",
            Method::PATCH,
            Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] }),
            ),
        ),
        (
            "okta",
            Method::PATCH,
            Some(
                json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "value": { "active": false } }] }),
            ),
        ),
        ("put", Method::PUT, None),
        ("delete", Method::DELETE, None),
    ];
    for (shape, method, body) in shapes {
        let name = format!("leaver-{shape}");
        let id = w.joiner(&name, &support).await;
        assert_eq!(
            w.status(&name).await,
            "pending",
            "a SCIM create is a joiner"
        );
        let token = w.token_for(&name).await;
        let body = match (shape, body) {
            ("put", _) => Some(
                json!({ "schemas": [USER], "userName": format!("{name}@example.com"),
                                        "externalId": format!("ext-{name}"), "active": false,
                                        "emails": [{ "value": format!("{name}@example.com"), "primary": true }] }),
            ),
            (_, b) => b,
        };
        let (s, v) = w.scim(method, &format!("/Users/{id}"), body).await;
        assert!(s == 200 || s == 204, "{shape}: {s} {v}");
        // Right after the answer: refused.
        let (status, code) = w.app.call(Method::GET, "desk", "x", &token).await;
        assert_eq!(status, 401, "{shape}: {code:?}");
        assert_eq!(w.status(&name).await, "offboarded", "{shape}");
        let (_, receipt) = w
            .app
            .api(Method::GET, &format!("/staff/{name}/offboarding"), None)
            .await;
        assert!(
            receipt.to_string().contains("scim:entra"),
            "{shape}: {receipt}"
        );
    }
    w.app.stop().await;
}

#[tokio::test]
async fn every_deactivation_shape_sqlite() {
    every_deactivation_shape_is_an_offboarding_refused_right_after_the_answer(Db::Sqlite).await;
}

#[tokio::test]
async fn every_deactivation_shape_postgres() {
    every_deactivation_shape_is_an_offboarding_refused_right_after_the_answer(Db::Postgres).await;
}

#[tokio::test]
async fn a_member_removed_from_a_group_loses_the_channel_at_once() {
    let w = world(Db::Sqlite, "[entra]\n").await;
    let support = w.group("support").await;
    let id = w.joiner("mover", &support).await;
    let token = w.token_for("mover").await;
    let (s, v) = w
        .scim(
            Method::PATCH,
            &format!("/Groups/{support}"),
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "remove", "path": format!("members[value eq \"{id}\"]") }] })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(w.app.call(Method::GET, "desk", "x", &token).await.0, 401);
    assert_eq!(w.status("mover").await, "active", "a mover stays");
    // Found by the filters provisioning clients use before they create.
    let (s, found) = w
        .scim(
            Method::GET,
            "/Users?filter=userName%20eq%20%22MOVER%40example.com%22",
            None,
        )
        .await;
    assert_eq!((s, &found["totalResults"]), (200, &json!(1)), "{found}");
    let (_, found) = w
        .scim(
            Method::GET,
            "/Users?filter=externalId%20eq%20%22ext-mover%22",
            None,
        )
        .await;
    assert_eq!(found["Resources"][0]["id"], json!(id));
    w.app.stop().await;
}

#[tokio::test]
async fn more_deactivations_than_the_guard_allows_are_held_until_an_admin_confirms() {
    let w = world(Db::Sqlite, "[entra]\nmax_leavers = 2\nmax_share = 0.1\n").await;
    let support = w.group("support").await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(w.joiner(&format!("guarded{i}"), &support).await);
    }
    let off = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": false }] });
    let mut answers = Vec::new();
    for id in &ids {
        let r = w
            .app
            .http
            .patch(format!("{}/scim/v2/entra/Users/{id}", w.app.base))
            .bearer_auth(&w.token)
            .json(&off)
            .send()
            .await
            .unwrap();
        answers.push((
            r.status().as_u16(),
            r.headers().get("retry-after").is_some(),
        ));
    }
    assert_eq!(answers[..2], [(200, false), (200, false)], "{answers:?}");
    assert_eq!(answers[2..], [(503, true), (503, true)], "{answers:?}");
    assert_eq!(
        w.status("guarded2").await,
        "pending",
        "held, not offboarded"
    );
    let (_, status) = w.app.api(Method::GET, "/sync/status", None).await;
    let plan = status["held_plans"][0]["id"].as_i64().unwrap();
    let (s, outcome) = w
        .app
        .api(Method::POST, &format!("/sync/plans/{plan}/confirm"), None)
        .await;
    assert_eq!(s, 200, "{outcome}");
    assert_eq!(w.status("guarded2").await, "offboarded");
    assert_eq!(w.status("guarded3").await, "offboarded");
    // The provider's retry now finds the user already deactivated.
    let (s, _) = w
        .scim(Method::PATCH, &format!("/Users/{}", ids[2]), Some(off))
        .await;
    assert_eq!(s, 200);
    w.app.stop().await;
}

// The CLI is a child process the test waits for: the daemon needs a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_created_listed_and_revoked_from_the_cli() {
    let w = world(Db::Sqlite, "[entra]\n").await;
    let listed = w.app.cli(&["scim", "token", "list"]);
    assert!(listed.contains("entra"), "{listed}");
    assert!(!listed.contains(&w.token), "a token is shown once only");
    let created = w.app.cli(&["scim", "token", "create", "entra"]);
    let second = created.trim().lines().last().unwrap().to_owned();
    assert!(second.starts_with("sgp_"), "{created}");
    assert_eq!(w.scim_as(&second, Method::GET, "/Users", None).await.0, 200);
    let (_, tokens) = w.app.api(Method::GET, "/scim/tokens", None).await;
    let id = tokens.as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    w.app.cli(&["scim", "token", "revoke", &id.to_string()]);
    assert_eq!(w.scim_as(&second, Method::GET, "/Users", None).await.0, 401);
    assert_eq!(
        w.scim(Method::GET, "/Users", None).await.0,
        200,
        "the first still works"
    );
    let (_, audit) = w.app.api(Method::GET, "/audit?limit=100", None).await;
    let text = audit.to_string();
    assert!(
        text.contains("scim_token.create") && text.contains("scim_token.revoke"),
        "{text}"
    );
    w.app.stop().await;
}

async fn set_active(w: &World, id: &str, active: bool) -> (u16, Value) {
    w.scim(
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "active", "value": active }] })),
    )
    .await
}

#[tokio::test]
async fn re_activation_reinstates_only_where_the_source_says_so_and_no_old_token_revives() {
    for trusted in [false, true] {
        let w = world(Db::Sqlite, &format!("[entra]\nreinstate = {trusted}\n")).await;
        let support = w.group("support").await;
        let id = w.joiner("rehire", &support).await;
        let old = w.token_for("rehire").await;
        assert_eq!(set_active(&w, &id, false).await.0, 200);
        assert_eq!(w.status("rehire").await, "offboarded");
        let (s, v) = set_active(&w, &id, true).await;
        if trusted {
            assert_eq!(s, 200, "{v}");
            assert_eq!(w.status("rehire").await, "active");
            assert_eq!(
                w.app.call(Method::GET, "desk", "x", &old).await.0,
                401,
                "no old token revives"
            );
            let (_, fresh) = w.app.issue("rehire", "desk", json!({})).await;
            assert_eq!(w.app.call(Method::GET, "desk", "x", &fresh).await.0, 200);
            let (_, audit) = w.app.api(Method::GET, "/audit?limit=100", None).await;
            assert!(audit.to_string().contains("staff.reinstate"), "{audit}");
        } else {
            assert_eq!((s, &v["scimType"]), (400, &json!("mutability")), "{v}");
            assert_eq!(w.status("rehire").await, "offboarded");
        }
        w.app.stop().await;
    }
}

#[tokio::test]
async fn a_deactivation_answered_by_one_replica_is_refused_on_the_other() {
    let w = world(Db::Postgres, "[entra]\n").await;
    let b = common::replica_pair::second(&w.app, Db::Postgres, |_| {}).await;
    let support = w.group("support").await;
    let id = w.joiner("zhenya", &support).await;
    let token = w.token_for("zhenya").await;
    common::replica_pair::until(&b, &token, 200).await;
    assert_eq!(set_active(&w, &id, false).await.0, 200);
    let took = common::replica_pair::until(&b, &token, 401).await;
    println!("SCIM deactivation answered by A -> refused on B after {took:?}");
    b.stop().await;
    w.app.stop().await;
}
