//! A real headless Chromium driven over WebDriver (chromedriver), for the end-to-end tests:
//! one browser per test, with a profile of its own; `bash scripts/test.sh` installs Debian's
//! chromium and chromium-driver.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn browser(profile: &std::path::Path) -> (Driver, Client) {
    let port = super::process::free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/test.sh installs chromium-driver)");
    let driver = Driver(driver);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                     "--window-size=1100,1400", "--lang=en-US",
                     format!("--user-data-dir={}", profile.display())],
        }),
    );
    // The test binary links both rustls providers (dev-dependencies); name one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a Chromium session starts");
    (driver, client)
}

pub struct Shots {
    pub dir: std::path::PathBuf,
    pub n: usize,
}

impl Shots {
    pub async fn take(&mut self, c: &Client, name: &str) {
        self.n += 1;
        let png = c.screenshot().await.unwrap();
        std::fs::write(self.dir.join(format!("{:02}-{name}.png", self.n)), png).unwrap();
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An element's text, waiting for it to appear (a submitted form navigates asynchronously).
pub async fn text_of(c: &Client, css: &str) -> String {
    el(c, Locator::Css(css)).await.text().await.unwrap()
}

pub async fn el(c: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(locator)
        .await
        .unwrap()
}

/// Waits until the browser shows a page whose path ends with `suffix`.
pub async fn at(c: &Client, suffix: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await.unwrap();
        if url.path().ends_with(suffix) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected a page ending {suffix}, at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
