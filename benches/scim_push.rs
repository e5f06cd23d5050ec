//! SCIM push, against the real daemon:
//! 1. bulk provisioning: users created by SCIM POST at concurrency 8, users/s, on SQLite and
//!    on PostgreSQL (target ≥ 500/s);
//! 2. deactivation under brokered load: each PATCH `active: false` answered, then the token
//!    refused; load tasks call the broker all along and count any call *sent after* a
//!    deactivation's answer that was still accepted (target: zero); the answer's latency
//!    p50/p99.
//!
//! `cargo bench --bench scim_push` (10,000 users, 200 deactivations); under `cargo test`, a
//! small smoke.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::upstream::Upstream;
use common::{Db, TestApp};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::json;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

struct Push {
    app: TestApp,
    token: String,
}

async fn push(db: Db) -> Push {
    let sources = staffgate::config::scim::parse_sources(
        &toml::from_str("[entra]\nmax_leavers = 100000\nmax_share = 1.0\n").unwrap(),
    )
    .unwrap();
    let app = TestApp::spawn_with(db, move |c| c.scim = sources).await;
    let (s, v) = app.api(Method::POST, "/scim/entra/tokens", None).await;
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    Push { app, token }
}

impl Push {
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .app
            .http
            .request(method, format!("{}/scim/v2/entra{path}", self.app.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or_default())
    }

    async fn create(&self, name: &str) -> String {
        let (s, v) = self
            .send(Method::POST, "/Users", json!({ "schemas": [USER], "userName": format!("{name}@example.com"), "active": true }))
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
}

async fn bulk(db: Db, users: usize) {
    let p = push(db).await;
    let started = Instant::now();
    let created = futures_util::stream::iter(0..users)
        .map(|i| {
            let p = &p;
            async move { p.create(&format!("bulk{i:05}")).await }
        })
        .buffer_unordered(8)
        .count()
        .await;
    let took = started.elapsed();
    println!(
        "{db:?}: {created} users created by SCIM POST at concurrency 8 in {took:.2?}: {:.0} users/s",
        created as f64 / took.as_secs_f64()
    );
    p.app.stop().await;
}

async fn deactivations(n: usize) {
    let p = push(Db::Sqlite).await;
    let up = Upstream::start("real-secret").await;
    p.app
        .add_channel(
            "desk",
            json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read"] }),
            "real-secret",
        )
        .await;
    let (s, g) = p
        .send(
            Method::POST,
            "/Groups",
            json!({ "schemas": [GROUP], "displayName": "support" }),
        )
        .await;
    assert_eq!(s, 201, "{g}");
    let group = g["id"].as_str().unwrap().to_owned();
    let mut people = Vec::new();
    for i in 0..n {
        let name = format!("leaver{i:04}");
        let id = p.create(&name).await;
        let (s, v) = p
            .send(
                Method::PATCH,
                &format!("/Groups/{group}"),
                json!({ "schemas": [PATCH], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": id }] }] }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = p
            .app
            .api(
                Method::POST,
                &format!("/staff/{name}/activate"),
                Some(json!({ "reason": "bench" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, token) = p.app.issue(&name, "desk", json!({})).await;
        people.push((id, token));
    }
    // Brokered load: four tasks call with every token in turn, all along.
    let answered: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let (calls, violations) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tokens: Arc<Vec<String>> = Arc::new(people.iter().map(|(_, t)| t.clone()).collect());
    let mut load = Vec::new();
    for k in 0..4 {
        let (answered, calls, violations, stop, tokens) = (
            answered.clone(),
            calls.clone(),
            violations.clone(),
            stop.clone(),
            tokens.clone(),
        );
        let url = p.app.broker("desk", "x");
        let http = reqwest::Client::new();
        load.push(tokio::spawn(async move {
            let mut i = k;
            while !stop.load(Ordering::Relaxed) {
                let token = &tokens[i % tokens.len()];
                i += 3;
                let sent = Instant::now();
                let Ok(r) = http.get(&url).bearer_auth(token).send().await else {
                    continue;
                };
                calls.fetch_add(1, Ordering::Relaxed);
                if r.status().as_u16() == 200
                    && answered
                        .lock()
                        .unwrap()
                        .get(token)
                        .is_some_and(|at| *at < sent)
                {
                    violations.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let off = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
    let mut latencies = Vec::new();
    for (id, token) in &people {
        let started = Instant::now();
        let (s, v) = p
            .send(Method::PATCH, &format!("/Users/{id}"), off.clone())
            .await;
        latencies.push(started.elapsed());
        answered
            .lock()
            .unwrap()
            .insert(token.clone(), Instant::now());
        assert_eq!(s, 200, "{v}");
        let (status, _) = p.app.call(Method::GET, "desk", "x", token).await;
        assert_eq!(
            status, 401,
            "a token accepted right after its deactivation's answer"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        let _ = t.await;
    }
    println!(
        "{n} SCIM deactivations under brokered load ({} brokered calls alongside): answer p50 {:?}, p99 {:?}; calls sent after an answer and accepted: {}",
        calls.load(Ordering::Relaxed),
        pct(latencies.clone(), 0.5),
        pct(latencies, 0.99),
        violations.load(Ordering::Relaxed)
    );
    assert_eq!(violations.load(Ordering::Relaxed), 0);
    p.app.stop().await;
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (users, leavers) = if full { (10_000, 200) } else { (40, 4) };
    bulk(Db::Sqlite, users).await;
    bulk(Db::Postgres, users).await;
    deactivations(leavers).await;
}
