//! The admin API's way in: a key presented as `Authorization: Bearer sgk_…`, checked on
//! every call.

use super::Principal;
use crate::audit::Actor;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::staff::StaffId;
use crate::domain::time::now_millis;
use crate::store::{Store, StoreError};

/// Why an API key was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeyRefusal {
    #[error("send an API key as Authorization: Bearer sgk_…")]
    Missing,
    #[error("the API key is malformed")]
    Malformed,
    #[error("the API key is unknown or revoked")]
    Unknown,
    /// A key owned by a staff member works only while its owner is active.
    #[error("the API key's owner is not an active staff member")]
    OwnerNotActive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a presented key (`None` when none was sent). A key owned by a staff member works
/// only while its owner is active, whatever path ended them (an offboarding revokes the key
/// too; this holds if one did not). `owner_active` is asked in memory (the verifier), so
/// the API never waits on a lock of the staff table.
pub async fn authenticate(
    store: &Store,
    owner_active: impl Fn(StaffId) -> bool,
    presented: Option<&str>,
) -> Result<Principal, KeyRefusal> {
    let text = presented.ok_or(KeyRefusal::Missing)?;
    let hash =
        credential::parse(CredentialKind::ApiKey, text).map_err(|_| KeyRefusal::Malformed)?;
    let row = crate::store::api_keys::find_live(store.pool(), hash)
        .await?
        .ok_or(KeyRefusal::Unknown)?;
    if let Some(owner) = row.staff_id
        && !owner_active(owner)
    {
        return Err(KeyRefusal::OwnerNotActive);
    }
    let now = now_millis();
    // Last use is kept to the minute, so reads do not each turn into a write.
    if row.last_used_at.is_none_or(|t| now - t > 60_000) {
        crate::store::api_keys::touch_behind(store, row.id, now);
    }
    Ok(Principal {
        actor: Actor::key(&row.name, row.id),
        role: row.role,
    })
}
