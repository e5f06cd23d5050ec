//! `[console]`: which directory groups make someone an admin, HR or an auditor in the
//! browser console. The groups are read from the person's record on every request, so a
//! leaver or a mover loses the console at the next click.

use serde::Deserialize;

use crate::domain::{GroupName, Role};

/// Directory groups per console role; a person in none of them has no console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleRoles {
    pub admin: Vec<GroupName>,
    pub hr: Vec<GroupName>,
    pub auditor: Vec<GroupName>,
}

impl ConsoleRoles {
    /// The strongest role these groups give (admin, then HR, then auditor). Names match
    /// exactly, as they do in policies.
    pub fn role_for(&self, groups: &[GroupName]) -> Option<Role> {
        let any = |mapped: &[GroupName]| groups.iter().any(|g| mapped.contains(g));
        if any(&self.admin) {
            Some(Role::Admin)
        } else if any(&self.hr) {
            Some(Role::Hr)
        } else if any(&self.auditor) {
            Some(Role::Auditor)
        } else {
            None
        }
    }

    pub fn is_empty(&self) -> bool {
        self.admin.is_empty() && self.hr.is_empty() && self.auditor.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    admin: Vec<String>,
    #[serde(default)]
    hr: Vec<String>,
    #[serde(default)]
    auditor: Vec<String>,
}

/// Reads the `[console]` table; every problem at once, keyed `console.<role>`.
pub fn parse(value: &toml::Value) -> Result<ConsoleRoles, Vec<(String, String)>> {
    let raw: Raw = value
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| vec![("console".to_owned(), e.message().to_owned())])?;
    let mut problems = Vec::new();
    let mut groups = |role: &str, names: Vec<String>| -> Vec<GroupName> {
        names
            .iter()
            .filter_map(|n| match GroupName::parse(n) {
                Ok(g) => Some(g),
                Err(e) => {
                    problems.push((format!("console.{role}"), e.to_string()));
                    None
                }
            })
            .collect()
    };
    let roles = ConsoleRoles {
        admin: groups("admin", raw.admin),
        hr: groups("hr", raw.hr),
        auditor: groups("auditor", raw.auditor),
    };
    if problems.is_empty() {
        Ok(roles)
    } else {
        Err(problems)
    }
}

/// `STAFFGATE_CONSOLE_ADMIN=it-admins,security`: a comma-separated list of groups.
pub fn parse_list(raw: &str) -> Result<Vec<GroupName>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| GroupName::parse(s).map_err(|e| e.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str) -> GroupName {
        GroupName::parse(name).unwrap()
    }

    fn roles() -> ConsoleRoles {
        parse(
            &toml::toml! { admin = ["it-admins"] hr = ["hr", "people-ops"] auditor = ["audit"] }
                .into(),
        )
        .unwrap()
    }

    #[test]
    fn the_strongest_mapped_group_wins() {
        let r = roles();
        assert_eq!(r.role_for(&[g("audit"), g("it-admins")]), Some(Role::Admin));
        assert_eq!(r.role_for(&[g("support"), g("people-ops")]), Some(Role::Hr));
        assert_eq!(r.role_for(&[g("audit")]), Some(Role::Auditor));
    }

    #[test]
    fn a_person_in_no_mapped_group_has_no_console() {
        assert_eq!(roles().role_for(&[g("support")]), None);
        assert_eq!(roles().role_for(&[]), None);
        // Names match exactly, as in policies.
        assert_eq!(roles().role_for(&[g("IT-Admins")]), None);
    }

    #[test]
    fn unknown_roles_and_bad_names_are_named() {
        let bad = parse(&toml::toml! { owner = ["x"] }.into()).unwrap_err();
        assert_eq!(bad[0].0, "console");
        let bad = parse(&toml::toml! { hr = ["a\u{202E}b"] }.into()).unwrap_err();
        assert_eq!(bad[0].0, "console.hr");
    }
}
