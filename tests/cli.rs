//! The real binary, started with zero configuration, driven by its own CLI as the README's
//! walkthrough does; its log is read afterwards for any secret.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::upstream::Upstream;

const BIN: &str = env!("CARGO_BIN_EXE_staffgate");
const CHANNEL_SECRET: &str = "EAAG-walkthrough-secret-9876543210";
const TELEGRAM_SECRET: &str = "7000000001:AAH-unreachable-bot-secret";

struct Daemon {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

/// A failing test must not leave its daemon running.
impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// `staffgate serve` in `dir` with nothing configured but a free port and the policies.
    async fn start(dir: &Path) -> Daemon {
        Daemon::start_with(dir, &[]).await
    }

    /// The same, with arguments after `serve`.
    async fn start_with(dir: &Path, args: &[&str]) -> Daemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("daemon.log");
        let mut command = Command::new(BIN);
        // The daemon refuses unknown STAFFGATE_* variables, and the test run sets its own.
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STAFFGATE_")) {
            command.env_remove(name);
        }
        let child = command
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env("STAFFGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("STAFFGATE_LOG", "debug")
            // The README's local trial: no directory to sign in against, so no first login.
            .env("STAFFGATE_REQUIRE_TOTP", "false")
            .env("STAFFGATE_REQUIRE_NDA", "false")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "daemon did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Daemon { child, url, log }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn stop(mut self) -> String {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "daemon exited with {status}");
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// Runs `staffgate ARGS` in `dir` against the daemon; returns stdout, failing on error.
fn cli(dir: &Path, url: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("STAFFGATE_URL", url)
        .env_remove("STAFFGATE_ADMIN_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "staffgate {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn copy_policies(dir: &Path) {
    common::copy_dir(&common::policies_dir(), &dir.join("policies"));
}

async fn brokered(url: &str, channel: &str, token: &str, method: reqwest::Method) -> (u16, String) {
    try_brokered(url, channel, token, method).await.unwrap()
}

/// One brokered call; `Err` when the daemon cut it (a revocation landed mid-response).
async fn try_brokered(
    url: &str,
    channel: &str,
    token: &str,
    method: reqwest::Method,
) -> Result<(u16, String), reqwest::Error> {
    let resp = reqwest::Client::new()
        .request(method, format!("{url}/broker/{channel}/messages"))
        .bearer_auth(token)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_works_from_the_command_line_and_no_secret_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    copy_policies(dir);
    let up = Upstream::start("unused").await;
    let daemon = Daemon::start(dir).await;
    let url = daemon.url.clone();

    // Zero configuration: the embedded database and a private bootstrap key in ./staffgate-data.
    let key_file = dir.join("staffgate-data/bootstrap-admin.key");
    let admin_key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(admin_key.starts_with("sgk_"));
    assert!(dir.join("staffgate-data/staffgate.db").exists());
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    cli(
        dir,
        &url,
        &[
            "staff",
            "add",
            "alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice",
            "--group",
            "support",
        ],
        None,
    );
    cli(
        dir,
        &url,
        &[
            "channel",
            "add",
            "wa",
            "--kind",
            "bearer",
            "--rule",
            "GET /** read",
            "--rule",
            "POST /** send",
            "--upstream",
            &up.base,
            "--tag",
            "support",
        ],
        None,
    );
    let said = cli(
        dir,
        &url,
        &["channel", "set-secret", "wa"],
        Some(&format!("{CHANNEL_SECRET}\n")),
    );
    assert!(!said.contains(CHANNEL_SECRET));
    let token = cli(
        dir,
        &url,
        &[
            "token",
            "issue",
            "--staff",
            "alice",
            "--channel",
            "wa",
            "--ttl",
            "10m",
        ],
        None,
    )
    .trim()
    .to_owned();
    assert!(token.starts_with("sgt_"), "{token}");

    let (status, _) = brokered(&url, "wa", &token, reqwest::Method::POST).await;
    assert_eq!(status, 200);
    assert_eq!(
        up.requests()[0].header("authorization"),
        Some(format!("Bearer {CHANNEL_SECRET}").as_str())
    );

    // An upstream that is down makes the daemon log an error; the URL (with a Telegram
    // secret in its path) must not be in it.
    cli(
        dir,
        &url,
        &[
            "channel",
            "add",
            "tg",
            "--kind",
            "telegram",
            "--upstream",
            "http://127.0.0.1:9/",
            "--tag",
            "support",
        ],
        None,
    );
    cli(
        dir,
        &url,
        &["channel", "set-secret", "tg"],
        Some(TELEGRAM_SECRET),
    );
    let tg = cli(
        dir,
        &url,
        &["token", "issue", "--staff", "alice", "--channel", "tg"],
        None,
    )
    .trim()
    .to_owned();
    let resp = reqwest::get(format!("{url}/broker/tg/bot{tg}/getMe"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);

    let csv = cli(dir, &url, &["access", "--format", "csv"], None);
    assert!(
        csv.lines()
            .any(|l| l.starts_with("alice,Alice,wa,\"read,send\",support-operators,1,")),
        "{csv}"
    );
    let checked = cli(dir, &url, &["policy", "check", "policies"], None);
    assert!(checked.contains("5 policies valid"), "{checked}");

    // SIGHUP reloads policies: support loses `send`.
    let support = std::fs::read_to_string(dir.join("policies/support.cedar")).unwrap();
    std::fs::write(
        dir.join("policies/support.cedar"),
        support.replace(
            "action in [Action::\"read\", Action::\"send\"]",
            "action == Action::\"read\"",
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // A call in flight when the reload lands is cut mid-response, as it should be.
        let Ok((status, body)) = try_brokered(&url, "wa", &token, reqwest::Method::POST).await
        else {
            assert!(Instant::now() < deadline, "SIGHUP did not reload policies");
            continue;
        };
        if status == 403 {
            assert!(body.contains("policy_denied"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload policies");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        brokered(&url, "wa", &token, reqwest::Method::GET).await.0,
        200
    );

    let receipt = cli(
        dir,
        &url,
        &["offboard", "alice", "--reason", "last day"],
        None,
    );
    assert!(
        receipt.starts_with("Offboarded alice (Alice <alice@example.com>)"),
        "{receipt}"
    );
    assert!(receipt.contains("revoked: 2 token(s)"), "{receipt}");
    let (status, body) = brokered(&url, "wa", &token, reqwest::Method::GET).await;
    assert_eq!(status, 401);
    assert!(body.contains("staff_not_active"), "{body}");
    assert!(cli(dir, &url, &["audit", "verify"], None).starts_with("audit log intact"));

    let log = daemon.stop();
    assert!(log.contains("bootstrap admin API key"), "{log}");
    assert!(
        log.contains("FIRST-LOGIN REQUIREMENT TURNED OFF"),
        "the daemon must say so loudly"
    );
    assert!(
        log.contains("upstream request failed"),
        "the failure path was logged: {log}"
    );
    for (what, secret) in [
        ("channel secret", CHANNEL_SECRET),
        ("telegram secret", TELEGRAM_SECRET),
        ("token", token.as_str()),
        ("telegram token", tg.as_str()),
        ("admin key", admin_key.as_str()),
    ] {
        assert!(!log.contains(secret), "{what} leaked into the daemon log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_its_data_where_data_dir_says() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    let daemon = Daemon::start_with(dir.path(), &["--data-dir", "kept-here"]).await;
    assert!(
        dir.path()
            .join("kept-here")
            .join("bootstrap-admin.key")
            .exists()
    );
    assert!(
        !dir.path().join("staffgate-data").exists(),
        "not the default place"
    );
    daemon.stop();
}

#[test]
fn bad_configuration_is_reported_all_at_once_and_the_daemon_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "listen = \"nowhere\"\n[tokens]\nmax_ttl = \"forever\"\nsurprise = 1\n",
    )
    .unwrap();
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("STAFFGATE_")) {
        command.env_remove(name);
    }
    let out = command
        .args(["serve", "--config", "c.toml"])
        .current_dir(dir.path())
        .env("STAFFGATE_BROKER_MAX_REQUEST_BYTES", "lots")
        .env("STAFFGATE_NOPE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "listen",
        "tokens.max_ttl",
        "tokens.surprise",
        "STAFFGATE_BROKER_MAX_REQUEST_BYTES",
        "STAFFGATE_NOPE",
    ] {
        assert!(
            err.contains(&format!("  {key}: ")),
            "{key} missing from: {err}"
        );
    }
    assert!(
        !dir.path().join("staffgate-data").exists(),
        "nothing is created when the start is refused"
    );
}
