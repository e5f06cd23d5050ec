//! Replicas as separate `staffgate serve` processes sharing one PostgreSQL database.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_staffgate");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Shared by every replica of one test: a database, a data directory (master key), the
/// policies and an admin key.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pub db_name: Option<String>,
    pub key: String,
    pub http: reqwest::Client,
}

/// One `staffgate serve` process.
pub struct Replica {
    pub name: String,
    pub url: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Cluster {
    /// A fresh database on the machine's PostgreSQL.
    pub async fn new() -> Cluster {
        let (name, url) = super::create_pg_database().await;
        let mut c = Cluster::on(url);
        c.db_name = Some(name);
        c
    }

    /// A cluster on a database the test made itself.
    pub fn on(db_url: String) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        super::copy_dir(&super::policies_dir(), &dir.path().join("policies"));
        use secrecy::ExposeSecret;
        let key = staffgate::apikeys::generate_text()
            .unwrap()
            .expose_secret()
            .to_owned();
        Cluster {
            dir,
            db_url,
            db_name: None,
            key,
            http: reqwest::Client::new(),
        }
    }

    /// Starts replica `name` on the cluster's database (or `db_url`), with `env` added.
    pub async fn start(&self, name: &str, db_url: Option<&str>, env: &[(&str, &str)]) -> Replica {
        let port = free_port();
        let log = self.dir.path().join(format!("{name}.log"));
        let mut command = Command::new(BIN);
        for (var, _) in std::env::vars().filter(|(n, _)| n.starts_with("STAFFGATE_")) {
            command.env_remove(var);
        }
        command
            .arg("serve")
            .current_dir(self.dir.path())
            .env("STAFFGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("STAFFGATE_DATA_DIR", self.dir.path().join("data"))
            .env("STAFFGATE_POLICIES", self.dir.path().join("policies"))
            .env("STAFFGATE_DATABASE_URL", db_url.unwrap_or(&self.db_url))
            .env("STAFFGATE_BOOTSTRAP_ADMIN_KEY", &self.key)
            .env("STAFFGATE_REPLICA_NAME", name)
            .env("STAFFGATE_REQUIRE_TOTP", "false")
            .env("STAFFGATE_REQUIRE_NDA", "false")
            .env("STAFFGATE_LOG", "info");
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let r = Replica {
            name: name.into(),
            url,
            log,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = self.http.get(format!("{}/readyz", r.url)).send().await
                && resp.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not start: {}",
                r.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        r
    }

    pub async fn api(
        &self,
        r: &Replica,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", r.url))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                (status, resp.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({ "transport": e.to_string() })),
        }
    }

    /// Like [`Self::api`], asserting the status.
    pub async fn ok(
        &self,
        r: &Replica,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let (status, v) = self.api(r, method, path, body).await;
        assert_eq!(status, want, "{path}: {v}");
        v
    }

    pub async fn add_staff(&self, r: &Replica, username: &str) {
        let body = json!({ "email": format!("{username}@example.com"), "name": username, "groups": ["support"] });
        self.ok(
            r,
            reqwest::Method::PUT,
            &format!("/staff/{username}"),
            Some(body),
            200,
        )
        .await;
    }

    pub async fn add_channel(&self, r: &Replica, id: &str, upstream: &str) {
        let body = json!({ "kind": "bearer", "upstream": upstream, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] });
        self.ok(
            r,
            reqwest::Method::PUT,
            &format!("/channels/{id}"),
            Some(body),
            200,
        )
        .await;
        let secret = json!({ "secret": "upstream-secret" });
        self.ok(
            r,
            reqwest::Method::PUT,
            &format!("/channels/{id}/secret"),
            Some(secret),
            200,
        )
        .await;
    }

    pub async fn issue(&self, r: &Replica, staff: &str, channel: &str) -> String {
        let body = json!({ "staff": staff, "channel": channel });
        let v = self
            .ok(r, reqwest::Method::POST, "/tokens", Some(body), 201)
            .await;
        v["token"].as_str().unwrap().to_owned()
    }

    /// A channel `desk` reaching `upstream`, and `people` each holding a token for it.
    pub async fn desk(&self, r: &Replica, upstream: &str, people: &[&str]) -> Vec<String> {
        self.add_channel(r, "desk", upstream).await;
        let mut tokens = Vec::new();
        for p in people {
            self.add_staff(r, p).await;
            tokens.push(self.issue(r, p, "desk").await);
        }
        tokens
    }

    /// Every `staff.offboard` audit entry for `who`.
    pub async fn offboard_entries(&self, r: &Replica, who: &str) -> Vec<Value> {
        let mut after = 0;
        let mut found = Vec::new();
        loop {
            let path = format!("/audit?after={after}&limit=1000");
            let page = self.ok(r, reqwest::Method::GET, &path, None, 200).await;
            let entries = page.as_array().cloned().unwrap_or_default();
            let Some(last) = entries.last() else {
                return found;
            };
            after = last["seq"].as_i64().unwrap();
            found.extend(
                entries
                    .into_iter()
                    .filter(|e| e["event"] == "staff.offboard" && e["subject"] == who),
            );
        }
    }

    /// Who runs `job`, by replica name, as `staffgate status` reports it.
    pub async fn runner_of(&self, asked: &Replica, job: &str) -> Option<String> {
        let status = self
            .ok(asked, reqwest::Method::GET, "/status", None, 200)
            .await;
        status["jobs"]
            .as_array()?
            .iter()
            .find(|j| j["job"] == job)
            .and_then(|j| j["holder"].as_str())
            .map(|h| h.split(' ').next().unwrap_or_default().to_owned())
    }

    /// One brokered call: the status (0 when the connection failed) and the error code.
    pub async fn call(&self, r: &Replica, channel: &str, token: &str) -> (u16, Option<String>) {
        let sent = self
            .http
            .get(format!("{}/broker/{channel}/x", r.url))
            .bearer_auth(token)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (status, body["error"]["code"].as_str().map(str::to_owned))
            }
            Err(_) => (0, None),
        }
    }

    /// Polls until a brokered call on `r` answers `want`; how long that took.
    pub async fn until(
        &self,
        r: &Replica,
        channel: &str,
        token: &str,
        want: u16,
        limit: Duration,
    ) -> Duration {
        let started = Instant::now();
        loop {
            let (status, _) = self.call(r, channel, token).await;
            if status == want {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{} never answered {want} (last {status}); its log:\n{}",
                r.name,
                r.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The status `/readyz` answers on `r`.
    pub async fn readyz(&self, r: &Replica) -> u16 {
        let resp = self.http.get(format!("{}/readyz", r.url)).send().await;
        resp.map(|r| r.status().as_u16()).unwrap_or(0)
    }

    /// Runs the real CLI against `r`; its exit code and standard output.
    pub fn cli(&self, r: &Replica, args: &[&str]) -> (i32, String) {
        let out = Command::new(BIN)
            .args(args)
            .env("STAFFGATE_URL", &r.url)
            .env("STAFFGATE_ADMIN_KEY", &self.key)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(name) = self.db_name.take() {
            let admin = super::postgres_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut c)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

impl Replica {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// SIGKILL: no shutdown, no release of anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let status = c.wait().unwrap();
            assert!(
                status.success(),
                "{} exited with {status}: {}",
                self.name,
                self.log_text()
            );
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}
