//! Token issuance by a signed-in, compliant person through `POST /api/v1/me/tokens`: session
//! check, first-login facts, the gate, policy, the durable token write and its audit entry.
//! In-process daemon per database (SQLite, then PostgreSQL), a real slapd for the sign-in,
//! TOTP enrolled and the NDA acknowledged through the API first.
//!
//! `cargo bench --bench issuance`; under `cargo test` a short smoke run.

#[path = "../tests/common/slapd.rs"]
#[allow(dead_code)]
mod slapd;

/// As in the daemon's binary (src/main.rs): the daemon runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sqlx::Connection;
use staffgate::app::Application;
use staffgate::config::Config;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    bearer: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method, format!("{base}/api/v1{path}"))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn run(
    label: &str,
    database_url: Option<String>,
    ldap: &slapd::Slapd,
    total: usize,
    concurrency: usize,
) {
    let dir = tempfile::tempdir().unwrap();
    let key = staffgate::apikeys::generate_text().unwrap();
    let admin = key.expose_secret().to_owned();
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().join("data"),
        policies: concat!(env!("CARGO_MANIFEST_DIR"), "/policies").into(),
        bootstrap_admin_key: Some(key),
        database_url: database_url.map(SecretString::from),
        ..Config::default()
    };
    let value: toml::Value =
        toml::from_str(&ldap.source_toml("mode = \"poll\"\npoll_interval = \"1h\"\n")).unwrap();
    config.ldap = staffgate::directory::ldap::config::parse_sources(&value).unwrap();
    config.tokens.max_ttl = Duration::from_secs(12 * 3600);
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let http = reqwest::Client::new();
    while call(
        &http,
        &base,
        &admin,
        reqwest::Method::GET,
        "/staff/alice",
        None,
    )
    .await
    .0 != 200
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let channel = json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read", "POST /** send"] });
    call(
        &http,
        &base,
        &admin,
        reqwest::Method::PUT,
        "/channels/desk",
        Some(channel),
    )
    .await;
    call(
        &http,
        &base,
        &admin,
        reqwest::Method::PUT,
        "/channels/desk/secret",
        Some(json!({ "secret": "s" })),
    )
    .await;

    // First login through the API.
    let resp = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({ "username": "alice", "password": "alice-pw" }))
        .send()
        .await
        .unwrap();
    let session = resp.json::<Value>().await.unwrap()["session"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, enrol) = call(
        &http,
        &base,
        &session,
        reqwest::Method::POST,
        "/me/totp/enrol",
        None,
    )
    .await;
    let url = reqwest::Url::parse(enrol["otpauth_url"].as_str().unwrap()).unwrap();
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .unwrap()
        .1
        .into_owned();
    let seed = totp_rs::Secret::try_from_base32(secret)
        .unwrap()
        .as_ref()
        .to_vec();
    let code = staffgate::signin::totp::code_at(&seed, now()).unwrap();
    let (s, v) = call(
        &http,
        &base,
        &session,
        reqwest::Method::POST,
        "/me/totp/confirm",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, nda) = call(
        &http,
        &base,
        &session,
        reqwest::Method::GET,
        "/me/nda",
        None,
    )
    .await;
    let ack =
        json!({ "version": nda["version"], "sha256": nda["sha256"], "language": nda["language"] });
    let (s, v) = call(
        &http,
        &base,
        &session,
        reqwest::Method::POST,
        "/me/nda",
        Some(ack),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    // Warm up, then measure.
    let body = json!({ "channel": "desk", "ttl": "10m" });
    for _ in 0..20 {
        let (s, v) = call(
            &http,
            &base,
            &session,
            reqwest::Method::POST,
            "/me/tokens",
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let started = Instant::now();
    let per = total / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, base, session, body) =
            (http.clone(), base.clone(), session.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let (s, _) = call(
                    &http,
                    &base,
                    &session,
                    reqwest::Method::POST,
                    "/me/tokens",
                    Some(body.clone()),
                )
                .await;
                assert_eq!(s, 201);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let took = started.elapsed();
    println!(
        "{label}: {} issuances at concurrency {concurrency} in {:.2} s = {:.0}/s; latency p50 {:?}, p99 {:?}",
        all.len(),
        took.as_secs_f64(),
        all.len() as f64 / took.as_secs_f64(),
        pct(all.clone(), 0.5),
        pct(all, 0.99)
    );
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (total, concurrency) = if full { (8_000, 16) } else { (64, 4) };
    let ldap = slapd::Slapd::start();
    ldap.add(&slapd::person_ldif("alice", "alice-pw"));
    ldap.add(&slapd::group_ldif("support", &["alice"]));
    run("SQLite", None, &ldap, total, concurrency).await;

    let admin = std::env::var("STAFFGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("sg_bench_issue_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    run("PostgreSQL", Some(url), &ldap, total, concurrency).await;
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await;
}
