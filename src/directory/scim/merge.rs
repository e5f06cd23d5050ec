//! What a provider's full list does to the SCIM users staffgate keeps for it: a pure
//! function from the stored rows and the list to the rows to write and the people to
//! reconcile. A pull is the provider's word, read late: a row the provider pushed after
//! the pull began wins over the list, a pull never re-activates anyone (a rehire comes by
//! push, where the source allows it, or by HR), and a deleted user is not brought back.

use std::collections::{HashMap, HashSet};

use super::listing::PulledUser;
use super::user::UserDoc;
use crate::directory::person::Skipped;
use crate::domain::time::Millis;

/// The leaver rule of a user the provider no longer lists.
pub const UNLISTED: &str = "SCIM: no longer listed by the provider";

/// A user as stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub doc: UserDoc,
    pub updated_at: Millis,
    pub deleted: bool,
}

/// One person to reconcile: the stored id, what the provider says, and the leaver rule
/// when the list no longer holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub doc: UserDoc,
    pub unlisted: bool,
}

/// What to write, and who to reconcile.
#[derive(Debug, Default)]
pub struct Merge {
    pub inserts: Vec<(String, UserDoc)>,
    pub updates: Vec<(String, UserDoc)>,
    pub deletes: Vec<String>,
    pub people: Vec<Listed>,
    pub skipped: Vec<Skipped>,
}

fn skip(merge: &mut Merge, id: &str, reason: &str) {
    merge.skipped.push(Skipped {
        dn: format!("scim:{id}"),
        reason: reason.to_owned(),
    });
}

/// Merges `pulled` into `rows`; the pull began at `began`, and `new_id` names new rows.
pub fn merge(
    rows: &[Stored],
    pulled: Vec<PulledUser>,
    began: Millis,
    mut new_id: impl FnMut() -> String,
) -> Merge {
    let mut by_ext: HashMap<&str, &Stored> = HashMap::new();
    let mut by_name: HashMap<String, &Stored> = HashMap::new();
    for row in rows {
        if let Some(ext) = row.doc.external_id.as_deref()
            && (!row.deleted || !by_ext.contains_key(ext))
        {
            by_ext.insert(ext, row);
        }
        if !row.deleted {
            by_name.insert(row.doc.user_name.to_lowercase(), row);
        }
    }
    let mut merge = Merge::default();
    let mut seen_ids = HashSet::new();
    let mut seen_names = HashSet::new();
    let mut matched = HashSet::new();
    for user in pulled {
        let name = user.doc.user_name.to_lowercase();
        if !seen_ids.insert(user.id.clone()) || !seen_names.insert(name.clone()) {
            skip(
                &mut merge,
                &user.id,
                "the provider lists this id or userName twice",
            );
            continue;
        }
        let doc = UserDoc {
            external_id: Some(user.id.clone()),
            ..user.doc
        };
        let row = by_ext
            .get(user.id.as_str())
            .copied()
            .filter(|r| !r.deleted || !by_name.contains_key(&name))
            .or_else(|| by_name.get(&name).copied());
        let Some(row) = row else {
            if doc.active {
                let id = new_id();
                merge.inserts.push((id.clone(), doc.clone()));
                merge.people.push(Listed {
                    id,
                    doc,
                    unlisted: false,
                });
            }
            continue;
        };
        matched.insert(row.id.as_str());
        if row.deleted {
            skip(
                &mut merge,
                &user.id,
                "deleted earlier: an offboarded person comes back through HR's reinstatement",
            );
            continue;
        }
        // A pushed externalId stays: the provider's next push searches by it (Entra sends
        // its own mapping there, not the id its list shows).
        let doc = UserDoc {
            external_id: row.doc.external_id.clone().or(doc.external_id),
            ..doc
        };
        let kept = if row.updated_at >= began || (!row.doc.active && doc.active) {
            row.doc.clone()
        } else {
            if row.doc != doc {
                merge.updates.push((row.id.clone(), doc.clone()));
            }
            doc
        };
        merge.people.push(Listed {
            id: row.id.clone(),
            doc: kept,
            unlisted: false,
        });
    }
    for row in rows
        .iter()
        .filter(|r| !r.deleted && !matched.contains(r.id.as_str()))
    {
        let unlisted = row.updated_at < began;
        if unlisted {
            merge.deletes.push(row.id.clone());
        }
        merge.people.push(Listed {
            id: row.id.clone(),
            doc: row.doc.clone(),
            unlisted,
        });
    }
    merge
}

#[cfg(test)]
mod tests;
