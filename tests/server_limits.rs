//! What a slow or greedy client can hold: connections that never finish a request head,
//! that dribble one, that sit idle, that wait on a stalled upstream, or that come in a
//! crowd, against a real daemon on raw TCP. The limits do not depend on the database, so
//! these run on SQLite only.

mod common;

use std::time::{Duration, Instant};

use common::{Db, TestApp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_READ: Duration = Duration::from_millis(400);
const IDLE: Duration = Duration::from_millis(1500);
const CAP: usize = 16;

async fn daemon() -> TestApp {
    TestApp::spawn_with(Db::Sqlite, |c| {
        c.server.header_read_timeout = HEADER_READ;
        c.server.idle_timeout = IDLE;
        c.server.request_timeout = Duration::from_millis(800);
        c.server.max_connections = CAP;
        c.broker.listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or `limit` passes); how long it took.
async fn time_to_close(conn: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// Sends one whole request and reads its whole answer, keeping the connection.
async fn round_trip(conn: &mut TcpStream) -> String {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

async fn closed_count(app: &TestApp, reason: &str) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .filter(|l| l.starts_with("staffgate_connections_closed_total") && l.contains(reason))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_or_dribbles_its_head_is_closed() {
    let app = daemon().await;
    let mut silent = TcpStream::connect(addr(&app.base)).await.unwrap();
    let took = time_to_close(&mut silent, Duration::from_secs(5)).await;
    let took = took.expect("a silent connection was held");
    assert!(took >= HEADER_READ - Duration::from_millis(50), "{took:?}");

    // One header byte every 50 ms never completes a head: closed at the header deadline,
    // although bytes keep coming.
    let mut slow = TcpStream::connect(addr(&app.broker_base)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let start = Instant::now();
    let mut closed = false;
    for _ in 0..60 {
        if slow.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut b = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), slow.read(&mut b)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a dribbled head held the connection for 3 s");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(closed_count(&app, "header_read_timeout").await >= 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_may_idle_longer_than_a_header_read_then_is_closed() {
    let app = daemon().await;
    let mut conn = TcpStream::connect(addr(&app.base)).await.unwrap();
    assert!(round_trip(&mut conn).await.starts_with("HTTP/1.1 200"));
    // Idle for twice the header-read timeout: still served.
    tokio::time::sleep(HEADER_READ * 2).await;
    assert!(round_trip(&mut conn).await.starts_with("HTTP/1.1 200"));
    let took = time_to_close(&mut conn, Duration::from_secs(5))
        .await
        .expect("an idle connection was held");
    assert!(took >= IDLE - Duration::from_millis(100), "{took:?}");
    assert!(closed_count(&app, "idle_timeout").await >= 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_connections_is_capped_and_health_comes_back_when_they_time_out() {
    let app = daemon().await;
    let mut crowd = Vec::new();
    for _ in 0..300 {
        crowd.push(TcpStream::connect(addr(&app.base)).await.unwrap());
    }
    // Past the cap each one is closed at once, not queued.
    let mut refused = 0;
    for conn in crowd.iter_mut().skip(CAP) {
        if time_to_close(conn, Duration::from_millis(200))
            .await
            .is_some()
        {
            refused += 1;
        }
    }
    assert!(refused >= 300 - CAP - 8, "only {refused} refused");
    // The broker has a listener (and a cap) of its own, so it is still reachable.
    let health = app.http.get(format!("{}/healthz", app.broker_base));
    assert_eq!(health.send().await.unwrap().status(), 200);
    // Once the held ones time out, the main listener answers again.
    tokio::time::sleep(HEADER_READ + Duration::from_millis(300)).await;
    let health = app.http.get(format!("{}/healthz", app.base));
    assert_eq!(health.send().await.unwrap().status(), 200);
    assert!(closed_count(&app, "connection_limit").await >= refused as u64);
    drop(crowd);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_on_a_stalled_upstream_gets_a_timeout_answer() {
    let app = daemon().await;
    // An upstream that takes connections and never answers.
    let stalled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled_base = format!("http://{}", stalled.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = stalled.accept().await {
            held.push(c);
        }
    });
    app.add_staff("alice", &["support"]).await;
    app.add_desk(&stalled_base).await;
    let (_, token) = app.issue("alice", "desk", json!({})).await;
    let start = Instant::now();
    let resp = app
        .http
        .get(app.broker("desk", "messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_timeout");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_on_its_own_listener_is_nowhere_else_and_serves_nothing_else() {
    let app = daemon().await;
    let up = common::upstream::Upstream::start("s").await;
    app.add_staff("alice", &["support"]).await;
    app.add_desk(&up.base).await;
    let (_, token) = app.issue("alice", "desk", json!({})).await;
    assert_ne!(app.base, app.broker_base);
    let on_main = app
        .http
        .get(format!("{}/broker/desk/messages", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let v: serde_json::Value = on_main.json().await.unwrap();
    assert_eq!(v["error"]["code"], "broker_on_own_listener");
    let brokered = app
        .http
        .get(app.broker("desk", "messages"))
        .bearer_auth(&token);
    assert_eq!(brokered.send().await.unwrap().status(), 200);
    for path in ["/api/v1/staff", "/me", "/login", "/metrics"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.broker_base))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path} on the broker's listener");
    }
    assert_eq!(up.count(), 1);
    app.stop().await;
}
