//! `[scim_pull.<name>]`: an identity provider whose SCIM `Users` (and `Groups`) staffgate
//! reads itself, with an OAuth 2.0 client-credentials token, for providers that push late
//! or never. `push = "<scim source>"` names the push source of the same provider: its
//! people are then one set, read both ways.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::guard::GuardLimits;

/// One SCIM pull source.
#[derive(Debug, Clone)]
pub struct ScimPullSource {
    pub name: String,
    /// The provider's SCIM base (`…/scim/v2`), without a trailing slash.
    pub url: String,
    /// The provider's OAuth 2.0 token endpoint.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Scopes to ask the token for; none by default.
    pub scopes: Vec<String>,
    /// How often the whole list is read and reconciled.
    pub interval: Duration,
    /// Asked of the provider per page (`count`); unset lets the provider choose.
    pub page_size: Option<u32>,
    /// The push source of the same provider, whose people these are.
    pub push: Option<String>,
    /// Whether `Groups` is read for memberships.
    pub groups: bool,
    pub timeout: Duration,
    pub guard: GuardLimits,
}

impl ScimPullSource {
    /// The source name on its people's rows (`scim:<name>`): the push source's, when linked.
    pub fn people_of(&self) -> &str {
        self.push.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    url: String,
    token_url: String,
    client_id: String,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    #[serde(default)]
    scopes: Vec<String>,
    interval: Option<String>,
    page_size: Option<u32>,
    push: Option<String>,
    #[serde(default = "yes")]
    groups: bool,
    timeout: Option<String>,
    max_leavers: Option<usize>,
    max_share: Option<f64>,
}

fn yes() -> bool {
    true
}

/// An `https://` URL, or `http://` on loopback.
fn endpoint(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/').to_owned();
    match super::oidc::url_scheme(&url) {
        Some("https") => Ok(url),
        Some("http") if super::oidc::is_loopback(&url) => Ok(url),
        _ => Err("must be an https:// URL (http:// only on loopback)".into()),
    }
}

/// Reads every `[scim_pull.<name>]` table; all problems at once.
pub fn parse_sources(table: &toml::Value) -> Result<Vec<ScimPullSource>, Vec<(String, String)>> {
    super::sources::each(table, "scim_pull", "okta", source)
}

fn source(name: &str, raw: RawPull) -> Result<ScimPullSource, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, why: String| {
        problems.push((format!("scim_pull.{name}.{field}"), why));
    };
    let url = endpoint(&raw.url).map_err(|e| problem("url", e)).ok();
    let token_url = endpoint(&raw.token_url)
        .map_err(|e| problem("token_url", e))
        .ok();
    if raw.client_id.trim().is_empty() {
        problem("client_id", "must not be empty".into());
    }
    let secret =
        super::sources::client_secret(raw.client_secret, raw.client_secret_file, &mut problem);
    let interval = super::ldap::duration(raw.interval.as_deref(), Duration::from_secs(300))
        .map_err(|e| problem("interval", e))
        .ok();
    let timeout = super::ldap::duration(raw.timeout.as_deref(), Duration::from_secs(30))
        .map_err(|e| problem("timeout", e))
        .ok();
    if raw.page_size.is_some_and(|n| n == 0 || n > 1000) {
        problem("page_size", "must be 1 to 1000".into());
    }
    let defaults = GuardLimits::default();
    let max_share = raw.max_share.unwrap_or(defaults.max_share);
    if !(0.0..=1.0).contains(&max_share) {
        problem(
            "max_share",
            "must be a share between 0 and 1, such as 0.05".into(),
        );
    }
    match (url, token_url, secret, interval, timeout) {
        (Some(url), Some(token_url), Some(secret), Some(interval), Some(timeout))
            if problems.is_empty() =>
        {
            Ok(ScimPullSource {
                name: name.to_owned(),
                url,
                token_url,
                client_id: raw.client_id.trim().to_owned(),
                client_secret: SecretString::from(secret),
                scopes: raw.scopes,
                interval,
                page_size: raw.page_size,
                push: raw.push,
                groups: raw.groups,
                timeout,
                guard: GuardLimits {
                    max_leavers: raw.max_leavers.unwrap_or(defaults.max_leavers),
                    max_share,
                },
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ScimPullSource>, Vec<(String, String)>> {
        parse_sources(&toml::from_str::<toml::Value>(text).unwrap())
    }

    const BASE: &str = "url = \"https://idp.example.com/scim/v2/\"\ntoken_url = \"https://idp.example.com/oauth/token\"\nclient_id = \"sg\"\nclient_secret = \"s3cret\"\n";

    #[test]
    fn a_source_reads_every_five_minutes_and_hides_its_secret() {
        let s = parse(&format!("[okta]\n{BASE}")).unwrap().remove(0);
        assert_eq!(s.url, "https://idp.example.com/scim/v2");
        assert_eq!(s.interval, Duration::from_secs(300));
        assert_eq!(s.people_of(), "okta");
        assert!(s.groups);
        assert!(!format!("{s:?}").contains("s3cret"));
        let s = parse(&format!(
            "[okta]\n{BASE}push = \"okta-push\"\ninterval = \"1m\"\n"
        ))
        .unwrap()
        .remove(0);
        assert_eq!(s.people_of(), "okta-push");
        assert_eq!(s.interval, Duration::from_secs(60));
    }

    #[test]
    fn plain_http_off_loopback_and_bad_values_are_named() {
        let text = "[a]\nurl = \"http://idp.example.com/scim\"\ntoken_url = \"http://127.0.0.1:9/t\"\nclient_id = \"\"\npage_size = 0\n";
        let keys: Vec<String> = parse(text).unwrap_err().into_iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            [
                "scim_pull.a.url",
                "scim_pull.a.client_id",
                "scim_pull.a.client_secret",
                "scim_pull.a.page_size"
            ]
        );
    }
}
