//! Recovery from storage faults (issue 17): from the moment a fault ends to the first
//! offboarding that succeeds, and to `/readyz` green. Real faults, in-process daemon:
//!
//! 1. SQLite on a 16 MiB tmpfs this bench mounts (root): the disk filled (after emptying
//!    the write-ahead log, so the next write needs space), an offboarding refused with
//!    `storage_full`, then the ballast deleted.
//! 2. PostgreSQL: the `staff` table locked by a second connection while an offboarding
//!    waits on it; then the lock released (the offboarding it held back completes).
//! 3. PostgreSQL: every connection slot taken by the bench and the daemon's own connections
//!    ended, an offboarding refused (`storage_unavailable`), then the slots returned.
//!
//! After each fault ends, a fresh person's offboarding is tried every 10 ms and `/readyz`
//! polled every 10 ms. `cargo bench --bench faults`; under `cargo test` one round each.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::faults::{Tmpfs, fill, truncate_wal};
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

const LIMIT: Duration = Duration::from_secs(30);

async fn ready(app: &TestApp) -> bool {
    app.readyz().await.0 == 200
}

async fn offboard(app: &TestApp, who: &str) -> u16 {
    app.api(
        Method::POST,
        &format!("/staff/{who}/offboard"),
        Some(json!({ "reason": "left" })),
    )
    .await
    .0
}

/// From `since`: until an offboarding of `who` answers 200, and until `/readyz` is green.
async fn recovery(app: &TestApp, who: &str, since: Instant) -> (Duration, Duration) {
    let (mut offboarded, mut readied) = (None, None);
    while offboarded.is_none() || readied.is_none() {
        assert!(since.elapsed() < LIMIT, "no recovery within {LIMIT:?}");
        if readied.is_none() && ready(app).await {
            readied = Some(since.elapsed());
        }
        if offboarded.is_none() && offboard(app, who).await == 200 {
            offboarded = Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (offboarded.unwrap(), readied.unwrap())
}

fn report(what: &str, figures: &[(Duration, Duration)]) {
    let max = |f: fn(&(Duration, Duration)) -> Duration| figures.iter().map(f).max().unwrap();
    let mut off: Vec<_> = figures.iter().map(|f| f.0).collect();
    let mut rdy: Vec<_> = figures.iter().map(|f| f.1).collect();
    off.sort();
    rdy.sort();
    println!(
        "{what}, {} rounds: → offboarding succeeds p50 {:?} max {:?}; → /readyz green p50 {:?} max {:?}",
        figures.len(),
        off[off.len() / 2],
        max(|f| f.0),
        rdy[rdy.len() / 2],
        max(|f| f.1),
    );
}

async fn full_disk(rounds: usize) {
    let Some(disk) = Tmpfs::mount("16m") else {
        return;
    };
    let data = disk.path().join("data");
    let app = TestApp::spawn_with(Db::Sqlite, |c| c.data_dir = data).await;
    let mut figures = Vec::new();
    for i in 0..rounds {
        let (refused, fresh) = (format!("r{i}"), format!("f{i}"));
        app.add_staff(&refused, &[]).await;
        app.add_staff(&fresh, &[]).await;
        truncate_wal(disk.path().join("data/staffgate.db")).await;
        let ballast = disk.path().join("ballast");
        fill(&ballast);
        assert_eq!(
            offboard(&app, &refused).await,
            503,
            "the full disk refused nothing"
        );
        std::fs::remove_file(&ballast).unwrap();
        figures.push(recovery(&app, &fresh, Instant::now()).await);
    }
    report("SQLite, disk full → freed", &figures);
    app.stop().await;
}

async fn table_lock(rounds: usize) {
    let app = TestApp::spawn(Db::Postgres).await;
    let mut figures = Vec::new();
    for i in 0..rounds {
        let (held, fresh) = (format!("h{i}"), format!("f{i}"));
        app.add_staff(&held, &[]).await;
        app.add_staff(&fresh, &[]).await;
        let mut locker = sqlx::PgConnection::connect(&app.pg_url()).await.unwrap();
        sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
        sqlx::query("LOCK TABLE staff IN ACCESS EXCLUSIVE MODE")
            .execute(&mut locker)
            .await
            .unwrap();
        let waiting = {
            let (http, base, key) = (app.http.clone(), app.base.clone(), app.key.clone());
            tokio::spawn(async move {
                http.post(format!("{base}/api/v1/staff/{held}/offboard"))
                    .bearer_auth(key)
                    .json(&json!({ "reason": "left" }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        sqlx::query("COMMIT").execute(&mut locker).await.unwrap();
        let released = Instant::now();
        let answered = waiting.await.unwrap().unwrap();
        let held_back = released.elapsed();
        assert_eq!(answered, 200);
        let (off, rdy) = recovery(&app, &fresh, released).await;
        figures.push((held_back.min(off), rdy));
    }
    report("PostgreSQL, staff table locked → released", &figures);
    app.stop().await;
}

/// Takes every free connection slot of the server (the bench's own connections go to the
/// `postgres` database, so ending the daemon's does not end them).
async fn take_slots(admin: &str, hogs: &mut Vec<sqlx::PgConnection>) {
    loop {
        match sqlx::PgConnection::connect(admin).await {
            Ok(c) => hogs.push(c),
            Err(_) => return,
        }
    }
}

async fn connection_slots(rounds: usize) {
    let app = TestApp::spawn(Db::Postgres).await;
    let admin = common::postgres_admin_url();
    let db = app.pg_name.clone().unwrap();
    let mut figures = Vec::new();
    for i in 0..rounds {
        let (refused, fresh) = (format!("s{i}"), format!("f{i}"));
        app.add_staff(&refused, &[]).await;
        app.add_staff(&fresh, &[]).await;
        let mut hogs = Vec::new();
        take_slots(&admin, &mut hogs).await;
        // End the daemon's connections; it reconnects, racing the bench for the slots.
        for _ in 0..5 {
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&db)
            .execute(&mut hogs[0])
            .await
            .unwrap();
            take_slots(&admin, &mut hogs).await;
        }
        let status = offboard(&app, &refused).await;
        assert_eq!(
            status, 503,
            "with no slot left the offboarding was not refused"
        );
        drop(hogs);
        figures.push(recovery(&app, &fresh, Instant::now()).await);
    }
    report("PostgreSQL, connection slots taken → returned", &figures);
    app.stop().await;
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let rounds = if full { 10 } else { 1 };
    full_disk(rounds).await;
    table_lock(rounds).await;
    connection_slots(rounds).await;
}
