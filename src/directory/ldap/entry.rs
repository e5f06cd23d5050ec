//! From an LDAP entry to a [`DirectoryPerson`]: attribute mapping, group names and the
//! built-in leaver rules. Pure; the I/O lives in `search` and `persist`.

use std::collections::{HashMap, HashSet};

use ldap3::SearchEntry;

use super::config::{GroupSource, LdapSource};
use crate::directory::person::{DirectoryPerson, Skipped};
use crate::domain::staff::Attributes;
use crate::domain::{GroupName, Username};

/// OpenLDAP ppolicy's value for "locked by an administrator until unlocked".
const LOCKED_FOREVER: &str = "000001010000Z";
/// Active Directory's userAccountControl ACCOUNTDISABLE bit.
const ACCOUNTDISABLE: i64 = 0x2;
/// Seconds between 1601-01-01 (Windows FILETIME) and 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;

fn values<'a>(entry: &'a SearchEntry, name: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

fn first<'a>(entry: &'a SearchEntry, name: &str) -> Option<&'a str> {
    values(entry, name)
        .first()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
}

/// Lower-cased, with spaces around separators removed, so DNs from different attributes match.
pub fn normalize_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    for part in dn.split(',') {
        if !out.is_empty() {
            out.push(',');
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        out.push_str(&k.trim().to_ascii_lowercase());
        out.push('=');
        out.push_str(&v.trim().to_lowercase());
    }
    out
}

/// The value of a DN's first RDN (`cn=Support Team,ou=groups,…` → `Support Team`),
/// with `\,`-style and `\2C`-style escapes undone.
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let (_, rest) = dn.split_once('=')?;
    let mut out = Vec::new();
    let mut bytes = rest.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b',' | b'+' => break,
            b'\\' => {
                let hi = bytes.next()?;
                let hex = |c: u8| (c as char).to_digit(16);
                match hex(hi) {
                    Some(h) => {
                        let lo = hex(bytes.next()?)?;
                        out.push((h * 16 + lo) as u8);
                    }
                    None => out.push(hi),
                }
            }
            other => out.push(other),
        }
    }
    let text = String::from_utf8(out).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The built-in leaver rules, on the attributes an entry carries. `now` is Unix seconds.
///
/// A ppolicy lockout with a timestamp is a temporary lock after failed passwords, not a
/// departure: anyone could trigger it by guessing wrong, so it never offboards. Only the
/// administrator's permanent lock does.
pub fn leaver_rule(entry: &SearchEntry, now: i64) -> Option<String> {
    if let Some(uac) = first(entry, "userAccountControl").and_then(|v| v.parse::<i64>().ok())
        && uac & ACCOUNTDISABLE != 0
    {
        return Some("userAccountControl: ACCOUNTDISABLE".into());
    }
    if let Some(expires) = first(entry, "accountExpires").and_then(|v| v.parse::<i64>().ok())
        && expires != 0
        && expires != i64::MAX
        && expires / 10_000_000 - FILETIME_UNIX_OFFSET < now
    {
        return Some("accountExpires: in the past".into());
    }
    if let Some(end) = ["pwdEndTime", "krbPrincipalExpiration"]
        .iter()
        .find_map(|a| first(entry, a).and_then(generalized_millis))
        && end < now * 1000
    {
        return Some("account end time: in the past".into());
    }
    if first(entry, "pwdAccountLockedTime") == Some(LOCKED_FOREVER) {
        return Some("pwdAccountLockedTime: locked by an administrator".into());
    }
    if first(entry, "nsAccountLock").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Some("nsAccountLock: TRUE".into());
    }
    None
}

/// Group memberships read from group entries, nested groups already followed.
#[derive(Debug, Default)]
pub struct GroupIndex {
    /// Member key (normalized DN, or username for `memberUid`) → group names.
    by_member: HashMap<String, Vec<GroupName>>,
    /// Normalized group DN → its name.
    names: HashMap<String, GroupName>,
    pub skipped: Vec<Skipped>,
}

