//! Directory sync at scale, end to end, with the real daemon binary and a real slapd:
//! 1. full sync of 100,000 users in 500 groups (loaded with slapadd): time, users/s, and the
//!    daemon's peak RSS (VmHWM);
//! 2. persist mode: a user locked in slapd → their brokered token refused, over 50 changes.
//!
//! `cargo bench --bench ldap_sync` (full size; SQLite, or PostgreSQL with
//! STAFFGATE_BENCH_DATABASE_URL); under `cargo test` it runs a 2,000-user smoke.

#[path = "../tests/common/slapd.rs"]
#[allow(dead_code)]
mod slapd;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use slapd::{SUFFIX, Slapd};

const GROUPS: usize = 500;
const GROUPS_PER_USER: usize = 3;

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
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
    fn start(dir: &std::path::Path, ldap: &Slapd) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("staffgate.toml");
        std::fs::write(
            &config,
            format!("[ldap]\n{}", ldap.source_toml("mode = \"persist\"\n"))
                .replace("[corp]", "[ldap.corp]"),
        )
        .unwrap();
        let key = staffgate::apikeys::generate_text().unwrap();
        let key = key.expose_secret().to_owned();
        let mut command = Command::new(env!("CARGO_BIN_EXE_staffgate"));
        // The daemon refuses STAFFGATE_* variables it does not know, like the test suite's.
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STAFFGATE_")) {
            command.env_remove(name);
        }
        if let Ok(url) = std::env::var("STAFFGATE_BENCH_DATABASE_URL") {
            command.env("STAFFGATE_DATABASE_URL", url);
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
            // Measures sync and revocation; first login is exercised by its own tests.
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

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.ok()?;
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.ok()
    }

    /// Peak resident memory of the daemon, in MiB.
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

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (users, changes) = if full { (100_000, 50) } else { (2_000, 5) };
    let dir = tempfile::tempdir().unwrap();
    let ldif = dir.path().join("directory.ldif");
    slapd::write_bulk_ldif(&ldif, users, GROUPS, GROUPS_PER_USER);
    let t = Instant::now();
    let ldap = Slapd::start_bulk(&ldif);
    println!(
        "slapadd + start of {users} users in {GROUPS} groups: {:?}",
        t.elapsed()
    );

    // 1. Full sync: from daemon start to the refresh applied (persist mode's initial refresh
    //    is the full sync), on the embedded SQLite.
    let started = Instant::now();
    let mut daemon = Daemon::start(dir.path(), &ldap);
    let limit = Duration::from_secs(if full { 600 } else { 120 });
    let status = loop {
        if let Some(v) = daemon
            .call(reqwest::Method::GET, "/sync/status", None)
            .await
            && !v["sources"][0]["last_sync"].is_null()
        {
            break v;
        }
        let log = || std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
        if let Ok(Some(exit)) = daemon.child.try_wait() {
            panic!("the daemon exited ({exit}): {}", log());
        }
        assert!(started.elapsed() < limit, "sync did not finish: {}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = started.elapsed();
    let last = &status["sources"][0]["last_sync"];
    assert_eq!(last["joiners"].as_u64(), Some(users as u64), "{status}");
    println!(
        "full sync: {users} users in {:.2} s end to end ({:.0} users/s); sync itself {} ms, of which reading the directory {} ms; daemon peak RSS {:.0} MiB",
        took.as_secs_f64(),
        users as f64 / took.as_secs_f64(),
        last["duration_ms"],
        last["search_ms"],
        daemon.peak_rss_mib()
    );

    // 2. Persist mode: lock a user in slapd, time until their token is refused.
    let upstream_less = json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9", "tags": ["support"],
                                "rules": ["GET /messages read"] });
    daemon
        .call(reqwest::Method::PUT, "/channels/desk", Some(upstream_less))
        .await;
    daemon
        .call(
            reqwest::Method::PUT,
            "/channels/desk/secret",
            Some(json!({ "secret": "s3cret" })),
        )
        .await;
    // group000 → support would need a policy; leads-read-everything needs team-leads. Use a
    // policy-free path: give each measured user the "support" group by directory.
    let mut latencies = Vec::new();
    for i in 0..changes {
        let uid = format!("user{i:06}");
        let dn = format!("uid={uid},ou=people,{SUFFIX}");
        if i == 0 {
            ldap.add(&format!("dn: cn=support,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: support\nmember: {dn}\n\n"));
        } else {
            ldap.modify(&format!("dn: cn=support,ou=groups,{SUFFIX}\nchangetype: modify\nadd: member\nmember: {dn}\n\n"), false);
        }
        // Wait for the group change to arrive, then activate and issue.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = daemon
                .call(reqwest::Method::GET, &format!("/staff/{uid}"), None)
                .await
                .unwrap();
            if v["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == "support")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "group change never arrived for {uid}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        daemon
            .call(
                reqwest::Method::POST,
                &format!("/staff/{uid}/activate"),
                Some(json!({"reason": "bench"})),
            )
            .await;
        let issued = daemon
            .call(
                reqwest::Method::POST,
                "/tokens",
                Some(json!({ "staff": uid, "channel": "desk" })),
            )
            .await
            .unwrap();
        let token = issued["token"].as_str().unwrap().to_owned();
        let url = format!("{}/broker/desk/messages", daemon.base);
        let refused = |s: u16| s == 401;
        let first = daemon
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert!(!refused(first), "token refused before the change");

        let t = Instant::now();
        ldap.modify(
            &format!("dn: {dn}\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n\n"),
            false,
        );
        loop {
            let s = daemon
                .http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            if refused(s) {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "token never refused");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(t.elapsed());
    }
    println!(
        "directory change -> token refused, persist mode, {} changes over {users} users: p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        pct(latencies.clone(), 0.5),
        pct(latencies.clone(), 0.99),
        latencies.iter().max().unwrap()
    );
}
