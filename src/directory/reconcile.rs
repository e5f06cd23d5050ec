//! Reconciliation as a pure function: what a directory says, against who staffgate knows,
//! gives a plan of joiners, movers and leavers. Nothing here touches the database.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::MANUAL;
use super::person::{DirectoryPerson, Gone, Skipped};
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::store::staff::Origin;

/// Which people a source's answer covers.
pub enum Coverage {
    /// Everyone in scope: a person of this source who is not in the answer has left.
    Full,
    /// Only these changes: the people listed, and those reported gone.
    Changes(Vec<Gone>),
}

/// A person whose directory facts changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mover {
    pub person: DirectoryPerson,
    /// What changed: `username` (a rename, found by the stable id), `groups`, `email`,
    /// `name`, `attributes`, `entry`, `expiry`, or `source` when a person put by hand is
    /// taken over by the directory.
    pub changed: Vec<String>,
    /// The username staffgate knows them by, when the directory renamed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

/// A person to offboard, with the rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaver {
    pub username: String,
    pub rule: String,
}

/// What applying a directory answer would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub source: String,
    #[serde(default)]
    pub kind: SourceKind,
    /// New people, created `pending`.
    pub joiners: Vec<DirectoryPerson>,
    pub movers: Vec<Mover>,
    pub leavers: Vec<Leaver>,
    pub skipped: Vec<Skipped>,
    /// How many entries the source returned.
    pub entries: usize,
    /// How many of the source's people were not offboarded before the plan.
    pub active_before: usize,
}

impl Plan {
    /// The source as stored on its people's rows.
    pub fn origin(&self) -> String {
        self.kind.origin(&self.source)
    }

    pub fn is_empty(&self) -> bool {
        self.joiners.is_empty() && self.movers.is_empty() && self.leavers.is_empty()
    }
}

/// The kind of identity source an answer comes from: its people are `<kind>:<name>` in the
/// staff table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    #[default]
    Ldap,
    Oidc,
    Scim,
}

impl SourceKind {
    pub fn origin(self, name: &str) -> String {
        let kind = match self {
            SourceKind::Ldap => "ldap",
            SourceKind::Oidc => "oidc",
            SourceKind::Scim => "scim",
        };
        format!("{kind}:{name}")
    }

    /// A directory adopts a person an admin put by hand under the same username. An
    /// identity provider never does: the username in a sign-in is the provider's claim,
    /// not proof that it is the same person (the nOAuth class).
    fn adopts_manual(self) -> bool {
        self == SourceKind::Ldap
    }
}

/// The source name stored on staff rows for an LDAP source.
pub fn origin_name(source: &str) -> String {
    SourceKind::Ldap.origin(source)
}

fn changes(member: &StaffMember, origin: &Origin, person: &DirectoryPerson) -> Vec<String> {
    let mut changed = Vec::new();
    let mut groups = person.groups.clone();
    groups.sort();
    groups.dedup();
    if member.groups != groups {
        changed.push("groups".into());
    }
    if member.email != person.email {
        changed.push("email".into());
    }
    if member.name != person.name {
        changed.push("name".into());
    }
    if member.attributes != person.attributes {
        changed.push("attributes".into());
    }
    if origin.expires_at != person.expires_at {
        changed.push("expiry".into());
    }
    if origin.source == MANUAL {
        changed.push("source".into());
    } else if origin.dn.as_deref() != Some(&person.dn) || origin.external_id != person.external_id {
        changed.push("entry".into());
    }
    changed
}

/// Builds the plan for one LDAP source; see [`reconcile_as`].
pub fn reconcile(
    source: &str,
    people: Vec<DirectoryPerson>,
    skipped: Vec<Skipped>,
    coverage: Coverage,
    known: &[(StaffMember, Origin)],
) -> Plan {
    reconcile_as(SourceKind::Ldap, source, people, skipped, coverage, known)
}

