//! The people a SCIM source deactivated or deleted who have not left yet: how a push whose
//! deactivations the guard held, and the admin's confirmation of that plan, read them.

use super::user::{DEACTIVATED, UserDoc};
use crate::directory::person::DirectoryPerson;
use crate::store::{Store, StoreError};

/// The leaver rule of a SCIM DELETE.
pub const DELETED: &str = "SCIM: the user was deleted";

/// Each user of `source` whose provider says they are gone, as a leaving person.
pub async fn leavers(store: &Store, source: &str) -> Result<Vec<DirectoryPerson>, StoreError> {
    let rows = crate::store::scim::leaving(store.pool(), source).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let doc: UserDoc = serde_json::from_str(&row.doc).ok()?;
            let mut person = doc.to_person(&row.id, Vec::new()).ok()?;
            person.disabled = Some(if row.deleted { DELETED } else { DEACTIVATED }.to_owned());
            Some(person)
        })
        .collect())
}
