//! From a provider's verified claims to a directory person, and to the factor that met the
//! second-factor requirement. Pure: nothing here does I/O.

use serde_json::{Map, Value};

use super::OidcError;
use crate::config::oidc::OidcSource;
use crate::directory::person::DirectoryPerson;
use crate::domain::Username;
use crate::domain::names::GroupName;
use crate::domain::staff::Attributes;

/// A provider lists groups by the hundred at most; more is a misconfiguration or an attack.
const MAX_GROUPS: usize = 1_000;

fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A claim as a list of strings: an array of strings, or one string.
fn texts(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// The person a provider's claims describe. The stable id is the provider's `sub`: people
/// are told apart by (source, `sub`), never by e-mail or username.
pub fn person(
    source: &OidcSource,
    subject: &str,
    claims: &Map<String, Value>,
) -> Result<DirectoryPerson, OidcError> {
    let raw = text(claims, &source.username_claim)
        .ok_or_else(|| OidcError::MissingClaim(source.username_claim.clone()))?;
    // `alice@example.com` as a username claim means alice: the part before the @.
    let name = raw.split('@').next().unwrap_or(&raw).to_lowercase();
    let username = Username::parse(&name).map_err(|_| OidcError::BadUsername(raw.clone()))?;
    let all_groups = texts(claims, &source.groups_claim);
    if all_groups.len() > MAX_GROUPS {
        return Err(OidcError::TooManyGroups(all_groups.len()));
    }
    let mut groups: Vec<GroupName> = all_groups
        .iter()
        .filter_map(|g| GroupName::parse(g).ok())
        .collect();
    groups.sort();
    groups.dedup();
    let mut attributes = Attributes::new();
    for (tag, claim) in &source.tags {
        let values = texts(claims, claim);
        if !values.is_empty() {
            attributes.insert(tag.clone(), values);
        }
    }
    Ok(DirectoryPerson {
        username,
        email: text(claims, &source.email_claim).unwrap_or_default(),
        name: text(claims, &source.name_claim).unwrap_or_else(|| name.clone()),
        groups,
        attributes,
        dn: format!("sub={subject}"),
        external_id: Some(subject.to_owned()),
        disabled: None,
        expires_at: None,
    })
}

/// Which of the provider's authentication facts the deployment accepts in place of
/// staffgate's TOTP (`idp:amr:<value>` or `idp:acr:<value>`), if any.
pub fn idp_factor(source: &OidcSource, amr: &[String], acr: Option<&str>) -> Option<String> {
    if let Some(m) = amr.iter().find(|m| source.accept_idp_mfa.contains(m)) {
        return Some(format!("idp:amr:{m}"));
    }
    acr.filter(|a| source.accept_acr.iter().any(|x| x == a))
        .map(|a| format!("idp:acr:{a}"))
}

/// Whether a factor recorded at sign-in (`idp:amr:mfa`) is one the source still accepts: a
/// deployment that stops accepting it stops at once, not when the sessions expire.
pub fn still_accepted(source: &OidcSource, factor: &str) -> bool {
    match factor.strip_prefix("idp:").and_then(|f| f.split_once(':')) {
        Some(("amr", m)) => source.accept_idp_mfa.iter().any(|x| x == m),
        Some(("acr", a)) => source.accept_acr.iter().any(|x| x == a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source(extra: &str) -> OidcSource {
        let text = format!(
            "[idp]\nissuer = \"https://id.example.com\"\nclient_id = \"sg\"\nclient_secret = \"s\"\n{extra}"
        );
        crate::config::oidc::parse_sources(&toml::from_str(&text).unwrap())
            .unwrap()
            .remove(0)
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_person_is_named_by_sub_and_takes_groups_and_tags() {
        let s = source("[idp.tags]\ndepartment = \"dept\"\n");
        let p = person(
            &s,
            "00u1",
            &claims(json!({
                "preferred_username": "Alice@example.com", "email": "a@example.com",
                "groups": ["support", "support", "bad\u{202e}name"], "dept": "billing"
            })),
        )
        .unwrap();
        assert_eq!(p.username.as_str(), "alice");
        assert_eq!(p.external_id.as_deref(), Some("00u1"));
        let groups: Vec<&str> = p.groups.iter().map(|g| g.as_str()).collect();
        assert_eq!(groups, ["support"]);
        assert_eq!(p.attributes["department"], ["billing"]);
    }

    #[test]
    fn a_missing_or_unusable_username_and_a_flood_of_groups_are_refused() {
        let s = source("");
        assert!(matches!(
            person(&s, "x", &claims(json!({}))),
            Err(OidcError::MissingClaim(_))
        ));
        assert!(matches!(
            person(&s, "x", &claims(json!({"preferred_username": "a b/../c"}))),
            Err(OidcError::BadUsername(_))
        ));
        let many: Vec<String> = (0..5000).map(|i| format!("g{i}")).collect();
        assert!(matches!(
            person(
                &s,
                "x",
                &claims(json!({"preferred_username": "a", "groups": many}))
            ),
            Err(OidcError::TooManyGroups(5000))
        ));
    }

    #[test]
    fn idp_mfa_counts_only_where_the_deployment_says_so() {
        let none = source("");
        assert_eq!(idp_factor(&none, &["mfa".into()], Some("gold")), None);
        let some = source("accept_idp_mfa = [\"mfa\", \"hwk\"]\naccept_acr = [\"gold\"]\n");
        assert_eq!(
            idp_factor(&some, &["pwd".into(), "hwk".into()], None).as_deref(),
            Some("idp:amr:hwk")
        );
        assert_eq!(
            idp_factor(&some, &["pwd".into()], Some("gold")).as_deref(),
            Some("idp:acr:gold")
        );
        assert_eq!(idp_factor(&some, &["pwd".into()], Some("silver")), None);
        assert!(still_accepted(&some, "idp:amr:hwk"));
        assert!(still_accepted(&some, "idp:acr:gold"));
        assert!(!still_accepted(&none, "idp:amr:hwk"));
        assert!(!still_accepted(&some, "idp:amr:pwd"));
        assert!(!still_accepted(&some, "totp"));
    }
}
