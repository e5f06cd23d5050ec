//! The OpenAPI document is served, and a real daemon keeps it: Schemathesis (PyPI, in the
//! test venv) generates requests for every documented operation from the document alone,
//! with an admin key, and checks that no answer is a 5xx and every answer matches the
//! schema declared for its status.

mod common;

use common::{Db, TestApp};
use serde_json::json;

/// Reproducible in CI; set `STAFFGATE_SCHEMATHESIS_SEED` to explore other inputs.
const SEED: &str = "20261202";

fn schemathesis() -> std::path::PathBuf {
    let python = std::env::var("STAFFGATE_TEST_PYTHON")
        .expect("STAFFGATE_TEST_PYTHON: run scripts/test.sh (the README's test command)");
    std::path::Path::new(&python).with_file_name("schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_route_and_is_openapi_3_1() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let doc: serde_json::Value = reqwest::get(format!("{}/api/v1/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/staff/{username}/offboard",
        "/api/v1/access",
        "/api/v1/tokens",
        "/api/v1/me/nda",
        "/api/v1/sync/status",
        "/api/v1/oidc/{source}/session",
        "/api/v1/offboardings",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(operations, 52, "one operation per /api/v1 route");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_answer_off_its_schema() {
    let app = TestApp::spawn(Db::Sqlite).await;
    // Something to find, so the generated calls reach more than 404s.
    app.add_staff("alice", &["support"]).await;
    let desk = json!({ "kind": "bearer", "upstream": "http://127.0.0.1:9/", "rules": ["GET /* read"], "tags": ["support"] });
    app.add_channel("desk", desk, "the-real-secret").await;
    let seed = std::env::var("STAFFGATE_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.into());
    let work = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(schemathesis())
        .current_dir(work.path())
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", app.base),
            "--header",
            &format!("Authorization: Bearer {}", app.key),
            "--checks",
            "not_a_server_error,response_schema_conformance",
            // Revoking keys by guessed id would revoke the run's own key and leave every
            // later call a 401: tested by the API-key tests instead.
            "--exclude-path",
            "/api/v1/keys/{id}",
            "--max-examples",
            "25",
            "--seed",
            &seed,
            "--generation-database",
            "none",
            "--no-color",
        ])
        .output()
        .await
        .expect("schemathesis runs (installed by scripts/test.sh)");
    let out = String::from_utf8_lossy(&run.stdout);
    let summary: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Tested:") || l.contains(" generated, ") || l.contains("Selected:"))
        .map(str::trim)
        .collect();
    println!("schemathesis (seed {seed}): {}", summary.join("; "));
    assert!(
        run.status.success(),
        "schemathesis found problems:\n{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        summary.iter().any(|l| l.starts_with("Tested:")),
        "no summary from schemathesis:\n{out}"
    );
    app.stop().await;
}
