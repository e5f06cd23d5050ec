//! Production mode with real parts: `staffgate serve` replicas as separate processes on
//! PostgreSQL, killed with SIGKILL, cut from the database through a proxy, and living
//! through a PostgreSQL restart. (Jobs across replicas are in `production_jobs.rs`.)

mod common;

use std::time::{Duration, Instant};

use common::peers::{PrivatePg, Proxy};
use common::process::Cluster;
use common::upstream::Upstream;
use reqwest::Method;
use serde_json::{Value, json};

fn replica_states(receipt: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = receipt["propagation"]["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offboarding_on_a_stops_the_token_on_b_and_the_receipt_lists_both() {
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let a = c.start("a", None, &[]).await;
    let b = c.start("b", None, &[]).await;
    let tokens = c.desk(&a, &up.base, &["alice"]).await;
    c.until(&b, "desk", &tokens[0], 200, Duration::from_secs(5))
        .await;

    let (code, out) = c.cli(
        &a,
        &[
            "offboard", "alice", "--reason", "left", "--wait", "--format", "json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let receipt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(receipt["propagation"]["confirmed"], true, "{receipt}");
    assert_eq!(
        replica_states(&receipt),
        [
            ("a".into(), "confirmed".into()),
            ("b".into(), "confirmed".into())
        ]
    );
    for r in receipt["propagation"]["replicas"].as_array().unwrap() {
        let after = r["confirmed_after_ms"].as_i64().unwrap();
        println!("{} confirmed after {after} ms", r["name"]);
        assert!((0..2_000).contains(&after), "{r}");
    }
    // B said it applied it: its very next answer is the refusal.
    assert_eq!(
        c.call(&b, "desk", &tokens[0]).await,
        (401, Some("staff_not_active".into()))
    );

    let status = c.ok(&b, Method::GET, "/status", None, 200).await;
    let states: Vec<&str> = status["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["serving", "serving"], "{status}");
    let (code, text) = c.cli(&b, &["status"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("b *") && text.contains("cleanup"), "{text}");
    println!("{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_in_the_middle_of_offboardings_loses_nothing() {
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let mut a = c.start("a", None, &[]).await;
    let b = c.start("b", None, &[]).await;
    let people: Vec<String> = (0..30).map(|i| format!("p{i:02}")).collect();
    let names: Vec<&str> = people.iter().map(String::as_str).collect();
    let tokens = c.desk(&a, &up.base, &names).await;

    // Thirty offboardings at once on A; A is killed once a few have been answered.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut calls = Vec::new();
    for p in &people {
        let (http, url, key, p) = (c.http.clone(), a.url.clone(), c.key.clone(), p.clone());
        let done = done.clone();
        calls.push(tokio::spawn(async move {
            let resp = http
                .post(format!("{url}/api/v1/staff/{p}/offboard"))
                .bearer_auth(key)
                .json(&json!({ "reason": "left" }))
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == 200 => {
                    let v = r.json::<Value>().await.ok();
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    v
                }
                _ => None,
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while done.load(std::sync::atomic::Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no offboarding answered");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    a.kill9();
    let mut answered = Vec::new();
    for call in calls {
        answered.push(call.await.unwrap());
    }
    let confirmed = answered.iter().filter(|a| a.is_some()).count();
    println!("{confirmed} of 30 offboardings answered before the kill");

    let mut offboarded = 0;
    for ((p, token), answer) in people.iter().zip(&tokens).zip(&answered) {
        let person = c
            .ok(&b, Method::GET, &format!("/staff/{p}"), None, 200)
            .await;
        let entries = c.offboard_entries(&b, p).await;
        if person["status"] == "offboarded" {
            offboarded += 1;
            // All of it: one audit entry, the token dead on B, the stored receipt whole.
            assert_eq!(entries.len(), 1, "{p}");
            c.until(&b, "desk", token, 401, Duration::from_secs(3))
                .await;
            let mut again = c
                .ok(
                    &b,
                    Method::POST,
                    &format!("/staff/{p}/offboard"),
                    Some(json!({ "reason": "again" })),
                    200,
                )
                .await;
            assert_eq!(again["tokens_revoked"], 1, "{again}");
            assert_eq!(again["audit_seq"], entries[0]["seq"]);
            if let Some(first) = answer {
                let mut first = first.clone();
                first["propagation"].take();
                again["propagation"].take();
                // The second answer says it is the first one's receipt.
                assert_eq!(again["already_offboarded"], true, "{again}");
                again.as_object_mut().unwrap().remove("already_offboarded");
                assert_eq!(first, again, "the receipt A returned is the one kept");
            }
        } else {
            // None of it: an answered offboarding is never lost.
            assert!(
                answer.is_none(),
                "{p} was answered but is {}",
                person["status"]
            );
            assert!(entries.is_empty(), "{p}");
            assert_eq!(c.call(&b, "desk", token).await.0, 200, "{p}");
        }
    }
    println!("{offboarded} of 30 offboarded in the database");
    assert!(
        confirmed >= 3 && offboarded >= confirmed,
        "{confirmed} {offboarded}"
    );
    let verify = c.ok(&b, Method::GET, "/audit/verify", None, 200).await;
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_from_the_database_fails_closed_and_recovers() {
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let proxy = Proxy::start("127.0.0.1:5432".into()).await;
    let via_proxy = c
        .db_url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(via_proxy, c.db_url);
    let a = c.start("a", None, &[]).await;
    let b = c.start("b", Some(&via_proxy), &[]).await;
    let tokens = c.desk(&a, &up.base, &["alice", "bob"]).await;
    for t in &tokens {
        c.until(&b, "desk", t, 200, Duration::from_secs(5)).await;
    }

    proxy.cut();
    let cut = Instant::now();
    let took = c
        .until(&b, "desk", &tokens[1], 503, Duration::from_secs(6))
        .await;
    println!("B refuses {took:?} after its database connection was cut");
    assert!(took <= Duration::from_millis(3_000), "{took:?}");
    assert_eq!(
        c.call(&b, "desk", &tokens[1]).await,
        (503, Some("replica_not_current".into()))
    );
    assert_eq!(c.readyz(&b).await, 503);

    // A offboards alice; the receipt says B did not confirm and is failing closed.
    let (code, out) = c.cli(
        &a,
        &["offboard", "alice", "--reason", "left", "--wait", "5s"],
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("Not confirmed by b"), "{out}");
    println!("{out}");
    assert!(cut.elapsed() < Duration::from_secs(30));

    proxy.restore();
    let took = c
        .until(&b, "desk", &tokens[1], 200, Duration::from_secs(20))
        .await;
    println!("B serves again {took:?} after the connection came back");
    assert_eq!(
        c.call(&b, "desk", &tokens[0]).await,
        (401, Some("staff_not_active".into())),
        "B caught up before serving"
    );
    assert_eq!(c.readyz(&b).await, 200);
    // Its log said why it refused, once, and that it serves again.
    let log = b.log_text();
    assert_eq!(log.matches("refusing brokered calls").count(), 1, "{log}");
    assert!(log.contains("serving again"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_loses_no_revocation() {
    let up = Upstream::start("upstream-secret").await;
    let pg = PrivatePg::start();
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres"))
            .await
            .unwrap();
        sqlx::query("CREATE DATABASE staffgate")
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let c = Cluster::on(pg.url("staffgate"));
    let a = c.start("a", None, &[]).await;
    let b = c.start("b", None, &[]).await;
    let tokens = c.desk(&a, &up.base, &["u1", "u2", "u3"]).await;
    for t in &tokens {
        c.until(&b, "desk", t, 200, Duration::from_secs(5)).await;
    }

    // Offboarded right before the crash: it was answered, so it must survive.
    c.ok(
        &a,
        Method::POST,
        "/staff/u1/offboard",
        Some(json!({ "reason": "left" })),
        200,
    )
    .await;
    pg.crash();
    let down = Instant::now();
    // While the database is gone, B stops serving once its bound passes.
    c.until(&b, "desk", &tokens[2], 503, Duration::from_secs(6))
        .await;
    println!("B refused {:?} after the crash", down.elapsed());
    pg.up();

    // An offboarding on A once the database is back.
    let started = Instant::now();
    loop {
        let (status, v) = c
            .api(
                &a,
                Method::POST,
                "/staff/u2/offboard",
                Some(json!({ "reason": "left" })),
            )
            .await;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "A never recovered: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.until(&b, "desk", &tokens[2], 200, Duration::from_secs(20))
        .await;
    assert_eq!(
        c.call(&b, "desk", &tokens[0]).await.0,
        401,
        "u1 stays offboarded on B"
    );
    c.until(&b, "desk", &tokens[1], 401, Duration::from_secs(3))
        .await;
    // A answered the offboarding, so its own view has it; it serves once caught up.
    let took = c
        .until(&a, "desk", &tokens[2], 200, Duration::from_secs(20))
        .await;
    println!("A serving again {took:?} after B");
    assert_eq!(c.call(&a, "desk", &tokens[0]).await.0, 401);
    assert_eq!(c.call(&a, "desk", &tokens[1]).await.0, 401);
}
