//! The console at scale: 100,000 staff and 50 channels, on SQLite and PostgreSQL.
//! 1. the People page (first page, a search, a group filter, a page deep in the list) and
//!    the access review (first page, one channel, unused for 30 days): p50/p99 per page,
//!    each page fetched over HTTP by a signed-in admin, as a browser would;
//! 2. the CSV export of the whole matrix: time, size, and the process's peak RSS growth
//!    while it streams (the peak is reset just before, through `/proc/self/clear_refs`).
//!
//! `cargo bench --bench console` (100,000 people); under `cargo test`, a 300-person smoke.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Db, TestApp};
use futures_util::StreamExt;
use serde_json::json;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// Resident set now and its peak, in MiB, from /proc/self/status.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Writes the staff, their groups, live tokens and use straight into the database: the
/// import path is measured by the sync benches; this one measures reading.
async fn seed(app: &TestApp, people: usize) -> String {
    let store =
        staffgate::store::Store::open(app.config.database_url.as_ref(), &app.config.data_dir)
            .await
            .unwrap();
    let pool = store.pool();
    let now = staffgate::domain::time::now_millis();
    for chunk in (0..people).collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| {
                let status = if i % 10 == 0 { "pending" } else { "active" };
                format!("('user-{i:06}', 'user{i}@example.org', 'Person {i}', '{status}', 0, 'ldap:corp', {now}, {now})")
            })
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO staff (username, email, display_name, status, epoch, source, created_at, updated_at) VALUES {}",
            rows.join(",")
        )))
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO staff_groups (staff_id, group_name) SELECT id, 'support' FROM staff WHERE id % 2 = 0")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO staff_groups (staff_id, group_name) SELECT id, 'team-' || CAST(id % 20 AS TEXT) FROM staff")
        .execute(pool)
        .await
        .unwrap();
    // One live token for every tenth person (hashes are bytes: bound), a use for every fifth.
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM staff WHERE id % 10 = 0")
        .fetch_all(pool)
        .await
        .unwrap();
    for chunk in ids.chunks(500) {
        let mut q = String::from(
            "INSERT INTO tokens (hash, staff_id, channel_id, actions, epoch, issued_at, expires_at, issued_by) VALUES ",
        );
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(n, id)| {
                format!(
                    "(${}, {id}, 'ch-{}', 'read', 0, {now}, {}, 'bench')",
                    n + 1,
                    id % 50,
                    now + 3_600_000
                )
            })
            .collect();
        q.push_str(&rows.join(","));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(q));
        for id in chunk {
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&id.to_le_bytes());
            query = query.bind(hash.to_vec());
        }
        query.execute(pool).await.unwrap();
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO activity (at, token_id, staff_id, channel_id, action, status, latency_us, bytes_in, bytes_out) \
         SELECT {now} - id * 1000, 0, id, 'ch-' || CAST(id % 50 AS TEXT), 'read', 200, 100, 10, 10 FROM staff WHERE id % 5 = 0"
    )))
    .execute(pool)
    .await
    .unwrap();
    // The admin, signed in with TOTP done.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO staff (username, email, display_name, status, epoch, source, created_at, updated_at) \
         VALUES ('bench-admin', 'admin@example.org', 'Admin', 'active', 0, 'manual', {now}, {now})"
    )))
    .execute(pool)
    .await
    .unwrap();
    let admin: i64 = sqlx::query_scalar("SELECT id FROM staff WHERE username = 'bench-admin'")
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO staff_groups (staff_id, group_name) VALUES ($1, 'it-admins')")
        .bind(admin)
        .execute(pool)
        .await
        .unwrap();
    let (session, hash) = staffgate::domain::credential::generate(
        staffgate::domain::credential::CredentialKind::Session,
    )
    .unwrap();
    sqlx::query(
        "INSERT INTO sessions (hash, staff_id, created_at, expires_at, last_seen_at, address, user_agent, totp_at) \
         VALUES ($1, $2, $3, $4, $3, '127.0.0.1', 'bench', $3)",
    )
    .bind(hash.to_vec())
    .bind(admin)
    .bind(now)
    .bind(now + 3_600_000)
    .execute(pool)
    .await
    .unwrap();
    use secrecy::ExposeSecret;
    session.expose_secret().to_owned()
}

async fn timed(app: &TestApp, session: &str, path: &str, n: usize) -> (Duration, Duration, usize) {
    let mut took = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let started = Instant::now();
        let resp = app
            .http
            .get(format!("{}{path}", app.base))
            .header("cookie", format!("staffgate_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        size = resp.bytes().await.unwrap().len();
        took.push(started.elapsed());
    }
    (pct(&mut took, 0.5), pct(&mut took, 0.99), size)
}

async fn run(db: Db, people: usize, rounds: usize) {
    let app = TestApp::spawn_with(db, |c| {
        c.signin.plain_http = true;
        c.console =
            staffgate::config::console::parse(&toml::toml! { admin = ["it-admins"] }.into())
                .unwrap();
    })
    .await;
    for i in 0..50 {
        app.add_channel(
            &format!("ch-{i}"),
            json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
            "s",
        )
        .await;
    }
    let started = Instant::now();
    let session = seed(&app, people).await;
    println!(
        "{db:?}: seeded {people} people in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let deep = format!("/console/people?after=user-{:06}", people * 9 / 10);
    let pages = [
        "/console/people",
        "/console/people?q=user-0421",
        "/console/people?group=team-7",
        deep.as_str(),
        "/console/access",
        "/console/access?channel=ch-7",
        "/console/access?unused=30",
    ];
    for path in pages {
        let (p50, p99, size) = timed(&app, &session, path, rounds).await;
        println!(
            "{db:?} {path}: p50 {:.1} ms, p99 {:.1} ms ({size} bytes, {rounds} requests)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    if std::env::args().any(|a| a == "--pages-only") {
        app.stop().await;
        return;
    }
    let (before, _) = rss();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let resp = app
        .http
        .get(format!("{}/console/access.csv", app.base))
        .header("cookie", format!("staffgate_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (mut bytes, mut lines) = (0usize, 0usize);
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let (_, peak) = rss();
    println!(
        "{db:?} CSV of the whole matrix: {} rows, {:.1} MiB in {:.1} s; RSS {before} MiB before, peak {peak} MiB while streaming (+{} MiB)",
        lines - 1,
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64(),
        peak.saturating_sub(before)
    );
    app.stop().await;
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (people, rounds) = if full { (100_000, 200) } else { (300, 3) };
    run(Db::Sqlite, people, rounds).await;
    run(Db::Postgres, people, rounds).await;
}
