//! LDAP sources as configured under `[ldap.<name>]`, with flavour presets filling the rest.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::guard::GuardLimits;

mod groups;
use groups::{group_config, netbios_guess};

/// Which directory server a source talks to; picks defaults for everything below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    Openldap,
    Freeipa,
    ActiveDirectory,
}

/// Where a person's groups come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSource {
    /// The user entry's `memberOf` values (OpenLDAP `memberof` overlay, FreeIPA, AD).
    MemberOf,
    /// Group entries listing their members; `nested` follows groups inside groups.
    Entries { nested: bool },
}

/// Where group entries live. Read for [`GroupSource::Entries`], and watched in persist mode
/// either way: OpenLDAP's memberof overlay rewrites `memberOf` behind syncprov's back, so a
/// membership change shows up only on the group entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntries {
    pub base_dn: String,
    pub filter: String,
    /// `member` / `uniqueMember` hold DNs; `memberUid` holds usernames.
    pub member_attribute: String,
    pub name_attribute: String,
}

/// How changes are followed between full syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// RFC 4533 refreshAndPersist where the server offers it, polling otherwise.
    Auto,
    Persist,
    Poll,
}

/// Which entry attribute feeds which staff field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeMap {
    pub username: String,
    pub email: String,
    /// Read when `email` is missing: AD's `userPrincipalName`, often the mail address.
    pub email_fallback: Option<String>,
    pub name: String,
    pub manager: Option<String>,
    /// A stable entry id: `entryUUID`, `ipaUniqueID`, `objectGUID`.
    pub id: String,
    /// More attributes exposed to policies as tags.
    pub extra: Vec<String>,
}

/// One validated LDAP source.
#[derive(Debug, Clone)]
pub struct LdapSource {
    pub name: String,
    pub flavour: Flavour,
    pub url: String,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    pub bind_dn: String,
    pub bind_password: SecretString,
    pub base_dn: String,
    pub user_filter: String,
    pub disabled_filter: Option<String>,
    pub attributes: AttributeMap,
    pub groups: GroupSource,
    pub group_entries: GroupEntries,
    pub mode: Mode,
    pub poll_interval: Duration,
    pub full_sync_interval: Duration,
    /// How polling finds changes: `uSNChanged` (AD's update sequence numbers, the AD
    /// default), or a timestamp attribute such as `modifyTimestamp`.
    pub change_attribute: String,
    /// The NetBIOS domain users may put before their name (`EXAMPLE\erin`); AD only.
    pub netbios_domain: Option<String>,
    /// Where people change an expired or must-change password, named in the refusal.
    pub password_change_url: Option<String>,
    pub page_size: i32,
    pub timeout: Duration,
    pub guard: GuardLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    url: String,
    flavour: Option<Flavour>,
    #[serde(default)]
    starttls: bool,
    ca_file: Option<PathBuf>,
    bind_dn: String,
    bind_password: Option<String>,
    bind_password_file: Option<PathBuf>,
    base_dn: String,
    user_filter: Option<String>,
    disabled_filter: Option<String>,
    #[serde(default)]
    attributes: RawAttributes,
    groups: Option<RawGroups>,
    mode: Option<Mode>,
    poll_interval: Option<String>,
    full_sync_interval: Option<String>,
    change_attribute: Option<String>,
    netbios_domain: Option<String>,
    password_change_url: Option<String>,
    page_size: Option<i64>,
    timeout: Option<String>,
    guard_max_leavers: Option<i64>,
    guard_max_percent: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAttributes {
    username: Option<String>,
    email: Option<String>,
    email_fallback: Option<String>,
    name: Option<String>,
    manager: Option<String>,
    id: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGroups {
    /// `memberOf`, or `entries` to read group entries.
    from: Option<String>,
    base_dn: Option<String>,
    filter: Option<String>,
    member_attribute: Option<String>,
    name_attribute: Option<String>,
    nested: Option<bool>,
}

impl Flavour {
    fn user_filter(self) -> &'static str {
        match self {
            Flavour::Openldap | Flavour::Freeipa => "(objectClass=inetOrgPerson)",
            Flavour::ActiveDirectory => "(&(objectCategory=person)(objectClass=user))",
        }
    }

    fn attributes(self) -> AttributeMap {
        let (username, name, id) = match self {
            Flavour::Openldap => ("uid", "cn", "entryUUID"),
            Flavour::Freeipa => ("uid", "cn", "ipaUniqueID"),
            Flavour::ActiveDirectory => ("sAMAccountName", "displayName", "objectGUID"),
        };
        AttributeMap {
            username: username.into(),
            email: "mail".into(),
            email_fallback: (self == Flavour::ActiveDirectory).then(|| "userPrincipalName".into()),
            name: name.into(),
            manager: Some("manager".into()),
            id: id.into(),
            extra: Vec::new(),
        }
    }

    /// The attributes the built-in leaver rules read; requested on every search.
    pub fn rule_attributes(self) -> &'static [&'static str] {
        match self {
            Flavour::Openldap => &["pwdAccountLockedTime", "pwdEndTime"],
            Flavour::Freeipa => &["nsAccountLock", "krbPrincipalExpiration"],
            Flavour::ActiveDirectory => &["userAccountControl", "accountExpires"],
        }
    }
}