/// Builds the plan for one source. `known` is every staff member staffgate has, from every
/// source, so that a username held by another source is refused rather than taken over.
pub fn reconcile_as(
    kind: SourceKind,
    source: &str,
    people: Vec<DirectoryPerson>,
    mut skipped: Vec<Skipped>,
    coverage: Coverage,
    known: &[(StaffMember, Origin)],
) -> Plan {
    let mine = kind.origin(source);
    let by_name: HashMap<&str, &(StaffMember, Origin)> =
        known.iter().map(|k| (k.0.username.as_str(), k)).collect();
    let mut plan = Plan {
        source: source.to_owned(),
        kind,
        entries: people.len() + skipped.len(),
        active_before: known
            .iter()
            .filter(|(m, o)| o.source == mine && m.status != StaffStatus::Offboarded)
            .count(),
        ..Plan::default()
    };
    // The stable id first: a renamed entry is the same person under a new name.
    let by_id: HashMap<&str, &(StaffMember, Origin)> = known
        .iter()
        .filter(|(_, o)| o.source == mine)
        .filter_map(|k| Some((k.1.external_id.as_deref()?, k)))
        .collect();
    let mut seen: HashSet<String> = HashSet::new();
    // Usernames staffgate knows that this answer accounts for.
    let mut matched: HashSet<String> = HashSet::new();
    for person in people {
        let name = person.username.as_str();
        if !seen.insert(name.to_owned()) {
            skipped.push(Skipped {
                dn: person.dn,
                reason: format!("username {name} appears twice in this source"),
            });
            continue;
        }
        let by_stable_id = person
            .external_id
            .as_deref()
            .and_then(|id| by_id.get(id))
            .copied();
        let Some((member, origin)) = by_stable_id.or_else(|| by_name.get(name).copied()) else {
            match person.disabled {
                Some(rule) => skipped.push(Skipped {
                    dn: person.dn,
                    reason: format!("disabled in the directory ({rule}); not imported"),
                }),
                None => plan.joiners.push(person),
            }
            continue;
        };
        let renamed_from =
            (member.username.as_str() != name).then(|| member.username.as_str().to_owned());
        if renamed_from.is_some()
            && let Some((holder, holder_origin)) = by_name.get(name)
            && holder.id != member.id
        {
            skipped.push(Skipped {
                dn: person.dn,
                reason: format!(
                    "renamed from {} to {name}, which {} already has",
                    member.username, holder_origin.source
                ),
            });
            matched.insert(member.username.to_string());
            continue;
        }
        matched.insert(member.username.to_string());
        if origin.source != mine && !(origin.source == MANUAL && kind.adopts_manual()) {
            skipped.push(Skipped {
                dn: person.dn,
                reason: format!("username {name} belongs to {}", origin.source),
            });
            continue;
        }
        if member.status == StaffStatus::Offboarded {
            // A rehire is HR's decision (reinstate), never a side effect of a sync.
            if person.disabled.is_none() {
                skipped.push(Skipped {
                    dn: person.dn,
                    reason: format!("{name} is offboarded; HR reinstates rehires"),
                });
            }
            continue;
        }
        if let Some(rule) = person.disabled {
            plan.leavers.push(Leaver {
                username: member.username.to_string(),
                rule,
            });
            continue;
        }
        let mut changed = changes(member, origin, &person);
        if renamed_from.is_some() {
            changed.insert(0, "username".into());
        }
        if !changed.is_empty() {
            plan.movers.push(Mover {
                person,
                changed,
                renamed_from,
            });
        }
    }
    let still_here = |m: &StaffMember, o: &Origin| {
        o.source == mine
            && m.status != StaffStatus::Offboarded
            && !matched.contains(m.username.as_str())
    };
    match coverage {
        Coverage::Full => {
            for (member, origin) in known {
                if still_here(member, origin) {
                    plan.leavers.push(Leaver {
                        username: member.username.to_string(),
                        rule: "entry no longer in the directory".into(),
                    });
                }
            }
        }
        Coverage::Changes(gone) => {
            for g in gone {
                let hit = known.iter().find(|(m, o)| {
                    still_here(m, o)
                        && ((g.external_id.is_some() && o.external_id == g.external_id)
                            || (g.dn.is_some() && o.dn == g.dn))
                });
                if let Some((member, _)) = hit {
                    plan.leavers.push(Leaver {
                        username: member.username.to_string(),
                        rule: "entry deleted from the directory".into(),
                    });
                }
            }
        }
    }
    let mut leaving = HashSet::new();
    plan.leavers.retain(|l| leaving.insert(l.username.clone()));
    plan.skipped = skipped;
    plan
}

#[cfg(test)]
mod tests;
