//! Where a source's groups are read, and the names read off its base DN.

use super::{Flavour, GroupEntries, GroupSource, RawGroups, filter};

/// The domain part of a DN: `ou=people,dc=example,dc=org` → `dc=example,dc=org`, the
/// base where groups are looked for by default. A DN that is the domain root stays itself
/// (its parent, `dc=org`, holds nothing a search may read); one without `dc=` parts falls
/// back to its parent.
pub(super) fn domain_root(dn: &str) -> String {
    let parts: Vec<&str> = dn.split(',').map(str::trim).collect();
    if let Some(i) = parts
        .iter()
        .position(|p| p.get(..3).is_some_and(|k| k.eq_ignore_ascii_case("dc=")))
    {
        return parts[i..].join(",");
    }
    match dn.split_once(',') {
        Some((_, parent)) if !parent.trim().is_empty() => parent.trim().to_owned(),
        _ => dn.to_owned(),
    }
}

/// `DC=example,DC=test` → `EXAMPLE`: the usual NetBIOS name; `netbios_domain` overrides.
pub(super) fn netbios_guess(base_dn: &str) -> Option<String> {
    let root = domain_root(base_dn);
    let first = root.split(',').next()?;
    let (_, v) = first.split_once('=')?;
    (!v.trim().is_empty()).then(|| v.trim().to_uppercase())
}

/// Where group membership is read from, and how group entries are found.
pub(super) fn group_config(
    raw_groups: RawGroups,
    flavour: Flavour,
    base_dn: &str,
    problem: &mut impl FnMut(&str, String),
) -> (GroupSource, GroupEntries) {
    let groups = match (raw_groups.from.as_deref(), flavour) {
        // AD nests groups; memberOf lists only direct ones.
        (None, Flavour::ActiveDirectory) => GroupSource::Entries { nested: true },
        (None, _) => GroupSource::MemberOf,
        (Some(f), _) if f.eq_ignore_ascii_case("memberOf") => GroupSource::MemberOf,
        (Some("entries"), _) => GroupSource::Entries {
            nested: raw_groups
                .nested
                .unwrap_or(flavour == Flavour::ActiveDirectory),
        },
        (Some(_), _) => {
            problem("groups.from", "must be memberOf or entries".into());
            GroupSource::MemberOf
        }
    };
    let member_attribute = raw_groups
        .member_attribute
        .unwrap_or_else(|| "member".into());
    if !["member", "uniqueMember", "memberUid"].contains(&member_attribute.as_str()) {
        problem(
            "groups.member_attribute",
            "must be member, uniqueMember or memberUid".into(),
        );
    }
    let default_filter = match flavour {
        Flavour::ActiveDirectory => "(objectClass=group)",
        _ => {
            "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
        }
    };
    let group_entries = GroupEntries {
        // By default groups are looked for in the whole domain.
        base_dn: raw_groups.base_dn.unwrap_or_else(|| domain_root(base_dn)),
        filter: filter(raw_groups.filter.as_deref().unwrap_or(default_filter)).unwrap_or_else(
            |e| {
                problem("groups.filter", e);
                String::new()
            },
        ),
        member_attribute,
        name_attribute: raw_groups.name_attribute.unwrap_or_else(|| "cn".into()),
    };
    (groups, group_entries)
}
