//! Offboarding: take every access away from one person in one transaction, apply it to the
//! verifier before returning, and hand back a receipt. Reinstatement for rehires.

mod receipt;
mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sqlx::AnyConnection;

pub use receipt::{ChannelLine, Receipt};

use crate::audit::{self, Actor};
use crate::channels::Registry;
use crate::domain::Username;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffId, StaffStatus};
use crate::domain::time::{now_millis, to_datetime};
use crate::policy::Engine;
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;

/// Why an offboarding or reinstatement was refused.
#[derive(Debug, thiserror::Error)]
pub enum OffboardError {
    #[error("no staff member {0}")]
    NotFound(Username),
    /// A reason is required and must be short and printable.
    #[error("reason: {0}")]
    Reason(&'static str),
    /// Reinstating someone who is not offboarded.
    #[error("{0} is not offboarded")]
    NotOffboarded(Username),
    /// A scheduled moment that cannot be used.
    #[error("at: {0}")]
    When(&'static str),
    /// Scheduling the offboarding of someone already gone.
    #[error("{0} is already offboarded")]
    AlreadyOffboarded(Username),
    /// The scheduled offboarding was carried out or cancelled already, or never existed.
    #[error("no pending scheduled offboarding {0}")]
    ScheduleNotPending(i64),
    /// A stored receipt did not parse.
    #[error("stored receipt is unreadable")]
    ReceiptCorrupt,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An offboarding written in a transaction, waiting to be published once it commits.
pub struct Offboarded {
    pub receipt: Receipt,
    staff_id: StaffId,
    epoch: i64,
    revoked: Vec<CredentialHash>,
}

/// Proof that the caller may offboard people (HR or admin). Made by the web layer's checks.
pub struct HrPermit {
    pub actor: Actor,
}

fn check_reason(reason: &str) -> Result<(), OffboardError> {
    if reason.trim().is_empty() {
        return Err(OffboardError::Reason("a reason is required"));
    }
    if reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(OffboardError::Reason("at most 500 printable characters"));
    }
    Ok(())
}

/// The offboarding service.
pub struct Offboarding {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channels: Arc<Registry>,
    /// Queues the receipt mail in the offboarding's own transaction.
    pub notices: crate::mail::Notices,
}

impl Offboarding {
    /// Offboards `username`. A second call returns the first receipt.
    pub async fn offboard(
        &self,
        permit: &HrPermit,
        username: &Username,
        reason: &str,
    ) -> Result<Receipt, OffboardError> {
        let mut tx = self.store.begin().await?;
        let done = self
            .offboard_in(tx.conn(), &permit.actor, username, reason)
            .await?;
        tx.commit().await?;
        self.publish(&done);
        Ok(done.receipt)
    }

    /// Offboards inside the caller's transaction; once it commits, [`Self::publish`] the
    /// result. The directory sync offboards its leavers this way, all in one transaction.
    pub async fn offboard_in(
        &self,
        conn: &mut AnyConnection,
        actor: &Actor,
        username: &Username,
        reason: &str,
    ) -> Result<Offboarded, OffboardError> {
        check_reason(reason)?;
        let now = now_millis();
        let staff = crate::store::staff::find(conn, username)
            .await?
            .ok_or_else(|| OffboardError::NotFound(username.clone()))?;
        let (status, epoch) = crate::store::staff::lock_state(conn, staff.id).await?;
        if status == StaffStatus::Offboarded
            && let Some(first) = crate::store::offboardings::latest(conn, staff.id).await?
        {
            let receipt =
                serde_json::from_str(&first).map_err(|_| OffboardError::ReceiptCorrupt)?;
            return Ok(Offboarded {
                receipt,
                staff_id: staff.id,
                epoch,
                revoked: Vec::new(),
            });
        }

        let mut lines: BTreeMap<String, ChannelLine> = BTreeMap::new();
        for channel in self.channels.all() {
            let reach = self.engine.reach(&staff, &channel.facts);
            if !reach.actions.is_empty() {
                lines.insert(
                    channel.spec.id.to_string(),
                    ChannelLine::new(channel.spec.id.as_str(), reach.actions),
                );
            }
        }
        let epoch = crate::store::staff::mark_offboarded(conn, staff.id, now).await?;
        let why = format!("offboarded: {reason}");
        let revoked = crate::store::tokens::revoke_for_staff(conn, staff.id, now, &why).await?;
        for r in &revoked {
            lines
                .entry(r.channel_id.clone())
                .or_insert_with(|| ChannelLine::new(&r.channel_id, Default::default()))
                .tokens_revoked += 1;
        }
        let api_keys = crate::store::api_keys::revoke_for_staff(conn, staff.id, now).await?;
        let sessions = crate::store::sessions::revoke_for_staff(conn, staff.id, now).await?;
        for (channel, at) in crate::store::activity::last_use_of(conn, staff.id).await? {
            if let Some(line) = lines.get_mut(&channel) {
                line.last_used_at = Some(to_datetime(at));
            }
        }
        let mut receipt = Receipt {
            staff: staff.username.to_string(),
            name: staff.name.clone(),
            email: staff.email.clone(),
            offboarded_at: to_datetime(now),
            by: actor.0.clone(),
            reason: reason.to_owned(),
            tokens_revoked: revoked.len(),
            sessions_ended: sessions,
            api_keys_revoked: api_keys,
            channels: lines.into_values().collect(),
            audit_seq: 0,
            propagation: None,
        };
        // The id and epoch let other replicas refuse the person straight from the log entry,
        // before they re-read anything.
        let mut details = json!(receipt);
        details["staff_id"] = json!(staff.id);
        details["epoch"] = json!(epoch);
        receipt.audit_seq = audit::record(
            conn,
            actor,
            "staff.offboard",
            staff.username.as_str(),
            details,
        )
        .await?;
        let text = serde_json::to_string(&receipt).map_err(|_| OffboardError::ReceiptCorrupt)?;
        crate::store::offboardings::insert(conn, staff.id, now, &text).await?;
        self.notices.offboarded(conn, &receipt).await?;
        Ok(Offboarded {
            receipt,
            staff_id: staff.id,
            epoch,
            revoked: revoked.iter().map(|r| r.hash).collect(),
        })
    }

    /// Applies a committed offboarding to the verifier and the policy cache.
    pub fn publish(&self, done: &Offboarded) {
        self.verifier
            .offboard(done.staff_id, done.epoch, done.revoked.iter().copied());
        self.engine.invalidate();
    }

    /// Makes an offboarded person active again. Their old tokens stay dead: they were revoked
    /// and carry an older epoch.
    pub async fn reinstate(
        &self,
        permit: &HrPermit,
        username: &Username,
        reason: &str,
    ) -> Result<(), OffboardError> {
        check_reason(reason)?;
        let mut tx = self.store.begin().await?;
        let staff = crate::store::staff::find(tx.conn(), username)
            .await?
            .ok_or_else(|| OffboardError::NotFound(username.clone()))?;
        if staff.status != StaffStatus::Offboarded {
            return Err(OffboardError::NotOffboarded(username.clone()));
        }
        crate::store::staff::mark_active(tx.conn(), staff.id, now_millis()).await?;
        audit::record(
            tx.conn(),
            &permit.actor,
            "staff.reinstate",
            username.as_str(),
            json!({ "reason": reason }),
        )
        .await?;
        tx.commit().await?;
        self.verifier.put_staff(crate::domain::staff::StaffMember {
            status: StaffStatus::Active,
            ..staff
        });
        self.engine.invalidate();
        Ok(())
    }
}