pub(super) fn duration(raw: Option<&str>, default: Duration) -> Result<Duration, String> {
    match raw {
        None => Ok(default),
        Some(r) => match humantime::parse_duration(r) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(format!("not a positive duration: {r:?}")),
        },
    }
}

fn filter(raw: &str) -> Result<String, String> {
    ldap3::parse_filter(raw)
        .map(|_| raw.to_owned())
        .map_err(|_| format!("not a valid LDAP filter: {raw:?}"))
}

fn source(name: &str, raw: RawSource) -> Result<LdapSource, Vec<(String, String)>> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |key: &str, msg: String| problems.push((key.to_owned(), msg));
    let flavour = raw.flavour.unwrap_or(Flavour::Openldap);
    if !(raw.url.starts_with("ldap://") || raw.url.starts_with("ldaps://")) {
        problem("url", "must start with ldap:// or ldaps://".into());
    }
    if raw.starttls && raw.url.starts_with("ldaps://") {
        problem("starttls", "ldaps:// is already TLS; drop starttls".into());
    }
    if let Some(ca) = &raw.ca_file
        && !ca.is_file()
    {
        problem("ca_file", format!("no such file: {}", ca.display()));
    }
    let password = bind_password(raw.bind_password, raw.bind_password_file, &mut problem);
    if password.as_deref() == Some("") {
        // An empty password turns a simple bind into an anonymous one.
        problem("bind_password", "must not be empty".into());
    }
    for (key, value) in [("bind_dn", &raw.bind_dn), ("base_dn", &raw.base_dn)] {
        if value.trim().is_empty() {
            problem(key, "must not be empty".into());
        }
    }
    let user_filter = filter(raw.user_filter.as_deref().unwrap_or(flavour.user_filter()))
        .unwrap_or_else(|e| {
            problem("user_filter", e);
            String::new()
        });
    let disabled_filter = raw
        .disabled_filter
        .as_deref()
        .map(filter)
        .transpose()
        .unwrap_or_else(|e| {
            problem("disabled_filter", e);
            None
        });
    let preset = flavour.attributes();
    let attributes = AttributeMap {
        username: raw.attributes.username.unwrap_or(preset.username),
        email_fallback: match raw.attributes.email_fallback {
            Some(f) if f.is_empty() => None,
            Some(f) => Some(f),
            None => preset.email_fallback,
        },
        email: raw.attributes.email.unwrap_or(preset.email),
        name: raw.attributes.name.unwrap_or(preset.name),
        manager: raw
            .attributes
            .manager
            .or(preset.manager)
            .filter(|m| !m.is_empty()),
        id: raw.attributes.id.unwrap_or(preset.id),
        extra: raw.attributes.extra,
    };
    let (groups, group_entries) = group_config(
        raw.groups.unwrap_or_default(),
        flavour,
        &raw.base_dn,
        &mut problem,
    );
    let page_size = raw.page_size.unwrap_or(500);
    if !(1..=1000).contains(&page_size) {
        problem(
            "page_size",
            "must be 1–1000 (Active Directory's limit)".into(),
        );
    }
    let guard = guard_limits(raw.guard_max_leavers, raw.guard_max_percent, &mut problem);
    let poll_interval = duration(raw.poll_interval.as_deref(), Duration::from_secs(60))
        .unwrap_or_else(|e| {
            problem("poll_interval", e);
            Duration::from_secs(60)
        });
    let full_sync_interval = duration(raw.full_sync_interval.as_deref(), Duration::from_secs(3600))
        .unwrap_or_else(|e| {
            problem("full_sync_interval", e);
            Duration::from_secs(3600)
        });
    let change_attribute = raw.change_attribute.unwrap_or_else(|| {
        match flavour {
            Flavour::ActiveDirectory => "uSNChanged",
            _ => "modifyTimestamp",
        }
        .into()
    });
    let timeout = duration(raw.timeout.as_deref(), Duration::from_secs(30)).unwrap_or_else(|e| {
        problem("timeout", e);
        Duration::from_secs(30)
    });
    let mode = raw.mode.unwrap_or(match flavour {
        Flavour::ActiveDirectory => Mode::Poll,
        _ => Mode::Auto,
    });
    let netbios_domain = raw.netbios_domain.or_else(|| {
        (flavour == Flavour::ActiveDirectory)
            .then(|| netbios_guess(&raw.base_dn))
            .flatten()
    });
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|(k, m)| (format!("ldap.{name}.{k}"), m))
            .collect());
    }
    Ok(LdapSource {
        name: name.to_owned(),
        flavour,
        url: raw.url,
        starttls: raw.starttls,
        ca_file: raw.ca_file,
        bind_dn: raw.bind_dn,
        bind_password: SecretString::from(password.unwrap_or_default()),
        base_dn: raw.base_dn,
        user_filter,
        disabled_filter,
        attributes,
        groups,
        group_entries,
        mode,
        poll_interval,
        full_sync_interval,
        change_attribute,
        netbios_domain,
        password_change_url: raw.password_change_url,
        page_size: page_size as i32,
        timeout,
        guard,
    })
}

