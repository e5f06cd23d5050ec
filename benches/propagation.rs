//! Offboard → rejection on every replica: three `staffgate serve` processes on one
//! PostgreSQL database, each kept busy by a load generator, 200 offboardings in turn.
//!
//! For each offboarding, one prober per replica calls with the victim's token in a tight
//! loop. Latency is from sending the offboarding request to the first refusal each replica
//! gives (an upper bound: it includes the offboarding's own round trip). Afterwards every
//! probe sent after the moment a replica recorded that it applied the revocation is
//! checked: none may have been accepted.
//!
//! `cargo bench --bench propagation` (needs the machine's PostgreSQL, as the tests do);
//! under `cargo test` a 20-offboarding smoke run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::process::{Cluster, Replica};
use common::upstream::Upstream;
use serde_json::json;
use sqlx::{Connection, Row};

const LOAD_WORKERS_PER_REPLICA: usize = 2;

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One probe: when it was sent (wall clock, ms), when it was answered, and the status.
struct Probe {
    sent_ms: i64,
    answered: Instant,
    /// Wall clock, microseconds.
    answered_us: i64,
    status: u16,
}

async fn probe_until_refused(
    http: reqwest::Client,
    url: String,
    token: String,
    go: Arc<AtomicBool>,
) -> Vec<Probe> {
    let start = Instant::now();
    let mut probes = Vec::new();
    let mut refused_at: Option<Instant> = None;
    loop {
        let sent_ms = wall_ms();
        let status = match http.get(&url).bearer_auth(&token).send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                let _ = r.bytes().await;
                s
            }
            Err(_) => 0,
        };
        if !go.load(Ordering::Acquire) {
            continue; // the offboarding is not sent yet: warm-up probes are not kept
        }
        probes.push(Probe {
            sent_ms,
            answered: Instant::now(),
            answered_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros() as i64,
            status,
        });
        if status == 401 && refused_at.is_none() {
            refused_at = Some(Instant::now());
        }
        // Keep probing a little past the refusal, to catch any acceptance after it.
        if refused_at.is_some_and(|t| t.elapsed() > Duration::from_millis(20)) {
            return probes;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{url}: never refused"
        );
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let offboardings: usize = if full { 200 } else { 20 };
    let up = Upstream::start("upstream-secret").await;
    let c = Cluster::new().await;
    let replicas: Vec<Replica> = vec![
        c.start("r1", None, &[]).await,
        c.start("r2", None, &[]).await,
        c.start("r3", None, &[]).await,
    ];
    c.add_channel(&replicas[0], "desk", &up.base).await;
    c.add_staff(&replicas[0], "load").await;
    let load_token = c.issue(&replicas[0], "load", "desk").await;
    let mut victims = Vec::new();
    for i in 0..offboardings {
        let name = format!("v{i:03}");
        c.add_staff(&replicas[i % 3], &name).await;
        let token = c.issue(&replicas[i % 3], &name, "desk").await;
        victims.push((name, token));
    }
    for r in &replicas {
        for (_, t) in victims.iter().step_by(37) {
            c.until(r, "desk", t, 200, Duration::from_secs(10)).await;
        }
    }

    // The load: brokered calls on every replica for the whole run.
    let stop = Arc::new(AtomicBool::new(false));
    let load_calls = Arc::new(AtomicU64::new(0));
    // A replica that cannot show it is current refuses (503 replica_not_current): counted,
    // since on a machine this busy that can happen, and it is the safe answer.
    let load_refused = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for r in &replicas {
        for _ in 0..LOAD_WORKERS_PER_REPLICA {
            let (http, url, token) = (
                reqwest::Client::new(),
                format!("{}/broker/desk/x", r.url),
                load_token.clone(),
            );
            let (stop, n, refused) = (stop.clone(), load_calls.clone(), load_refused.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(resp) = http.get(&url).bearer_auth(&token).send().await {
                        match resp.status().as_u16() {
                            200 => n.fetch_add(1, Ordering::Relaxed),
                            503 => refused.fetch_add(1, Ordering::Relaxed),
                            other => panic!("the load's own token got {other}"),
                        };
                        let _ = resp.bytes().await;
                    }
                }
            }));
        }
    }

    let mut db = sqlx::PgConnection::connect(&c.db_url).await.unwrap();
    let names: std::collections::HashMap<String, String> =
        sqlx::query("SELECT id, name FROM replicas")
            .fetch_all(&mut db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("id"), r.get("name")))
            .collect();
    let probers: Vec<reqwest::Client> = replicas.iter().map(|_| reqwest::Client::new()).collect();
    let admin = reqwest::Client::new();
    let run_started = Instant::now();
    let load_before = load_calls.load(Ordering::Relaxed);
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let mut from_entry: Vec<f64> = Vec::new();
    let mut worst_of_three = Vec::new();
    let (mut accepted_after_applied, mut probes_after_applied) = (0usize, 0usize);
    let mut unacknowledged = 0usize;
    for (i, (name, token)) in victims.iter().enumerate() {
        let go = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = replicas
            .iter()
            .zip(&probers)
            .map(|(r, http)| {
                tokio::spawn(probe_until_refused(
                    http.clone(),
                    format!("{}/broker/desk/x", r.url),
                    token.clone(),
                    go.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(3)).await;
        let origin = &replicas[i % 3];
        let start = Instant::now();
        go.store(true, Ordering::Release);
        let sent = admin
            .post(format!("{}/api/v1/staff/{name}/offboard", origin.url))
            .bearer_auth(&c.key)
            .json(&json!({ "reason": "bench" }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        let receipt: serde_json::Value = sent.json().await.unwrap();
        let seq = receipt["audit_seq"].as_i64().unwrap();
        let entry_at: i64 = sqlx::query("SELECT at FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(&mut db)
            .await
            .unwrap()
            .get("at");
        let mut worst = 0.0f64;
        let mut worst_from_entry = 0.0f64;
        let mut all_probes = Vec::new();
        for (k, t) in tasks.into_iter().enumerate() {
            let probes = t.await.unwrap();
            let first = probes.iter().find(|p| p.status == 401).unwrap();
            let ms = first.answered.duration_since(start).as_secs_f64() * 1e3;
            latencies[k].push(ms);
            worst = worst.max(ms);
            worst_from_entry =
                worst_from_entry.max((first.answered_us - entry_at * 1_000) as f64 / 1e3);
            all_probes.push(probes);
        }
        worst_of_three.push(worst);
        from_entry.push(worst_from_entry);
        // Acknowledgements are written just after the refusal; wait for them (up to 1 s).
        let waited = Instant::now();
        let acks: Vec<(String, i64)> = loop {
            let acks: Vec<(String, i64)> =
                sqlx::query("SELECT replica_id, applied_at FROM replica_acks WHERE seq = $1")
                    .bind(seq)
                    .fetch_all(&mut db)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let id: String = r.get("replica_id");
                        (names.get(&id).cloned().unwrap_or(id), r.get("applied_at"))
                    })
                    .collect();
            if acks.len() >= replicas.len() || waited.elapsed() > Duration::from_secs(1) {
                break acks;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        for (k, r) in replicas.iter().enumerate() {
            let Some((_, applied)) = acks.iter().find(|(n, _)| *n == r.name) else {
                unacknowledged += 1;
                continue;
            };
            for p in all_probes[k].iter().filter(|p| p.sent_ms > *applied) {
                probes_after_applied += 1;
                if p.status == 200 {
                    accepted_after_applied += 1;
                }
            }
        }
    }
    let elapsed = run_started.elapsed();
    let load_done = load_calls.load(Ordering::Relaxed) - load_before;
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = l.await;
    }

    println!(
        "propagation bench: 3 replicas (separate processes), PostgreSQL, {offboardings} offboardings"
    );
    println!(
        "load: {load_done} brokered calls during the run ({:.0}/s across replicas, {LOAD_WORKERS_PER_REPLICA} workers each); refused as not current: {}",
        load_done as f64 / elapsed.as_secs_f64(),
        load_refused.load(Ordering::Relaxed)
    );
    for (k, r) in replicas.iter().enumerate() {
        let mut v = latencies[k].clone();
        v.sort_by(f64::total_cmp);
        println!(
            "  {}: send → first refusal p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            r.name,
            pct(&v, 0.5),
            pct(&v, 0.99),
            v[v.len() - 1]
        );
    }
    worst_of_three.sort_by(f64::total_cmp);
    println!(
        "  every replica refusing: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&worst_of_three, 0.5),
        pct(&worst_of_three, 0.99),
        worst_of_three[worst_of_three.len() - 1]
    );
    from_entry.sort_by(f64::total_cmp);
    println!(
        "  from the change-log entry's timestamp (in the offboarding transaction, before commit) to every replica refusing: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(&from_entry, 0.5),
        pct(&from_entry, 0.99),
        from_entry[from_entry.len() - 1]
    );
    println!(
        "  probes sent after the replica recorded it applied the revocation: {probes_after_applied}, accepted: {accepted_after_applied}; missing acknowledgements: {unacknowledged}"
    );
    // Warnings after start-up (start-up announces the new key and the turned-off requirements).
    let noteworthy = |l: &&str| {
        (l.contains("WARN") || l.contains("ERROR"))
            && !l.contains("FIRST-LOGIN")
            && !l.contains("master key")
    };
    for r in &replicas {
        for line in r.log_text().lines().filter(noteworthy) {
            println!("  {} log: {line}", r.name);
        }
    }
    assert_eq!(accepted_after_applied, 0);
}