impl GroupIndex {
    /// Builds the index from group entries: (dn, name, member values).
    pub fn build(groups: Vec<(String, String, Vec<String>)>, nested: bool) -> GroupIndex {
        let mut index = GroupIndex::default();
        let mut names: HashMap<String, GroupName> = HashMap::new();
        let mut members: Vec<(String, Vec<String>)> = Vec::new();
        for (dn, name, list) in groups {
            match GroupName::parse(&name) {
                Ok(g) => {
                    let key = normalize_dn(&dn);
                    names.insert(key.clone(), g);
                    members.push((key, list));
                }
                Err(e) => index.skipped.push(Skipped {
                    dn,
                    reason: format!("group name {name:?}: {e}"),
                }),
            }
        }
        // parents[g] = groups that list g as a member.
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut direct: HashMap<String, Vec<&str>> = HashMap::new();
        for (group, list) in &members {
            for m in list {
                let key = if m.contains('=') {
                    normalize_dn(m)
                } else {
                    m.clone()
                };
                if nested && let Some((child, _)) = names.get_key_value(&key) {
                    parents.entry(child.as_str()).or_default().push(group);
                }
                direct.entry(key).or_default().push(group);
            }
        }
        let mut closure: HashMap<&str, Vec<GroupName>> = HashMap::new();
        for group in names.keys() {
            // Breadth-first up the parents; `seen` stops cycles.
            let mut seen: HashSet<&str> = HashSet::from([group.as_str()]);
            let mut queue = vec![group.as_str()];
            while let Some(g) = queue.pop() {
                for p in parents.get(g).into_iter().flatten() {
                    if seen.insert(p) {
                        queue.push(p);
                    }
                }
            }
            let mut all: Vec<GroupName> = seen.iter().map(|g| names[*g].clone()).collect();
            all.sort();
            closure.insert(group.as_str(), all);
        }
        for (member, groups) in direct {
            if names.contains_key(&member) {
                continue; // a group, not a person
            }
            let mut all: Vec<GroupName> = groups
                .iter()
                .flat_map(|g| closure[g].iter().cloned())
                .collect();
            all.sort();
            all.dedup();
            index.by_member.insert(member, all);
        }
        index.names = names;
        index
    }

    /// The members (DNs, or usernames for `memberUid`) that are in any of these groups
    /// (normalized DNs), directly or through nesting.
    pub fn members_of_groups(&self, groups: &HashSet<String>) -> Vec<String> {
        let wanted: HashSet<&GroupName> = groups.iter().filter_map(|g| self.names.get(g)).collect();
        self.by_member
            .iter()
            .filter(|(_, gs)| gs.iter().any(|g| wanted.contains(g)))
            .map(|(m, _)| m.clone())
            .collect()
    }

    fn of(&self, dn: &str, username: &str) -> Vec<GroupName> {
        let mut all = self
            .by_member
            .get(&normalize_dn(dn))
            .cloned()
            .unwrap_or_default();
        all.extend(self.by_member.get(username).cloned().unwrap_or_default());
        all.sort();
        all.dedup();
        all
    }
}

/// AD's objectGUID in the form its tools show (`{12345678-…}` without the braces): the
/// first three fields are little-endian on the wire.
pub fn guid_string(b: &[u8]) -> Option<String> {
    let b: &[u8; 16] = b.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        hex::encode(&b[10..])
    ))
}

/// The entry's stable id: text ids as they are, `objectGUID` in its string form, another
/// binary id in hex.
pub fn external_id(entry: &SearchEntry, attr: &str) -> Option<String> {
    if let Some(text) = first(entry, attr) {
        return Some(text.to_owned());
    }
    let raw = entry
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())?;
    if attr.eq_ignore_ascii_case("objectGUID") {
        guid_string(raw)
    } else {
        Some(hex::encode(raw))
    }
}

/// When the account stops working by itself, in Unix milliseconds: AD's `accountExpires`
/// (FILETIME; 0 and the maximum mean never), OpenLDAP's `pwdEndTime`, FreeIPA's
/// `krbPrincipalExpiration` (GeneralizedTime).
pub fn expires_at(entry: &SearchEntry) -> Option<i64> {
    if let Some(ft) = first(entry, "accountExpires").and_then(|v| v.parse::<i64>().ok())
        && ft != 0
        && ft != i64::MAX
    {
        return Some((ft / 10_000 - FILETIME_UNIX_OFFSET * 1000).max(0));
    }
    ["pwdEndTime", "krbPrincipalExpiration"]
        .iter()
        .find_map(|a| first(entry, a).and_then(generalized_millis))
}

