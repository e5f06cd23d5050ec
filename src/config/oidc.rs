//! `[oidc.<name>]`: an OpenID Connect identity provider staff sign in with.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// ID token signature algorithms a source may allow. `none` and the HS* family are not
/// among them: an HMAC "signed" with a key anyone can read is no signature.
pub const SIGNING_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// One identity provider.
#[derive(Debug, Clone)]
pub struct OidcSource {
    /// The configured name: its people are `oidc:<name>`, its routes `/oidc/<name>/…`.
    pub name: String,
    /// What the sign-in button says ("Sign in with <display_name>").
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    /// Where the provider sends the browser back; `<public_url>/oidc/<name>/callback` unless
    /// set.
    pub redirect_uri: Option<String>,
    pub username_claim: String,
    pub email_claim: String,
    pub name_claim: String,
    pub groups_claim: String,
    /// Attribute (as policies see it) → the claim it comes from.
    pub tags: BTreeMap<String, String>,
    pub algorithms: Vec<String>,
    /// Whether a first sign-in creates the person (`pending`).
    pub provision: bool,
    /// `amr` values that stand in for staffgate's TOTP.
    pub accept_idp_mfa: Vec<String>,
    /// `acr` values that stand in for staffgate's TOTP.
    pub accept_acr: Vec<String>,
    /// A provider's back-channel logout also revokes the tokens issued from that session.
    pub revoke_tokens_on_idp_logout: bool,
    /// Network timeout for every call to the provider.
    pub timeout: Duration,
    /// How often each session's provider tokens are refreshed: a person the provider no
    /// longer knows, or a refusal, ends the session; changed groups are a move.
    pub refresh_interval: Duration,
    /// Hand a person to offboarding once the provider has refused their every refresh, with
    /// no refresh or sign-in succeeding since, for `unrefreshable_after`. Off by default: a
    /// grant the provider revoked (a sign-out there) reads the same as a disabled account.
    pub offboard_when_unrefreshable: bool,
    pub unrefreshable_after: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    display_name: Option<String>,
    scopes: Option<Vec<String>>,
    redirect_uri: Option<String>,
    username_claim: Option<String>,
    email_claim: Option<String>,
    name_claim: Option<String>,
    groups_claim: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    algorithms: Option<Vec<String>>,
    provision: Option<bool>,
    #[serde(default)]
    accept_idp_mfa: Vec<String>,
    #[serde(default)]
    accept_acr: Vec<String>,
    revoke_tokens_on_idp_logout: Option<bool>,
    timeout: Option<String>,
    refresh_interval: Option<String>,
    #[serde(default)]
    offboard_when_unrefreshable: bool,
    unrefreshable_after: Option<String>,
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Reads every `[oidc.<name>]` table; all problems at once, keyed `oidc.<name>.<field>`.
pub fn parse_sources(table: &toml::Value) -> Result<Vec<OidcSource>, Vec<(String, String)>> {
    super::sources::each(table, "oidc", "okta", source)
}

fn source(name: &str, raw: RawSource) -> Result<OidcSource, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &str, why: String| problems.push((format!("oidc.{name}.{field}"), why));
    let issuer = raw.issuer.trim().trim_end_matches('/').to_owned();
    match url_scheme(&issuer) {
        Some("https") => {}
        Some("http") if is_loopback(&issuer) => {}
        _ => problem(
            "issuer",
            "must be an https:// URL (http:// only on loopback)".into(),
        ),
    }
    if raw.client_id.trim().is_empty() {
        problem("client_id", "must not be empty".into());
    }
    let client_secret =
        super::sources::client_secret(raw.client_secret, raw.client_secret_file, &mut problem);
    let algorithms = raw
        .algorithms
        .unwrap_or_else(|| vec!["RS256".into(), "ES256".into(), "EdDSA".into()]);
    for alg in &algorithms {
        if !SIGNING_ALGORITHMS.contains(&alg.as_str()) {
            problem(
                "algorithms",
                format!(
                    "{alg:?} is not allowed; choose from {}",
                    SIGNING_ALGORITHMS.join(", ")
                ),
            );
        }
    }
    if algorithms.is_empty() {
        problem("algorithms", "must name at least one algorithm".into());
    }
    let mut scopes = raw
        .scopes
        .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".into());
    }
    let timeout = match raw.timeout.as_deref() {
        None => Duration::from_secs(10),
        Some(t) => humantime::parse_duration(t).unwrap_or_else(|_| {
            problem("timeout", "must be a duration such as \"10s\"".into());
            Duration::from_secs(10)
        }),
    };
    let mut interval = |key: &str, text: Option<&str>, default: Duration| match text {
        None => default,
        Some(t) => match humantime::parse_duration(t) {
            Ok(d) if d >= Duration::from_secs(1) => d,
            _ => {
                problem(
                    key,
                    "must be a duration of 1s or more, such as \"5m\"".into(),
                );
                default
            }
        },
    };
    let refresh_interval = interval(
        "refresh_interval",
        raw.refresh_interval.as_deref(),
        Duration::from_secs(300),
    );
    let unrefreshable_after = interval(
        "unrefreshable_after",
        raw.unrefreshable_after.as_deref(),
        Duration::from_secs(24 * 3600),
    );
    if let Some(uri) = &raw.redirect_uri
        && !matches!(url_scheme(uri), Some("https" | "http"))
    {
        problem("redirect_uri", "must be an http(s) URL".into());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(OidcSource {
        name: name.to_owned(),
        display_name: raw.display_name.unwrap_or_else(|| name.to_owned()),
        issuer,
        client_id: raw.client_id.trim().to_owned(),
        client_secret: SecretString::from(client_secret.unwrap_or_default()),
        scopes,
        redirect_uri: raw.redirect_uri,
        username_claim: raw
            .username_claim
            .unwrap_or_else(|| "preferred_username".into()),
        email_claim: raw.email_claim.unwrap_or_else(|| "email".into()),
        name_claim: raw.name_claim.unwrap_or_else(|| "name".into()),
        groups_claim: raw.groups_claim.unwrap_or_else(|| "groups".into()),
        tags: raw.tags,
        algorithms,
        provision: raw.provision.unwrap_or(true),
        accept_idp_mfa: raw.accept_idp_mfa,
        accept_acr: raw.accept_acr,
        revoke_tokens_on_idp_logout: raw.revoke_tokens_on_idp_logout.unwrap_or(true),
        timeout,
        refresh_interval,
        offboard_when_unrefreshable: raw.offboard_when_unrefreshable,
        unrefreshable_after,
    })
}

