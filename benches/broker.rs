//! Broker overhead vs the same upstream called directly, side by side, at concurrency 1 and 16;
//! and offboard latency with 1,000 live tokens for the person, with the zero-acceptance check.
//! `cargo bench --bench broker` (SQLite by default; STAFFGATE_BENCH_DATABASE_URL for PostgreSQL)

/// As in the daemon's binary (src/main.rs): the daemon runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use staffgate::app::Application;
use staffgate::config::Config;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(|| async { "{\"ok\":true,\"result\":[]}" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The daemon's admin API, with the bootstrap key.
struct Admin {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Admin {
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }
}

/// Runs `total` GETs at `concurrency`, returning each latency.
async fn load(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    concurrency: usize,
    total: usize,
) -> Vec<Duration> {
    let per = total / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, token) = (http.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(per);
            for _ in 0..per {
                let mut req = http.get(&url);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let t = Instant::now();
                let resp = req.send().await.unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
                out.push(t.elapsed());
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // `cargo bench` passes --bench; under `cargo test` this runs as a small smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    rt.block_on(run(if full { 1 } else { 100 }));
}

/// `shrink` divides every count: 1 for the real figures, larger for a smoke run.
async fn run(shrink: usize) {
    let dir = tempfile::tempdir().unwrap();
    let key = staffgate::apikeys::generate_text().unwrap();
    let key_text = key.expose_secret().to_owned();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        policies: concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into(),
        bootstrap_admin_key: Some(key),
        database_url: std::env::var("STAFFGATE_BENCH_DATABASE_URL")
            .ok()
            .map(SecretString::from),
        ..Config::default()
    };
    // Measures the broker, not first login: nobody here has a session to enrol TOTP in.
    let mut config = config;
    config.compliance.require_totp = false;
    config.compliance.require_nda = false;
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let up = upstream().await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let admin = Admin {
        http: http.clone(),
        base: base.clone(),
        key: key_text,
    };
    use reqwest::Method;
    admin
        .call(
            Method::PUT,
            "/staff/alice",
            json!({ "email": "a@x", "name": "A", "groups": ["support"] }),
        )
        .await;
    admin
        .call(
            Method::PUT,
            "/channels/wa",
            json!({ "kind": "bearer", "upstream": up, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        )
        .await;
    admin
        .call(
            Method::PUT,
            "/channels/wa/secret",
            json!({ "secret": "bench-secret" }),
        )
        .await;
    let token = admin
        .call(
            Method::POST,
            "/tokens",
            json!({ "staff": "alice", "channel": "wa" }),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let direct_url = format!("{up}/messages");
    let broker_url = format!("{base}/broker/wa/messages");
    println!("broker overhead, GET through the broker vs the same upstream directly (loopback)");
    for concurrency in [1usize, 16] {
        let total = if concurrency == 1 { 4_000 } else { 16_000 } / shrink;
        // Warm both paths, then alternate rounds so noise hits both alike.
        load(&http, &direct_url, None, concurrency, 800 / shrink).await;
        load(&http, &broker_url, Some(&token), concurrency, 800 / shrink).await;
        let (mut direct, mut brokered) = (Vec::new(), Vec::new());
        for _ in 0..4 {
            direct.extend(load(&http, &direct_url, None, concurrency, total / 4).await);
            brokered.extend(load(&http, &broker_url, Some(&token), concurrency, total / 4).await);
        }
        let (d50, d99, b50, b99) = (
            pct(direct.clone(), 0.5),
            pct(direct, 0.99),
            pct(brokered.clone(), 0.5),
            pct(brokered, 0.99),
        );
        println!(
            "  c={concurrency:>2}: direct p50 {d50:?} p99 {d99:?} | broker p50 {b50:?} p99 {b99:?} | added p50 {:?} p99 {:?}",
            b50.saturating_sub(d50),
            b99.saturating_sub(d99)
        );
    }

    let mut latencies = Vec::new();
    let rounds = 10_usize.div_ceil(shrink);
    let per_person = 1_000 / shrink;
    println!("offboard with {per_person} live tokens for the person (issued through the API)");
    for n in 0..rounds {
        let user = format!("op{n}");
        admin
            .call(
                Method::PUT,
                &format!("/staff/{user}"),
                json!({ "email": "o@x", "name": "O", "groups": ["support"] }),
            )
            .await;
        let mut tokens = Vec::new();
        for _ in 0..per_person {
            let v = admin
                .call(
                    Method::POST,
                    "/tokens",
                    json!({ "staff": user, "channel": "wa" }),
                )
                .await;
            tokens.push(v["token"].as_str().unwrap().to_owned());
        }
        let t = Instant::now();
        let receipt = admin
            .call(
                Method::POST,
                &format!("/staff/{user}/offboard"),
                json!({ "reason": "bench" }),
            )
            .await;
        latencies.push(t.elapsed());
        assert_eq!(receipt["tokens_revoked"], per_person);
        let mut accepted = 0;
        for tok in tokens.iter().step_by(10) {
            let s = http
                .get(&broker_url)
                .bearer_auth(tok)
                .send()
                .await
                .unwrap()
                .status();
            if s != 401 {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 0, "calls accepted after the offboard returned");
    }
    println!(
        "  {rounds} offboardings: p50 {:?}, p99 (max of {rounds}) {:?}; 0 of {} calls made right after each returned were accepted",
        pct(latencies.clone(), 0.5),
        pct(latencies, 0.99),
        rounds * per_person.div_ceil(10)
    );
}