/// GeneralizedTime (`20261203120000Z`, fractions allowed) → Unix milliseconds.
fn generalized_millis(v: &str) -> Option<i64> {
    let digits = v.strip_suffix('Z')?;
    let whole = digits.split(['.', ',']).next()?;
    let t = chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S").ok()?;
    Some(t.and_utc().timestamp_millis())
}

/// What an entry's mapping needs besides the entry.
pub struct MapContext<'a> {
    pub source: &'a LdapSource,
    pub groups: Option<&'a GroupIndex>,
    /// Normalized DNs the source's `disabled_filter` matched.
    pub disabled: &'a HashSet<String>,
    pub now: i64,
}

/// Maps one entry, or says why it was skipped.
pub fn person(cx: &MapContext<'_>, entry: &SearchEntry) -> Result<DirectoryPerson, Skipped> {
    let map = &cx.source.attributes;
    let skip = |reason: String| Skipped {
        dn: entry.dn.clone(),
        reason,
    };
    let raw =
        first(entry, &map.username).ok_or_else(|| skip(format!("missing {}", map.username)))?;
    let username = Username::parse(raw).map_err(|e| skip(format!("{}: {e}", map.username)))?;
    let email = first(entry, &map.email)
        .or_else(|| map.email_fallback.as_deref().and_then(|f| first(entry, f)))
        .ok_or_else(|| skip(format!("missing {}", map.email)))?;
    if entry.dn.chars().any(char::is_control) {
        return Err(skip("the DN holds control characters".into()));
    }
    if !email.contains('@')
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(skip(format!("{}: not an e-mail address", map.email)));
    }
    let name = first(entry, &map.name)
        .filter(|n| n.chars().count() <= 200 && !n.chars().any(char::is_control))
        .unwrap_or(username.as_str())
        .to_owned();
    let groups = match &cx.source.groups {
        GroupSource::MemberOf => values(entry, "memberOf")
            .iter()
            .filter_map(|dn| first_rdn_value(dn))
            .filter_map(|n| GroupName::parse(&n).ok())
            .collect(),
        GroupSource::Entries { .. } => cx
            .groups
            .map(|g| g.of(&entry.dn, username.as_str()))
            .unwrap_or_default(),
    };
    let mut attributes = Attributes::new();
    if let Some(manager) = &map.manager {
        let managers: Vec<String> = values(entry, manager)
            .iter()
            .filter_map(|dn| first_rdn_value(dn))
            .filter(|v| !v.chars().any(char::is_control))
            .collect();
        if !managers.is_empty() {
            attributes.insert("manager".into(), managers);
        }
    }
    for extra in &map.extra {
        // Values policies can compare: printable, of a sane size.
        let v: Vec<String> = values(entry, extra)
            .iter()
            .filter(|v| v.len() <= 1024 && !v.chars().any(char::is_control))
            .cloned()
            .collect();
        if !v.is_empty() {
            attributes.insert(extra.clone(), v);
        }
    }
    let external_id = external_id(entry, &map.id);
    let disabled = leaver_rule(entry, cx.now).or_else(|| {
        cx.disabled
            .contains(&normalize_dn(&entry.dn))
            .then(|| "disabled_filter matched".to_owned())
    });
    Ok(DirectoryPerson {
        username,
        email: email.to_owned(),
        name,
        groups,
        attributes,
        dn: entry.dn.clone(),
        external_id,
        disabled,
        expires_at: expires_at(entry),
    })
}

/// The attributes to request for user entries.
pub fn user_attributes(source: &LdapSource) -> Vec<String> {
    let map = &source.attributes;
    let mut list = vec![
        map.username.clone(),
        map.email.clone(),
        map.name.clone(),
        map.id.clone(),
    ];
    list.extend(map.manager.clone());
    list.extend(map.email_fallback.clone());
    list.extend(map.extra.iter().cloned());
    if source.groups == GroupSource::MemberOf {
        list.push("memberOf".into());
    }
    list.extend(
        source
            .flavour
            .rule_attributes()
            .iter()
            .map(|s| s.to_string()),
    );
    list
}

#[cfg(test)]
mod tests;