pub(super) fn url_scheme(url: &str) -> Option<&str> {
    url.split_once("://").map(|(s, _)| s)
}

pub(super) fn is_loopback(url: &str) -> bool {
    let host = url.split_once("://").map_or("", |(_, rest)| {
        rest.split(['/', '?', '#']).next().unwrap_or("")
    });
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<OidcSource>, Vec<(String, String)>> {
        parse_sources(&toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn a_minimal_source_gets_safe_defaults() {
        let s = parse(
            "[idp]\nissuer = \"https://id.example.com/\"\nclient_id = \"sg\"\nclient_secret = \"s3cret\"\n",
        )
        .unwrap()
        .remove(0);
        assert_eq!(s.issuer, "https://id.example.com");
        assert_eq!(s.algorithms, ["RS256", "ES256", "EdDSA"]);
        assert!(s.provision && s.revoke_tokens_on_idp_logout);
        assert!(s.accept_idp_mfa.is_empty(), "staffgate's TOTP by default");
        assert_eq!(s.scopes[0], "openid");
        assert!(
            !s.offboard_when_unrefreshable,
            "a refusal ends sessions only"
        );
        assert_eq!(s.unrefreshable_after, Duration::from_secs(86_400));
    }

    #[test]
    fn unrefreshable_after_is_a_duration_of_a_second_or_more() {
        let base = "[idp]\nissuer = \"https://x\"\nclient_id = \"sg\"\nclient_secret = \"s\"\n";
        let s = parse(&format!(
            "{base}offboard_when_unrefreshable = true\nunrefreshable_after = \"2h\"\n"
        ))
        .unwrap()
        .remove(0);
        assert!(s.offboard_when_unrefreshable);
        assert_eq!(s.unrefreshable_after, Duration::from_secs(7200));
        for bad in ["\"0s\"", "\"soon\""] {
            let err = parse(&format!("{base}unrefreshable_after = {bad}\n")).unwrap_err();
            assert_eq!(err[0].0, "oidc.idp.unrefreshable_after", "{err:?}");
        }
    }

    #[test]
    fn none_hmac_plain_http_and_a_missing_secret_are_refused_without_echoing_it() {
        let err = parse(
            "[idp]\nissuer = \"http://id.example.com\"\nclient_id = \"sg\"\nalgorithms = [\"none\", \"HS256\"]\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = err.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"oidc.idp.issuer"), "{err:?}");
        assert!(keys.contains(&"oidc.idp.client_secret"), "{err:?}");
        assert_eq!(
            keys.iter().filter(|k| **k == "oidc.idp.algorithms").count(),
            2
        );
        let err = parse(
            "[idp]\nissuer = \"https://x\"\nclient_id = \"sg\"\nclient_secret = \"hunter2\"\nbogus = 1\n",
        )
        .unwrap_err();
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }

    #[test]
    fn http_is_allowed_on_loopback_only() {
        for (issuer, ok) in [
            ("http://127.0.0.1:9000", true),
            ("http://localhost:9000/realms/x", true),
            ("http://127.0.0.1.evil.example", false),
            ("http://10.0.0.1", false),
        ] {
            let r = parse(&format!(
                "[idp]\nissuer = \"{issuer}\"\nclient_id = \"sg\"\nclient_secret = \"s\"\n"
            ));
            assert_eq!(r.is_ok(), ok, "{issuer}");
        }
    }
}
