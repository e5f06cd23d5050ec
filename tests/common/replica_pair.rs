//! Two in-process daemons on one database, and a wait for what the second one answers.

use std::time::{Duration, Instant};

use super::{Db, TestApp};

/// Replica A, and replica B on A's database (and data directory, so its master key).
pub async fn pair(db: Db) -> (TestApp, TestApp) {
    let a = TestApp::spawn(db).await;
    let b = second(&a, db, |_| {}).await;
    (a, b)
}

/// Another replica on `a`'s database, configured further by `tweak`.
pub async fn second(
    a: &TestApp,
    db: Db,
    tweak: impl FnOnce(&mut staffgate::config::Config),
) -> TestApp {
    let (data, url) = (a.config.data_dir.clone(), a.config.database_url.clone());
    TestApp::spawn_with(db, move |c| {
        c.data_dir = data;
        c.database_url = url;
        tweak(c);
    })
    .await
}

/// Polls a brokered GET on channel `desk` until `app` answers `want`; returns how long that
/// took (at most 5 s, or the test fails).
pub async fn until(app: &TestApp, token: &str, want: u16) -> Duration {
    let started = Instant::now();
    loop {
        // A response in flight when the revocation lands is cut mid-body (by design):
        // that shows up here as a send error, and the next call gets the refusal.
        let sent = app
            .http
            .get(app.broker("desk", "x"))
            .bearer_auth(token)
            .send()
            .await;
        if let Ok(resp) = sent {
            let status = resp.status().as_u16();
            if resp.bytes().await.is_ok() && status == want {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never answered {want}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
