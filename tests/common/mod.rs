//! Test harness: a real daemon per test (port 0, own data dir, own database) and a real
//! upstream HTTP server that records exactly what it received.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod canaille;
pub mod chromium;
pub mod clients;
pub mod faults;
pub mod first_login;
pub mod oidc;
pub mod peers;
pub mod pki;
pub mod process;
pub mod reflector;
pub mod replica_pair;
pub mod samba;
pub mod slapd;
pub mod upstream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::Connection;
use staffgate::app::Application;
use staffgate::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    /// Where brokered calls go: `base`, or the broker's own listener (`broker.listen`).
    pub broker_base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub pg_name: Option<String>,
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("STAFFGATE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn create_pg_database() -> (String, String) {
    let name = unique("sg_test");
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL must answer for the tests (see README)");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = match admin.rsplit_once('/') {
        Some((root, _)) => format!("{root}/{name}"),
        None => panic!("bad STAFFGATE_TEST_POSTGRES"),
    };
    (name, url)
}

pub async fn drop_pg_database(name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

pub fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Copies a directory tree (the shipped policies, with `nda/`).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Copies the shipped policies into the test's own directory, so a test may edit them.
fn own_policies(dir: &std::path::Path) -> PathBuf {
    let target = dir.join("policies");
    copy_dir(&policies_dir(), &target);
    target
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            policies: own_policies(dir.path()),
            activity_flush: std::time::Duration::from_millis(50),
            ..Config::default()
        };
        config.broker.upstream_timeout = std::time::Duration::from_secs(5);
        // Broker, offboarding and directory tests issue tokens directly; the first-login
        // tests turn these back on.
        config.compliance.require_totp = false;
        config.compliance.require_nda = false;
        let key = staffgate::apikeys::generate_text().unwrap();
        use secrecy::ExposeSecret;
        let key_text = key.expose_secret().to_owned();
        config.bootstrap_admin_key = Some(key);
        let mut pg_name = None;
        if db == Db::Postgres {
            let (name, url) = create_pg_database().await;
            config.database_url = Some(SecretString::from(url));
            pg_name = Some(name);
        }
        tweak(&mut config);
        let ((base, broker_base), tx, server) = Self::serve(config.clone()).await;
        TestApp {
            base,
            broker_base,
            key: key_text,
            http: reqwest::Client::new(),
            dir,
            db,
            pg_name,
            config,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    async fn serve(
        config: Config,
    ) -> (
        (String, String),
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let app = Application::build(config).await.expect("daemon builds");
        let base = format!("http://{}", app.local_addr());
        let broker_base = app
            .broker_addr()
            .map_or_else(|| base.clone(), |a| format!("http://{a}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        ((base, broker_base), tx, server)
    }

    /// Stops the daemon and starts it again on the same data and database.
    pub async fn restart(&mut self) {
        self.halt().await;
        let ((base, broker_base), tx, server) = Self::serve(self.config.clone()).await;
        self.base = base;
        self.broker_base = broker_base;
        self.shutdown = Some(tx);
        self.server = Some(server);
    }

    /// Stops the daemon, keeping its data, until `restart`.
    pub async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s).await;
        }
    }

    pub fn policies(&self) -> PathBuf {
        self.dir.path().join("policies")
    }

    /// Calls the admin API with the bootstrap admin key.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.api_as(&self.key.clone(), method, path, body).await
    }

    pub async fn api_as(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn add_staff(&self, username: &str, groups: &[&str]) {
        let body = json!({ "email": format!("{username}@example.com"), "name": username, "groups": groups });
        let (status, v) = self
            .api(
                reqwest::Method::PUT,
                &format!("/staff/{username}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    pub async fn add_channel(&self, id: &str, body: Value, secret: &str) {
        let (status, v) = self
            .api(reqwest::Method::PUT, &format!("/channels/{id}"), Some(body))
            .await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = self
            .api(
                reqwest::Method::PUT,
                &format!("/channels/{id}/secret"),
                Some(json!({ "secret": secret })),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    pub async fn issue(&self, staff: &str, channel: &str, extra: Value) -> (i64, String) {
        let mut body = json!({ "staff": staff, "channel": channel });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, v) = self.api(reqwest::Method::POST, "/tokens", Some(body)).await;
        assert_eq!(status, 201, "{v}");
        (
            v["id"].as_i64().unwrap(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn offboard(&self, staff: &str) -> Value {
        let (status, v) = self
            .api(
                reqwest::Method::POST,
                &format!("/staff/{staff}/offboard"),
                Some(json!({ "reason": "left the company" })),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// One brokered call with a bearer token: the status and the error code, if refused.
    pub async fn call(
        &self,
        method: reqwest::Method,
        channel: &str,
        rest: &str,
        token: &str,
    ) -> (u16, Option<String>) {
        // A pooled connection the daemon closed (after a response it cut mid-body because a
        // revocation landed) fails before any answer; one fresh try is the honest retry.
        let mut attempt = 0;
        let resp = loop {
            let sent = self
                .http
                .request(method.clone(), self.broker(channel, rest))
                .bearer_auth(token)
                .send()
                .await;
            match sent {
                Ok(r) => break r,
                Err(e) if attempt < 2 && e.is_request() => attempt += 1,
                Err(e) => panic!("brokered call failed: {e}"),
            }
        };
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body["error"]["code"].as_str().map(str::to_owned))
    }

    /// A `desk` channel (bearer, open to `support`) in front of `upstream`, with the secret
    /// `the-real-secret`.
    pub async fn add_desk(&self, upstream: &str) {
        self.add_channel(
            "desk",
            json!({ "kind": "bearer", "upstream": upstream, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
            "the-real-secret",
        )
        .await;
    }

    /// The PostgreSQL URL of this test's database.
    pub fn pg_url(&self) -> String {
        use secrecy::ExposeSecret;
        self.config
            .database_url
            .as_ref()
            .expect("a PostgreSQL test")
            .expose_secret()
            .to_owned()
    }

    /// The daemon's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// `/readyz`: the status and the body.
    pub async fn readyz(&self) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Runs the real `staffgate` binary against this daemon; returns its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_staffgate"))
            .args(args)
            .env("STAFFGATE_URL", &self.base)
            .env("STAFFGATE_ADMIN_KEY", &self.key)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    pub fn broker(&self, channel: &str, rest: &str) -> String {
        format!("{}/broker/{channel}/{rest}", self.broker_base)
    }

    /// Every stored byte of the database, as text, for "is the secret in clear anywhere" checks.
    pub async fn database_dump(&self) -> Vec<u8> {
        match self.db {
            Db::Sqlite => {
                let mut all = Vec::new();
                for name in ["staffgate.db", "staffgate.db-wal"] {
                    if let Ok(bytes) = std::fs::read(self.dir.path().join("data").join(name)) {
                        all.extend(bytes);
                    }
                }
                all
            }
            Db::Postgres => {
                let admin = postgres_admin_url();
                let root = admin.rsplit_once('/').unwrap().0;
                let url = format!("{root}/{}", self.pg_name.as_ref().unwrap());
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let mut all = Vec::new();
                let tables = [
                    "staff",
                    "staff_groups",
                    "channels",
                    "tokens",
                    "api_keys",
                    "sessions",
                    "offboardings",
                    "activity",
                    "audit_log",
                    "audit_head",
                    "sync_sources",
                    "sync_plans",
                    "login_failures",
                ];
                for t in tables {
                    let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT row_to_json(x)::text FROM {t} x"
                    )))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                    for (r,) in rows {
                        all.extend(r.into_bytes());
                    }
                }
                all
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s).await;
        }
        if let Some(name) = self.pg_name.take() {
            drop_pg_database(&name).await;
        }
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Generates one test per backend from an async fn taking `Db`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Db::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::common::Db::Postgres).await }
            )*
        }
    };
}
