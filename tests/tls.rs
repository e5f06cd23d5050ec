//! The listener's own TLS: the real binary serves HTTPS from certificate files, picks up a
//! new certificate on SIGHUP, and refuses plain HTTP on a non-loopback address unless a TLS
//! proxy is declared in front.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::pki::pki;
use common::process::{BIN, Cluster};

/// The daemon dies with the test, even when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client_trusting(ca_pem: &str) -> reqwest::Client {
    // No pooled connection: each check makes a new handshake and sees the current certificate.
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

async fn healthz(client: &reqwest::Client, url: &str) -> Result<u16, String> {
    client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_from_certificate_files_reloaded_on_sighup() {
    let first = pki(false);
    let second = pki(false);
    let c = Cluster::new().await;
    let (cert, key) = (c.dir.path().join("tls.crt"), c.dir.path().join("tls.key"));
    std::fs::write(&cert, &first.cert_pem).unwrap();
    std::fs::write(&key, &first.key_pem).unwrap();
    let port = common::process::free_port();
    let child = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("STAFFGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("STAFFGATE_DATA_DIR", c.dir.path().join("data"))
        .env("STAFFGATE_POLICIES", c.dir.path().join("policies"))
        .env("STAFFGATE_DATABASE_URL", &c.db_url)
        .env("STAFFGATE_REQUIRE_TOTP", "false")
        .env("STAFFGATE_REQUIRE_NDA", "false")
        .env("STAFFGATE_TLS_CERT_FILE", &cert)
        .env("STAFFGATE_TLS_KEY_FILE", &key)
        .env("STAFFGATE_BOOTSTRAP_ADMIN_KEY", &c.key)
        .stderr(std::fs::File::create(c.dir.path().join("log")).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let url = format!("https://127.0.0.1:{port}");
    let trusts_first = client_trusting(&first.ca_pem);
    let trusts_second = client_trusting(&second.ca_pem);
    let deadline = Instant::now() + Duration::from_secs(20);
    while healthz(&trusts_first, &url).await != Ok(200) {
        assert!(Instant::now() < deadline, "no HTTPS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Plain HTTP on the TLS port gets nothing useful.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    assert!(healthz(&trusts_second, &url).await.is_err());

    // The API and the broker speak TLS too: a brokered call reaches the upstream with the secret.
    let up = common::upstream::Upstream::start("upstream-secret").await;
    let admin = |m: reqwest::Method, path: &str, body: serde_json::Value| {
        trusts_first
            .request(m, format!("{url}/api/v1{path}"))
            .bearer_auth(&c.key)
            .json(&body)
            .send()
    };
    let put = reqwest::Method::PUT;
    for (path, body) in [
        (
            "/staff/alice",
            serde_json::json!({ "email": "alice@example.com", "name": "Alice", "groups": ["support"] }),
        ),
        (
            "/channels/desk",
            serde_json::json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read", "POST /** send"] }),
        ),
        (
            "/channels/desk/secret",
            serde_json::json!({ "secret": "upstream-secret" }),
        ),
    ] {
        assert_eq!(
            admin(put.clone(), path, body).await.unwrap().status(),
            200,
            "{path}"
        );
    }
    let issued: serde_json::Value = admin(
        reqwest::Method::POST,
        "/tokens",
        serde_json::json!({ "staff": "alice", "channel": "desk" }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let brokered = trusts_first
        .get(format!("{url}/broker/desk/x"))
        .bearer_auth(issued["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(brokered.status(), 200);
    assert_eq!(
        up.seen.lock().unwrap()[0].header("authorization"),
        Some("Bearer upstream-secret")
    );

    // A bad pair on SIGHUP keeps the certificate in use.
    std::fs::write(&cert, "not a certificate").unwrap();
    Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(healthz(&trusts_first, &url).await, Ok(200));

    std::fs::write(&cert, &second.cert_pem).unwrap();
    std::fs::write(&key, &second.key_pem).unwrap();
    Command::new("kill")
        .args(["-HUP", &child.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while healthz(&trusts_second, &url).await != Ok(200) {
        assert!(
            Instant::now() < deadline,
            "the new certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(healthz(&trusts_first, &url).await.is_err());
    Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(child.0.wait().unwrap().success());
    let log = std::fs::read_to_string(c.dir.path().join("log")).unwrap();
    assert!(log.contains("TLS certificate not reloaded"), "{log}");
    assert!(log.contains("TLS certificate reloaded"), "{log}");
}

fn refusal(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").env_clear().current_dir(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn plain_http_on_a_public_address_is_refused_unless_behind_a_tls_proxy() {
    let (code, err) = refusal(&[("STAFFGATE_LISTEN", "0.0.0.0:0")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("listen: a non-loopback address needs tls.cert_file"),
        "{err}"
    );

    let (code, err) = refusal(&[
        ("STAFFGATE_LISTEN", "0.0.0.0:0"),
        ("STAFFGATE_TLS_CERT_FILE", "/nonexistent.crt"),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("tls.cert_file and tls.key_file go together"),
        "{err}"
    );

    let (code, err) = refusal(&[
        ("STAFFGATE_TLS_CERT_FILE", "/nonexistent.crt"),
        ("STAFFGATE_TLS_KEY_FILE", "/nonexistent.key"),
        ("STAFFGATE_REQUIRE_TOTP", "false"),
        ("STAFFGATE_REQUIRE_NDA", "false"),
        (
            "STAFFGATE_POLICIES",
            &common::policies_dir().display().to_string(),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("TLS certificate or key (/nonexistent.crt"),
        "{err}"
    );
}

/// The machine's PostgreSQL serves TLS with Debian's self-signed "snakeoil" certificate,
/// made for the name `localhost`.
const PG_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_connection_is_encrypted_and_verified_when_asked() {
    let c = Cluster::new().await;
    let verified = format!("{}?sslmode=verify-full&sslrootcert={PG_CERT}", c.db_url)
        .replace("@127.0.0.1:", "@localhost:");
    let r = c.start("tls-db", Some(&verified), &[]).await;
    c.add_staff(&r, "alice").await;
    let db = c.db_url.rsplit('/').next().unwrap().to_owned();
    let mut admin = {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&common::postgres_admin_url())
            .await
            .unwrap()
    };
    let encrypted: Vec<bool> = sqlx::query_scalar(
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1",
    )
    .bind(&db)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(
        !encrypted.is_empty() && encrypted.iter().all(|e| *e),
        "{encrypted:?}"
    );
    drop(r);

    // The certificate is not for the address asked: the daemon refuses to start, and says why.
    let (code, err) = refusal(&[
        (
            "STAFFGATE_DATABASE_URL",
            &format!("{}?sslmode=verify-full&sslrootcert={PG_CERT}", c.db_url),
        ),
        ("STAFFGATE_REQUIRE_TOTP", "false"),
        ("STAFFGATE_REQUIRE_NDA", "false"),
        (
            "STAFFGATE_POLICIES",
            &common::policies_dir().display().to_string(),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("certificate not valid for name"), "{err}");
}
