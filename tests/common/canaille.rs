//! A real Canaille (PyPI `canaille` 0.3.6) per test: an identity provider with an OAuth 2.0
//! token endpoint and a SCIM server, and a SCIM client that pushes its users to the
//! applications it trusts. Its own venv (see `scripts/test.sh`), its own SQLite database,
//! a random loopback port; tasks run in-process (`EagerBroker`), so a push has reached
//! staffgate when the Canaille command that caused it returns.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Canaille {
    pub base: String,
    config: PathBuf,
    _dir: tempfile::TempDir,
    child: Child,
}

fn binary() -> PathBuf {
    let path = std::env::var("STAFFGATE_TEST_CANAILLE").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/canaille-venv/bin/canaille"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "canaille is not installed at {}: run `bash scripts/test.sh`, which installs it",
        path.display()
    );
    path
}

impl Canaille {
    pub fn start() -> Canaille {
        let dir = tempfile::tempdir().unwrap();
        let port = super::process::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let config = dir.path().join("canaille.toml");
        std::fs::write(
            &config,
            format!(
                "SECRET_KEY = \"canaille-test-{port}\"\nSERVER_NAME = \"127.0.0.1:{port}\"\n\
                 PREFERRED_URL_SCHEME = \"http\"\nBROKER = \"dramatiq_eager_broker:EagerBroker\"\n\
                 [CANAILLE]\nDATABASE = \"sql\"\n\
                 [CANAILLE_SQL]\nDATABASE_URI = \"sqlite:///{}/canaille.sqlite\"\n\
                 [CANAILLE_OIDC]\nTRUSTED_DOMAINS = [\"127.0.0.1\"]\n\
                 [CANAILLE_SCIM]\nENABLE_SERVER = true\nENABLE_CLIENT = true\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let install = Command::new(binary())
            .arg("install")
            .env("CANAILLE_CONFIG", &config)
            .output()
            .unwrap();
        assert!(
            install.status.success(),
            "canaille install: {}",
            String::from_utf8_lossy(&install.stderr)
        );
        let log = std::fs::File::create(dir.path().join("run.log")).unwrap();
        // A process group of its own: hypercorn's workers and their resource trackers go
        // with it when the test ends.
        let child = Command::new(binary())
            .process_group(0)
            .args(["run", "--bind", &format!("127.0.0.1:{port}")])
            .env("CANAILLE_CONFIG", &config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let canaille = Canaille {
            base,
            config,
            _dir: dir,
            child,
        };
        canaille.wait_ready();
        canaille
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/.well-known/openid-configuration", self.base);
        while Instant::now() < deadline {
            if Command::new("curl")
                .args(["-sf", "-o", "/dev/null", &url])
                .status()
                .is_ok_and(|s| s.success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("canaille did not answer at {}", self.base);
    }

    /// Runs `canaille <args>` (its own CLI, on its own database); answers the JSON it
    /// prints, when it prints one.
    pub fn cli(&self, args: &[&str]) -> Value {
        let out = Command::new(binary())
            .args(args)
            .env("CANAILLE_CONFIG", &self.config)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "canaille {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null)
    }

    /// Canaille's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base)
    }

    /// Canaille's SCIM base.
    pub fn scim_url(&self) -> String {
        format!("{}/scim/v2", self.base)
    }

    /// A client that may read Canaille's SCIM server with client credentials.
    pub fn reader_client(&self, id: &str, secret: &str) {
        self.cli(&[
            "create",
            "client",
            "--client-id",
            id,
            "--client-secret",
            secret,
            "--client-name",
            id,
            "--grant-types",
            "client_credentials",
            "--token-endpoint-auth-method",
            "client_secret_basic",
            "--response-types",
            "code",
            "--redirect-uris",
            "http://127.0.0.1/unused",
        ]);
    }

    /// Makes staffgate's SCIM base a trusted application of Canaille's, which authenticates
    /// to it with `token` (made by `staffgate scim token create`, registered in Canaille).
    pub fn push_to(&self, scim_base: &str, token: &str) {
        let client = self.cli(&[
            "create",
            "client",
            "--client-id",
            "staffgate",
            "--client-name",
            "staffgate",
            "--client-uri",
            scim_base,
            "--grant-types",
            "client_credentials",
            "--response-types",
            "code",
            "--redirect-uris",
            "http://127.0.0.1/unused",
            "--token-endpoint-auth-method",
            "none",
        ]);
        let client_id = client["id"]
            .as_str()
            .expect("canaille prints the client")
            .to_owned();
        let now = chrono::Utc::now().to_rfc3339();
        self.cli(&[
            "create",
            "token",
            "--token-id",
            "staffgate-push",
            "--access-token",
            token,
            "--client",
            &client_id,
            "--audience",
            &client_id,
            "--scope",
            "openid",
            "--issue-date",
            &now,
            "--lifetime",
            "86400",
            "--type",
            "access_token",
        ]);
    }

    /// Creates a user in Canaille (which pushes them); answers Canaille's id.
    pub fn add_user(&self, name: &str) -> String {
        let email = format!("{name}@example.com");
        let user = self.cli(&[
            "create",
            "user",
            "--user-name",
            name,
            "--family-name",
            name,
            "--given-name",
            name,
            "--emails",
            &email,
        ]);
        user["id"]
            .as_str()
            .expect("canaille prints the user")
            .to_owned()
    }

    /// Locks a user now: Canaille's SCIM view says `active: false` (and it pushes a PUT).
    pub fn lock(&self, id: &str) {
        let past = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
        self.cli(&["set", "user", id, "--lock-date", &past]);
    }

    /// Deletes a user (Canaille pushes a DELETE).
    pub fn delete(&self, id: &str) {
        self.cli(&["delete", "user", "--id", id, "--noconfirm"]);
    }

    /// Puts `n` users (`bulk00000`…) straight into Canaille's database, for benches: its own
    /// CLI and restore save one user at a time (10,000 took 13 minutes). Canaille then
    /// serves them through its real SCIM server.
    pub fn seed_users(&self, n: usize) {
        let db = self._dir.path().join("canaille.sqlite");
        let script = format!(
            "import sqlite3, uuid, json, datetime\n\
             c = sqlite3.connect({db:?})\n\
             now = datetime.datetime.now(datetime.timezone.utc).isoformat()\n\
             rows = [(str(uuid.uuid4()), now, now, f'bulk{{i:05d}}', f'Bulk{{i}}', 'B', json.dumps([f'bulk{{i:05d}}@example.com'])) for i in range({n})]\n\
             c.executemany('INSERT INTO user (id, created, last_modified, user_name, family_name, given_name, emails) VALUES (?,?,?,?,?,?,?)', rows)\n\
             c.commit()\n",
            db = db.display().to_string()
        );
        let out = Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The end of Canaille's log, for a failing assertion.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self._dir.path().join("run.log")).unwrap_or_default();
        text.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Canaille {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
