//! Jobs across replicas, each a separate `staffgate serve` process on PostgreSQL: a
//! scheduled offboarding whose replica dies, the mail outbox with the SMTP relay down then
//! up (real aiosmtpd), and leased jobs moving when their runner dies or stops.

mod common;

use std::time::{Duration, Instant};

use common::peers::Smtp;
use common::process::Cluster;
use common::upstream::Upstream;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_offboarding_fires_once_when_the_replica_that_took_it_dies() {
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let mut a = c.start("a", None, &[]).await;
    let b = c.start("b", None, &[]).await;
    let tokens = c.desk(&a, &up.base, &["alice"]).await;
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
    let entries = c.offboard_entries(&b, "alice").await;
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
    let tokens = c.desk(&a, &up.base, &["alice"]).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_moves_to_another_replica_when_its_runner_dies_or_stops() {
    let c = Cluster::new().await;
    let mut a = c.start("a", None, &[]).await;
    let mut b = c.start("b", None, &[]).await;
    let first = c
        .runner_of(&b, "cleanup")
        .await
        .expect("someone runs cleanup");
    assert_eq!(first, "a", "the first replica up takes the lease");

    // SIGKILL: nothing is released; the lease runs out and B takes it.
    a.kill9();
    let killed = Instant::now();
    loop {
        if c.runner_of(&b, "cleanup").await.as_deref() == Some("b") {
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
        if c.runner_of(&a2, "cleanup").await.as_deref() == Some("a2") {
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
