//! Active Directory at scale, end to end, with the real daemon binary and a real Samba DC:
//! 1. full import of 10,000 users in 200 groups: time and the daemon's peak RSS;
//! 2. directory change → brokered token refused, in poll mode at a 2 s interval, for 50
//!    changes of each kind (disable, group removal, natural expiry, deletion): p50/p99;
//! 3. bytes read per idle poll, through a counting TCP proxy.
//!
//! `cargo bench --bench ad_sync`; under `cargo test` it runs a 300-user smoke with 5 changes.
//! Needs root and Samba (see scripts/test.sh): the DC's ports are fixed at 389/636.

#[path = "../tests/common/pki.rs"]
mod pki;
#[path = "../tests/common/samba.rs"]
#[allow(dead_code)]
mod samba;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};

const GROUPS: usize = 200;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// A TCP proxy that counts the bytes of each connection once it ends.
async fn counting_proxy(target: &'static str) -> (u16, Arc<AtomicU64>, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (bytes, conns) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (b, c) = (bytes.clone(), conns.clone());
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (b, c) = (b.clone(), c.clone());
            tokio::spawn(async move {
                let Ok(mut out) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                if let Ok((up, down)) = tokio::io::copy_bidirectional(&mut inbound, &mut out).await
                {
                    b.fetch_add(up + down, Ordering::SeqCst);
                }
                c.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (port, bytes, conns)
}

struct Daemon {
    child: Child,
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(dir: &std::path::Path, source_toml: &str) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("staffgate.toml");
        std::fs::write(
            &config,
            format!("[ldap]\n{source_toml}").replace("[corp]", "[ldap.corp]"),
        )
        .unwrap();
        let key = staffgate::apikeys::generate_text().unwrap();
        let key = key.expose_secret().to_owned();
        let mut command = Command::new(env!("CARGO_BIN_EXE_staffgate"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STAFFGATE_")) {
            command.env_remove(name);
        }
        let child = command
            .args(["serve", "--config"])
            .arg(&config)
            .env("STAFFGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("STAFFGATE_DATA_DIR", dir.join("data"))
            .env(
                "STAFFGATE_POLICIES",
                concat!(env!("CARGO_MANIFEST_DIR"), "/policies"),
            )
            .env("STAFFGATE_BOOTSTRAP_ADMIN_KEY", &key)
            .env("STAFFGATE_LOG", "warn")
            .env("STAFFGATE_REQUIRE_TOTP", "false")
            .env("STAFFGATE_REQUIRE_NDA", "false")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("daemon.log")).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            key,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn refused(&self, token: &str) -> bool {
        let resp = self
            .http
            .get(format!("{}/broker/desk/messages", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        // The upstream does not exist: an accepted token gets 502, a refused one 401/403.
        matches!(resp.status().as_u16(), 401 | 403)
    }

    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb / 1024.0
    }
}

fn load(dc: &samba::Samba, ou: &samba::Ou, users: usize, measured: usize) {
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let mut ldif = String::new();
        for i in chunk {
            let sam = format!("u{i:05}");
            ldif.push_str(&format!(
                "dn: {}\nchangetype: add\nobjectClass: user\nsAMAccountName: {sam}\n\
                 mail: {sam}@example.test\nuserAccountControl: 544\n\n",
                ou.user_dn(&sam)
            ));
        }
        dc.modify(&ldif);
    }
    let mut ldif = String::new();
    for g in 0..GROUPS {
        let name = if g == 0 {
            "support".to_owned()
        } else {
            format!("group{g:03}")
        };
        ldif.push_str(&format!(
            "dn: {}\nchangetype: add\nobjectClass: group\nsAMAccountName: {name}-bench\n",
            ou.group_dn(&name)
        ));
        // Each user in one group; the measured ones in `support`.
        for i in (0..users).filter(|i| {
            if g == 0 {
                *i < measured
            } else {
                i % GROUPS == g
            }
        }) {
            ldif.push_str(&format!("member: {}\n", ou.user_dn(&format!("u{i:05}"))));
        }
        ldif.push('\n');
    }
    dc.modify(&ldif);
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (users, per_kind) = if full { (10_000, 50) } else { (300, 5) };
    let dc = samba::dc();
    let ou = dc.ou("bench");
    let t = Instant::now();
    load(dc, &ou, users, 4 * per_kind);
    println!(
        "ldapadd of {users} users in {GROUPS} groups: {:?}",
        t.elapsed()
    );
    let (port, bytes, conns) = counting_proxy("127.0.0.1:389").await;
    let toml = ou
        .source_toml("poll_interval = \"2s\"\nfull_sync_interval = \"1h\"\npage_size = 1000\n")
        .replace("127.0.0.1:389", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let daemon = Daemon::start(dir.path(), &toml);
    let status = loop {
        let v = daemon
            .call(reqwest::Method::GET, "/sync/status", None)
            .await;
        if !v["sources"][0]["last_sync"].is_null() {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no sync: {}",
            std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let last = &status["sources"][0]["last_sync"];
    assert_eq!(last["joiners"].as_u64(), Some(users as u64), "{status}");
    println!(
        "full import: {users} users in {:.2} s end to end; sync itself {} ms, reading {} ms; daemon peak RSS {:.0} MiB",
        started.elapsed().as_secs_f64(),
        last["duration_ms"],
        last["search_ms"],
        daemon.peak_rss_mib()
    );

    // Idle polls: nothing written to the DC meanwhile.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let usn = dc.highest_usn();
    let (b0, c0) = (bytes.load(Ordering::SeqCst), conns.load(Ordering::SeqCst));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (b1, c1) = (bytes.load(Ordering::SeqCst), conns.load(Ordering::SeqCst));
    assert_eq!(
        dc.highest_usn(),
        usn,
        "the DC was written to during the idle window"
    );
    println!(
        "idle poll: {} bytes per poll over {} polls ({users} users in scope)",
        (b1 - b0) / (c1 - c0).max(1),
        c1 - c0
    );

    daemon
        .call(
            reqwest::Method::PUT,
            "/channels/desk",
            Some(json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9",
                         "tags": ["support"], "rules": ["GET /messages read"] })),
        )
        .await;
    daemon
        .call(
            reqwest::Method::PUT,
            "/channels/desk/secret",
            Some(json!({ "secret": "s3cret" })),
        )
        .await;
    let mut tokens = Vec::new();
    for i in 0..4 * per_kind {
        let sam = format!("u{i:05}");
        daemon
            .call(
                reqwest::Method::POST,
                &format!("/staff/{sam}/activate"),
                Some(json!({ "reason": "bench" })),
            )
            .await;
        let v = daemon
            .call(
                reqwest::Method::POST,
                "/tokens",
                Some(json!({ "staff": sam, "channel": "desk" })),
            )
            .await;
        tokens.push((sam, v["token"].as_str().expect("token").to_owned()));
    }
    let kinds = ["disable", "group removal", "expiry", "deletion"];
    for (k, kind) in kinds.iter().enumerate() {
        let batch = &tokens[k * per_kind..(k + 1) * per_kind];
        // Changes are spread over the poll interval; expiry moments too (set ahead).
        let mut changed_at: Vec<Option<Instant>> = vec![None; per_kind];
        if *kind == "expiry" {
            let base = chrono::Utc::now().timestamp_millis() + 5_000;
            let mut ldif = String::new();
            for (j, (sam, _)) in batch.iter().enumerate() {
                let at_ms = base + j as i64 * 150;
                let filetime = (at_ms / 1000 + 11_644_473_600) * 10_000_000;
                ldif.push_str(&format!(
                    "dn: {}\nchangetype: modify\nreplace: accountExpires\naccountExpires: {filetime}\n-\n\n",
                    ou.user_dn(sam)
                ));
                let now = chrono::Utc::now().timestamp_millis();
                // Whole seconds: AD's FILETIME is kept at the second here.
                let due = (at_ms / 1000) * 1000 - now;
                changed_at[j] = Some(Instant::now() + Duration::from_millis(due.max(0) as u64));
            }
            dc.modify(&ldif);
        }
        let mut latencies: Vec<Option<Duration>> = vec![None; per_kind];
        let mut next = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while latencies.iter().any(Option::is_none) {
            if *kind != "expiry" && next < per_kind {
                let sam = &batch[next].0;
                match *kind {
                    "disable" => ou.disable(sam),
                    "group removal" => ou.remove_member("support", sam),
                    _ => ou.delete(sam),
                }
                changed_at[next] = Some(Instant::now());
                next += 1;
            }
            for (j, (_, token)) in batch.iter().enumerate() {
                if latencies[j].is_none()
                    && let Some(at) = changed_at[j]
                    && Instant::now() >= at
                    && daemon.refused(token).await
                {
                    latencies[j] = Some(at.elapsed());
                }
            }
            if Instant::now() >= deadline {
                let log =
                    std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
                // The sync's lines, not the broker's per-call warnings.
                let tail: Vec<&str> = log
                    .lines()
                    .rev()
                    .filter(|l| !l.contains("staffgate::broker"))
                    .take(40)
                    .collect();
                panic!(
                    "{kind}: tokens still accepted after 60 s; the daemon's log ends:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let l: Vec<Duration> = latencies.into_iter().flatten().collect();
        println!(
            "{kind} -> refused, {} changes at a 2 s poll: p50 {:?}, p99 {:?}, max {:?}",
            l.len(),
            pct(l.clone(), 0.50),
            pct(l.clone(), 0.99),
            l.iter().max().unwrap()
        );
    }
}
