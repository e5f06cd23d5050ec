//! A real OpenID Connect provider (npm `oidc-provider`, panva) for the OIDC tests: one per
//! test binary, on a random loopback port; each test uses clients and accounts of its own.
//! `bash scripts/test.sh` installs it into tests/peers/oidc-provider/node_modules.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

pub struct Idp {
    pub issuer: String,
    http: reqwest::Client,
}

static IDP: OnceLock<Idp> = OnceLock::new();

/// The test binary's provider, started on first use.
pub fn idp() -> &'static Idp {
    IDP.get_or_init(Idp::start)
}

impl Idp {
    fn start() -> Idp {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/oidc-provider");
        assert!(
            std::path::Path::new(dir)
                .join("node_modules/oidc-provider")
                .exists(),
            "oidc-provider is not installed: run `bash scripts/test.sh` (npm install in {dir})"
        );
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .env("STAFFGATE_TEST_PARENT", std::process::id().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts");
        let out = child.stdout.take().expect("stdout");
        let mut out = BufReader::new(out);
        let mut line = String::new();
        out.read_line(&mut line).expect("provider prints READY");
        // Kept draining: a closed pipe would end the provider at its next log line.
        std::thread::spawn(move || {
            let mut rest = String::new();
            while out.read_line(&mut rest).is_ok_and(|n| n > 0) {
                eprint!("oidc-provider: {rest}");
                rest.clear();
            }
        });
        let issuer = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("provider said {line:?}"))
            .to_owned();
        // Reaped by the OS with the test binary; the provider exits when we are gone.
        std::mem::forget(child);
        // No pooled connections: each test has a runtime of its own, and a connection
        // pooled in one dies with it ("runtime dropped the dispatch task" in the next).
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        Idp { issuer, http }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("provider answers");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A confidential client for a staffgate at `base`, source `source`.
    pub async fn client(&self, id: &str, secret: &str, base: &str, source: &str) {
        self.post(
            "/__test/clients",
            json!([{
                "client_id": id, "client_secret": secret,
                "redirect_uris": [format!("{base}/oidc/{source}/callback")],
                "post_logout_redirect_uris": [format!("{base}/login")],
                "backchannel_logout_uri": format!("{base}/oidc/{source}/backchannel-logout"),
                "backchannel_logout_session_required": true,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            }]),
        )
        .await;
    }

    /// Sets an account's claims (`null` removes the account).
    pub async fn account(&self, id: &str, claims: Value) {
        self.post("/__test/accounts", json!({ id: claims })).await;
    }

    /// Sends the provider's back-channel logout for every session of `account`; how many.
    pub async fn logout(&self, client: &str, account: &str) -> u64 {
        self.post(
            "/__test/logout",
            json!({ "clientId": client, "accountId": account }),
        )
        .await["sent"]
            .as_u64()
            .unwrap()
    }

    /// Makes the token endpoint hand `client` a forged ID token (`none`, `hs256`, `rogue`,
    /// `expired`), or the real one again (`None`).
    pub async fn tamper(&self, client: &str, mode: Option<&str>) {
        self.post(
            "/__test/tamper",
            json!({ "clientId": client, "mode": mode }),
        )
        .await;
    }

    /// A JWT signed with the provider's own key.
    pub async fn sign(&self, header: Value, claims: Value) -> String {
        self.post(
            "/__test/sign",
            json!({ "header": header, "claims": claims }),
        )
        .await["jwt"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A browser-like client: keeps cookies, follows redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Signs `account` in at the provider through staffgate's start link; answers staffgate's
/// final response (status, body).
pub async fn sign_in(
    b: &reqwest::Client,
    base: &str,
    source: &str,
    account: &str,
) -> (u16, String) {
    sign_in_from(b, &format!("{base}/oidc/{source}/start"), account).await
}

/// Signs `account` in at the provider, starting the browser at `start`.
pub async fn sign_in_from(b: &reqwest::Client, start: &str, account: &str) -> (u16, String) {
    let page = b.get(start).send().await.unwrap();
    let at = page.url().clone();
    let html = page.text().await.unwrap();
    // The dev interaction's login form posts to /interaction/<uid>/login.
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no login form at {at}: {html}"))
        .to_owned();
    let target = at.join(&action).unwrap();
    let done = b
        .post(target)
        .form(&[("prompt", "login"), ("login", account), ("password", "any")])
        .send()
        .await
        .unwrap();
    let status = done.status().as_u16();
    (status, done.text().await.unwrap())
}

/// The same sign-in, following each redirect by hand with `b` (cookies kept, redirects not
/// followed), so that staffgate's callback alone can be timed: (its status, its duration).
pub async fn sign_in_timed(
    b: &reqwest::Client,
    base: &str,
    source: &str,
    account: &str,
) -> (u16, std::time::Duration) {
    let mut url = reqwest::Url::parse(&format!("{base}/oidc/{source}/start")).unwrap();
    let mut form: Option<Vec<(&str, &str)>> = None;
    for _ in 0..12 {
        let request = match form.take() {
            Some(fields) => b.post(url.clone()).form(&fields),
            None => b.get(url.clone()),
        };
        let callback = url.as_str().starts_with(base) && url.path().ends_with("/callback");
        let started = std::time::Instant::now();
        let r = request.send().await.unwrap();
        if callback {
            return (r.status().as_u16(), started.elapsed());
        }
        if let Some(to) = r.headers().get("location") {
            url = url.join(to.to_str().unwrap()).unwrap();
            continue;
        }
        // The provider's login form.
        let html = r.text().await.unwrap();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no login form at {url}: {html}"))
            .to_owned();
        url = url.join(&action).unwrap();
        form = Some(vec![
            ("prompt", "login"),
            ("login", account),
            ("password", "any"),
        ]);
    }
    panic!("the sign-in did not reach staffgate's callback");
}

/// A `desk` channel for people in `support` (read only), on `up`.
pub async fn desk(app: &super::TestApp, up: &super::upstream::Upstream) {
    app.add_channel(
        "desk",
        json!({ "kind": "bearer", "upstream": up.base, "tags": ["support"], "rules": ["GET /** read"] }),
        "real-secret",
    )
    .await;
}

/// Takes `name`, signed in with `b`, through first login (the requirements are off in these
/// tests) and issues a `desk` token from that very session.
pub async fn token_from_session(app: &super::TestApp, b: &reqwest::Client, name: &str) -> String {
    let (s, v) = app
        .api(
            reqwest::Method::POST,
            &format!("/staff/{name}/activate"),
            Some(json!({ "reason": "test" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let issued: Value = b
        .post(format!("{}/api/v1/me/tokens", app.base))
        .json(&json!({ "channel": "desk" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{issued}"))
        .to_owned()
}
