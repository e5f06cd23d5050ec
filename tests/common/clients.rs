//! Real HTTP clients as operators' tools use them, run as processes.

/// What a real client printed: python `requests` (decodes gzip and deflate by default) or
/// `curl --compressed`.
pub async fn real_client(client: &str, url: &str, bearer: Option<&str>) -> Vec<u8> {
    let mut cmd = match client {
        "requests" => {
            let python = std::env::var("STAFFGATE_TEST_PYTHON")
                .expect("STAFFGATE_TEST_PYTHON: run scripts/test.sh (the README's test command)");
            let script = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/requests_client.py"
            );
            let mut cmd = tokio::process::Command::new(python);
            cmd.arg(script).arg(url).arg(bearer.unwrap_or(""));
            cmd
        }
        _ => {
            let mut cmd = tokio::process::Command::new("curl");
            cmd.args(["-sS", "--compressed", "-D", "-", url]);
            if let Some(t) = bearer {
                cmd.arg("-H").arg(format!("Authorization: Bearer {t}"));
            }
            cmd
        }
    };
    let out = cmd.output().await.expect("the client runs");
    assert!(
        out.status.success(),
        "{client}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
