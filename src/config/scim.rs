//! `[scim.<name>]`: an identity provider that pushes staff to staffgate over SCIM 2.0
//! (`/scim/v2/<name>/…`, with bearer tokens from `staffgate scim token create <name>`).

use serde::Deserialize;

use crate::domain::guard::GuardLimits;

/// One SCIM push source.
#[derive(Debug, Clone)]
pub struct ScimSource {
    /// The configured name: its people are `scim:<name>`, its base `/scim/v2/<name>`.
    pub name: String,
    /// Re-activating an offboarded person (`active: true` again) reinstates them; off by
    /// default, so a provider cannot bring a leaver back by itself.
    pub reinstate: bool,
    /// More deactivations than this within the guard's window are held for an admin.
    pub guard: GuardLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default)]
    reinstate: bool,
    max_leavers: Option<usize>,
    max_share: Option<f64>,
}

/// Reads every `[scim.<name>]` table; all problems at once, keyed `scim.<name>.<field>`.
pub fn parse_sources(table: &toml::Value) -> Result<Vec<ScimSource>, Vec<(String, String)>> {
    let Some(table) = table.as_table() else {
        return Err(vec![(
            "scim".into(),
            "must be a table of sources: [scim.entra]".into(),
        )]);
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in table {
        if !super::oidc::valid_name(name) {
            problems.push((
                format!("scim.{name}"),
                "source names are 1–32 of a-z, 0-9 and '-'".into(),
            ));
            continue;
        }
        let raw = match value.clone().try_into::<RawSource>() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push((format!("scim.{name}"), e.message().to_owned()));
                continue;
            }
        };
        let defaults = GuardLimits::default();
        let max_share = raw.max_share.unwrap_or(defaults.max_share);
        if !(0.0..=1.0).contains(&max_share) {
            problems.push((
                format!("scim.{name}.max_share"),
                "must be a share between 0 and 1, such as 0.05".into(),
            ));
            continue;
        }
        sources.push(ScimSource {
            name: name.clone(),
            reinstate: raw.reinstate,
            guard: GuardLimits {
                max_leavers: raw.max_leavers.unwrap_or(defaults.max_leavers),
                max_share,
            },
        });
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ScimSource>, Vec<(String, String)>> {
        parse_sources(&toml::from_str::<toml::Value>(text).unwrap())
    }

    #[test]
    fn a_source_needs_nothing_and_reinstates_nobody_by_default() {
        let s = parse("[entra]\n").unwrap().remove(0);
        assert_eq!(s.name, "entra");
        assert!(!s.reinstate);
        assert_eq!(s.guard, GuardLimits::default());
        let s = parse("[okta]\nreinstate = true\nmax_leavers = 3\nmax_share = 0.5\n")
            .unwrap()
            .remove(0);
        assert!(s.reinstate);
        assert_eq!(s.guard.max_leavers, 3);
    }

    #[test]
    fn bad_names_keys_and_shares_are_named() {
        let err = parse("[Bad_Name]\n[ok]\nmax_share = 7.0\n[ok2]\nbogus = 1\n").unwrap_err();
        let keys: Vec<&str> = err.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["scim.Bad_Name", "scim.ok.max_share", "scim.ok2"]);
    }
}
