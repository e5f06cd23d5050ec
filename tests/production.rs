//! Production mode with real parts: `staffgate serve` replicas as separate processes on
//! PostgreSQL, killed with SIGKILL, cut from the database through a proxy, and living
//! through a PostgreSQL restart; a real SMTP server that is down, then up.

mod common;

use std::time::{Duration, Instant};

use common::peers::{PrivatePg, Proxy, Smtp};
use common::process::{Cluster, Replica};
use common::upstream::Upstream;
use reqwest::Method;
use serde_json::{Value, json};

/// A channel `desk` and `people` each holding a token for it.
async fn setup(c: &Cluster, r: &Replica, up: &Upstream, people: &[&str]) -> Vec<String> {
    c.add_channel(r, "desk", &up.base).await;
    let mut tokens = Vec::new();
    for p in people {
        c.add_staff(r, p).await;
        tokens.push(c.issue(r, p, "desk").await);
    }
    tokens
}

/// Every `staff.offboard` entry for `who`.
async fn offboard_entries(c: &Cluster, r: &Replica, who: &str) -> Vec<Value> {
    let mut after = 0;
    let mut found = Vec::new();
    loop {
        let page = c
            .ok(
                r,
                Method::GET,
                &format!("/audit?after={after}&limit=1000"),
                None,
                200,
            )
            .await;
        let entries = page.as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            return found;
        }
        after = entries.last().unwrap()["seq"].as_i64().unwrap();
        found.extend(
            entries
                .into_iter()
                .filter(|e| e["event"] == "staff.offboard" && e["subject"] == who),
        );
    }
}

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
    let tokens = setup(&c, &a, &up, &["alice"]).await;
    c.until(&b, "desk", &tokens[0], 200, Duration::from_secs(5))
        .await;

    let (code, out) = c.cli(
        &a,
        &["offboard", "alice", "--reason", "left", "--wait", "--json"],
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
    let tokens = setup(&c, &a, &up, &names).await;

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
        let entries = offboard_entries(&c, &b, p).await;
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
    let tokens = setup(&c, &a, &up, &["alice", "bob"]).await;
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
    let tokens = setup(&c, &a, &up, &["u1", "u2", "u3"]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_offboarding_fires_once_when_the_replica_that_took_it_dies() {
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let mut a = c.start("a", None, &[]).await;
    let b = c.start("b", None, &[]).await;
    let tokens = setup(&c, &a, &up, &["alice"]).await;
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(2_500);
    let v = c
        .ok(
            &a,
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "last working day", "at": at.to_rfc3339() })),
            202,
        )
        .await;
    assert!(v["scheduled"].is_i64(), "{v}");
    a.kill9();
    let late = loop {
        let person = c.ok(&b, Method::GET, "/staff/alice", None, 200).await;
        if person["status"] == "offboarded" {
            break chrono::Utc::now() - at;
        }
        assert!(
            chrono::Utc::now() - at < chrono::Duration::seconds(5),
            "never fired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "fired {} ms after its moment, on B",
        late.num_milliseconds()
    );
    assert!(late < chrono::Duration::milliseconds(1_000), "{late:?}");
    // B commits, then applies in memory: a moment apart.
    c.until(&b, "desk", &tokens[0], 401, Duration::from_secs(1))
        .await;
    // A comes back: nothing fires twice.
    let _a = c.start("a2", None, &[]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let entries = offboard_entries(&c, &b, "alice").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        entries[0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("schedule#")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_offboarding_completes_and_the_receipt_mail_arrives_later() {
    let up = Upstream::start("upstream-secret").await;
    let mut smtp = Smtp::reserve();
    let c = Cluster::new().await;
    let port = smtp.port.to_string();
    let mail = [
        ("STAFFGATE_MAIL_HOST", "127.0.0.1"),
        ("STAFFGATE_MAIL_PORT", port.as_str()),
        ("STAFFGATE_MAIL_SECURITY", "plain"),
        ("STAFFGATE_MAIL_HR", "hr@example.com"),
        ("STAFFGATE_MAIL_SECURITY_CONTACTS", "security@example.com"),
    ];
    let a = c.start("a", None, &mail).await;
    let b = c.start("b", None, &mail).await;
    let tokens = setup(&c, &a, &up, &["alice"]).await;

    let started = Instant::now();
    let receipt = c
        .ok(
            &b,
            Method::POST,
            "/staff/alice/offboard",
            Some(json!({ "reason": "left", "wait": "5s" })),
            200,
        )
        .await;
    let took = started.elapsed();
    println!("offboarding answered in {took:?} with the relay down");
    // Waited for: both replicas confirmed, so A refuses from now on.
    assert_eq!(receipt["propagation"]["confirmed"], true, "{receipt}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(receipt["tokens_revoked"], 1);
    assert_eq!(c.call(&a, "desk", &tokens[0]).await.0, 401);

    // The outbox shows the delay and why.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = c.ok(&a, Method::GET, "/status", None, 200).await;
        if s["outbox"]["last_error"].is_string() {
            break s;
        }
        assert!(Instant::now() < deadline, "no failed attempt shown: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["outbox"]["waiting"], 1, "{status}");
    let metrics = c
        .http
        .get(format!("{}/metrics", a.url))
        .bearer_auth(&c.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "staffgate_mail_outbox_waiting 1",
        "staffgate_replica_log_lag_entries",
        "staffgate_replica_caught_up_age_milliseconds",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    let job = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "mail_outbox")
        .cloned();
    assert!(job.is_some(), "{status}");

    smtp.up().await;
    let mails = smtp.wait_for(1, Duration::from_secs(40)).await;
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.contains("Subject: Offboarded: alice (alice)"), "{m}");
    assert!(
        m.contains("hr@example.com") && m.contains("security@example.com"),
        "{m}"
    );
    assert!(
        m.contains("multipart/alternative") && m.contains("text/html"),
        "{m}"
    );
    assert!(!m.contains("upstream-secret"), "{m}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = c.ok(&a, Method::GET, "/status", None, 200).await;
    assert_eq!(s["outbox"]["waiting"], 0, "{s}");
    // Exactly one mail, though two replicas could send.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.mails().len(), 1);
}

/// Who runs `job`, by replica name, as `staffgate status` reports it.
async fn runner_of(c: &Cluster, asked: &Replica, job: &str) -> Option<String> {
    let status = c.ok(asked, Method::GET, "/status", None, 200).await;
    status["jobs"]
        .as_array()?
        .iter()
        .find(|j| j["job"] == job)
        .and_then(|j| j["holder"].as_str())
        .map(|h| h.split(' ').next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_moves_to_another_replica_when_its_runner_dies_or_stops() {
    let c = Cluster::new().await;
    let mut a = c.start("a", None, &[]).await;
    let mut b = c.start("b", None, &[]).await;
    let first = runner_of(&c, &b, "cleanup")
        .await
        .expect("someone runs cleanup");
    assert_eq!(first, "a", "the first replica up takes the lease");

    // SIGKILL: nothing is released; the lease runs out and B takes it.
    a.kill9();
    let killed = Instant::now();
    loop {
        if runner_of(&c, &b, "cleanup").await.as_deref() == Some("b") {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "B never took over"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "cleanup moved to B {:?} after A was killed",
        killed.elapsed()
    );

    // A clean stop gives the lease up at once.
    let a2 = c.start("a2", None, &[]).await;
    b.stop();
    let stopped = Instant::now();
    loop {
        if runner_of(&c, &a2, "cleanup").await.as_deref() == Some("a2") {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(4),
            "A2 never took over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "cleanup moved to A2 {:?} after B stopped",
        stopped.elapsed()
    );
}
