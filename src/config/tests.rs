use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn zero_configuration_gives_the_documented_defaults() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./staffgate-data"));
    assert!(c.database_url.is_none());
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\n[tokens]\ndefault_ttl = \"5m\"\n",
    )
    .unwrap();
    let c = Config::load(Some(&file), env(&[("STAFFGATE_LISTEN", "127.0.0.1:9001")])).unwrap();
    assert_eq!(c.listen.port(), 9001);
    assert_eq!(c.tokens.default_ttl, Duration::from_secs(300));
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "lisen = \"x\"\n[broker]\nupstream_timeout = \"soon\"\n",
    )
    .unwrap();
    let err = Config::load(
        Some(&file),
        env(&[
            ("STAFFGATE_LISTEN", "nowhere"),
            ("STAFFGATE_NOPE", "1"),
            ("STAFFGATE_URL", "ignored"),
        ]),
    )
    .unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "broker.upstream_timeout",
            "lisen",
            "STAFFGATE_LISTEN",
            "STAFFGATE_NOPE"
        ]
    );
}

#[test]
fn sizes_accept_units() {
    let c = Config::load(None, env(&[("STAFFGATE_BROKER_MAX_REQUEST_BYTES", "2MiB")])).unwrap();
    assert_eq!(c.broker.max_request_bytes, 2 * 1024 * 1024);
    assert!(
        Config::load(
            None,
            env(&[("STAFFGATE_BROKER_MAX_REQUEST_BYTES", "2 parsecs")])
        )
        .is_err()
    );
}

#[test]
fn a_public_address_needs_tls_or_a_declared_proxy() {
    let err = Config::load(None, env(&[("STAFFGATE_LISTEN", "0.0.0.0:8443")])).unwrap_err();
    assert_eq!(err.0[0].key, "listen");
    let c = Config::load(
        None,
        env(&[
            ("STAFFGATE_LISTEN", "0.0.0.0:8443"),
            ("STAFFGATE_BEHIND_TLS_PROXY", "true"),
        ]),
    )
    .unwrap();
    assert!(c.tls.behind_proxy);
}

#[test]
fn mail_settings_are_checked_and_the_password_stays_secret() {
    let c = Config::load(
        None,
        env(&[
            ("STAFFGATE_MAIL_HOST", "relay.example.com"),
            ("STAFFGATE_MAIL_SECURITY", "tls"),
            ("STAFFGATE_MAIL_PASSWORD", "relay-pass-123"),
            ("STAFFGATE_MAIL_HR", "hr@example.com, people@example.com"),
        ]),
    )
    .unwrap();
    assert_eq!(c.mail.security, SmtpSecurity::Tls);
    assert_eq!(c.mail.hr.len(), 2);
    assert!(!format!("{c:?}").contains("relay-pass-123"));
    let err = Config::load(
        None,
        env(&[
            ("STAFFGATE_MAIL_SECURITY", "ssl"),
            ("STAFFGATE_MAIL_ADMINS", "not an address"),
        ]),
    )
    .unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["STAFFGATE_MAIL_SECURITY", "STAFFGATE_MAIL_ADMINS"]);
}

#[test]
fn two_sources_of_one_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "[oidc.corp]\nissuer = \"https://id.example.com\"\nclient_id = \"sg\"\nclient_secret = \"s\"\n[scim.corp]\n[scim.entra]\n",
    )
    .unwrap();
    let err = Config::load(Some(&file), env(&[])).unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["scim.corp"]);
}

#[test]
fn the_complete_example_in_the_readme_loads() {
    let dir = tempfile::tempdir().unwrap();
    for secret in ["okta", "smtp", "ldap"] {
        std::fs::write(dir.path().join(secret), "s3cret").unwrap();
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/staffgate.toml"
    ))
    .unwrap()
    .replace("/run/secrets/", &format!("{}/", dir.path().display()));
    let file = dir.path().join("staffgate.toml");
    std::fs::write(&file, text).unwrap();
    let c = Config::load(Some(&file), env(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.console
            .role_for(&[crate::domain::GroupName::parse("hr").unwrap()]),
        Some(crate::domain::Role::Hr)
    );
    assert_eq!(
        c.broker.public_url.as_deref(),
        Some("https://broker.example.org")
    );
    assert_eq!((c.ldap.len(), c.oidc.len(), c.scim.len()), (1, 1, 1));
}