/// The bind password, given inline or in a file (never both, never neither).
fn bind_password(
    inline: Option<String>,
    file: Option<PathBuf>,
    problem: &mut impl FnMut(&str, String),
) -> Option<String> {
    match (inline, file) {
        (Some(p), None) => Some(p),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) => Some(text.trim_end_matches(['\n', '\r']).to_owned()),
            Err(e) => {
                problem(
                    "bind_password_file",
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        },
        (Some(_), Some(_)) => {
            problem(
                "bind_password",
                "give bind_password or bind_password_file, not both".into(),
            );
            None
        }
        (None, None) => {
            problem("bind_password", "required (or bind_password_file)".into());
            None
        }
    }
}

/// The mass guard's limits: at most `max_leavers` and `max_percent` of the source's people.
fn guard_limits(
    max_leavers: Option<i64>,
    max_percent: Option<f64>,
    problem: &mut impl FnMut(&str, String),
) -> GuardLimits {
    let defaults = GuardLimits::default();
    let max_share = max_percent.map_or(defaults.max_share, |p| p / 100.0);
    if !(0.0..=1.0).contains(&max_share) {
        problem("guard_max_percent", "must be 0–100".into());
    }
    let max_leavers = max_leavers.unwrap_or(defaults.max_leavers as i64);
    if max_leavers < 0 {
        problem("guard_max_leavers", "must not be negative".into());
    }
    GuardLimits {
        max_leavers: max_leavers.max(0) as usize,
        max_share,
    }
}

/// Parses the `[ldap]` table: one source per sub-table. Problems come back as (key, message).
pub fn parse_sources(table: &toml::Value) -> Result<Vec<LdapSource>, Vec<(String, String)>> {
    let Some(table) = table.as_table() else {
        return Err(vec![(
            "ldap".into(),
            "must be a table of sources: [ldap.corp]".into(),
        )]);
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in table {
        let valid_name = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            problems.push((
                format!("ldap.{name}"),
                "source names are 1–32 of a-z, 0-9 and '-'".into(),
            ));
            continue;
        }
        let raw: Result<RawSource, _> = value.clone().try_into();
        match raw {
            Ok(raw) => match source(name, raw) {
                Ok(s) => sources.push(s),
                Err(p) => problems.extend(p),
            },
            // serde's message names the field and never echoes values.
            Err(e) => problems.push((format!("ldap.{name}"), e.message().to_owned())),
        }
    }
    if problems.is_empty() {
        Ok(sources)
    } else {
        Err(problems)
    }
}
