//! People whose provider stopped refreshing them: how a source with
//! `offboard_when_unrefreshable` hands them to the directory path as leavers (the refusal is
//! the leaver rule), and how a held plan of them is read again when an admin confirms it.

use crate::directory::person::DirectoryPerson;
use crate::domain::staff::StaffMember;
use crate::domain::time::{Millis, to_datetime};
use crate::store::oidc::Unrefreshable;
use crate::store::staff::Origin;
use crate::store::{Store, StoreError};

/// The people of `source` the provider has refused since `before` or earlier, with nothing
/// succeeding since, each as a leaving directory person.
pub async fn leavers(
    store: &Store,
    source: &str,
    before: Millis,
) -> Result<Vec<DirectoryPerson>, StoreError> {
    let refused = crate::store::oidc::unrefreshable(store.pool(), source, before).await?;
    let mut conn = store.conn().await?;
    let mut people = Vec::with_capacity(refused.len());
    for r in &refused {
        if let Some((member, origin)) = crate::store::staff::find_by_id(&mut conn, r.staff).await? {
            people.push(leaving(member, origin, rule(r)));
        }
    }
    Ok(people)
}

fn rule(r: &Unrefreshable) -> String {
    let since = to_datetime(r.since).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(
        "the identity provider has refused every refresh since {since} ({})",
        r.reason
    )
}

/// The person as staffgate has them, marked as leaving for `rule`.
fn leaving(member: StaffMember, origin: Origin, rule: String) -> DirectoryPerson {
    DirectoryPerson {
        username: member.username,
        email: member.email,
        name: member.name,
        groups: member.groups,
        attributes: member.attributes,
        dn: origin.dn.unwrap_or_default(),
        external_id: origin.external_id,
        disabled: Some(rule),
        expires_at: None,
    }
}
