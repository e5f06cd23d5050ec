//! OpenID Connect, end to end against a real provider (npm `oidc-provider`):
//! 1. the sign-in callback (code exchange, ID token verification, userinfo, the person
//!    through reconcile and apply, the session): p50/p99;
//! 2. the provider's back-channel logout → the brokered token issued from that session
//!    refused: p50/p99, measured from the moment the test asks the provider to send it.
//!
//! `cargo bench --bench oidc_logout` (60 people); under `cargo test`, a 3-person smoke.
//! Needs the provider installed (`bash scripts/test.sh` does it).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::oidc::{desk, idp, sign_in_timed, token_from_session};
use common::process::free_port;
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let people = if full { 60 } else { 3 };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = "sg-bench";
    let toml = format!(
        "[idp]\nissuer = \"{}\"\nclient_id = \"{client}\"\nclient_secret = \"bench-secret\"\n",
        idp().issuer
    );
    let sources = staffgate::config::oidc::parse_sources(&toml::from_str(&toml).unwrap()).unwrap();
    idp().client(client, "bench-secret", &base, "idp").await;
    let public = base.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.mail.public_url = public;
        c.signin.plain_http = true;
        c.oidc = sources;
    })
    .await;
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;

    let (mut callbacks, mut logouts) = (Vec::new(), Vec::new());
    for i in 0..people {
        let account = format!("bench-{i}");
        let name = format!("bench{i}");
        idp()
            .account(
                &account,
                json!({ "preferred_username": name, "groups": ["support"] }),
            )
            .await;
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let (status, took) = sign_in_timed(&browser, &base, "idp", &account).await;
        assert_eq!(status, 200, "sign-in {i}");
        callbacks.push(took);
        let token = token_from_session(&app, &browser, &name).await;
        assert_eq!(app.call(Method::GET, "desk", "x", &token).await.0, 200);

        let sent = Instant::now();
        assert_eq!(idp().logout(client, &account).await, 1);
        loop {
            let (status, _) = app.call(Method::GET, "desk", "x", &token).await;
            if status == 401 {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(5),
                "token still accepted"
            );
        }
        logouts.push(sent.elapsed());
    }
    println!(
        "sign-in callback, {people} sign-ins: p50 {:?}, p99 {:?}",
        pct(callbacks.clone(), 0.5),
        pct(callbacks, 0.99)
    );
    println!(
        "provider back-channel logout -> brokered token refused, {people} logouts: p50 {:?}, p99 {:?}",
        pct(logouts.clone(), 0.5),
        pct(logouts, 0.99)
    );
    app.stop().await;
}
