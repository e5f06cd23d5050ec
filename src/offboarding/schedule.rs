//! Scheduled offboarding: HR picks the moment (the last working day); the daemon carries it
//! out then, exactly once. The claim and the offboarding are one transaction, so a crash in
//! between leaves the row pending and the next tick (on any replica) does it.

use serde_json::json;

use super::{HrPermit, OffboardError, Offboarding, Receipt, check_reason};
use crate::audit::{self, Actor};
use crate::domain::Username;
use crate::domain::staff::StaffStatus;
use crate::domain::time::{Millis, now_millis};
use crate::store::schedule::ScheduledRow;

/// How far ahead an offboarding may be scheduled.
const MAX_AHEAD: Millis = 2 * 366 * 24 * 3600 * 1000;

impl Offboarding {
    /// Schedules `username`'s offboarding at `at` (entered in `zone`, if named); returns
    /// its id.
    pub async fn schedule(
        &self,
        permit: &HrPermit,
        username: &Username,
        at: Millis,
        zone: Option<chrono_tz::Tz>,
        reason: &str,
    ) -> Result<i64, OffboardError> {
        check_reason(reason)?;
        let now = now_millis();
        if at <= now {
            return Err(OffboardError::When(
                "must be in the future; offboard now instead",
            ));
        }
        if at - now > MAX_AHEAD {
            return Err(OffboardError::When("at most two years ahead"));
        }
        let mut tx = self.store.begin().await?;
        let staff = crate::store::staff::find(tx.conn(), username)
            .await?
            .ok_or_else(|| OffboardError::NotFound(username.clone()))?;
        if staff.status == StaffStatus::Offboarded {
            return Err(OffboardError::AlreadyOffboarded(username.clone()));
        }
        let id = crate::store::schedule::insert(
            tx.conn(),
            staff.id,
            at,
            reason,
            &permit.actor().0,
            now,
            zone.map(|z| z.name()),
        )
        .await?;
        let change = audit::Change::OffboardingScheduled {
            username: username.to_string(),
            schedule_id: id,
            at: json!(crate::domain::time::to_datetime(at)),
            reason: reason.to_owned(),
        };
        audit::record(tx.conn(), permit.actor(), &change).await?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn scheduled(&self) -> Result<Vec<ScheduledRow>, OffboardError> {
        Ok(crate::store::schedule::pending(self.store.pool()).await?)
    }

    pub async fn cancel_scheduled(&self, permit: &HrPermit, id: i64) -> Result<(), OffboardError> {
        let mut tx = self.store.begin().await?;
        if !crate::store::schedule::cancel(tx.conn(), id, &permit.actor().0, now_millis()).await? {
            return Err(OffboardError::ScheduleNotPending(id));
        }
        let change = audit::Change::ScheduledOffboardingCancelled {
            schedule: id.to_string(),
            schedule_id: id,
        };
        audit::record(tx.conn(), permit.actor(), &change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Carries out every due offboarding; returns their receipts.
    pub async fn run_due(&self) -> Result<Vec<Receipt>, OffboardError> {
        let mut receipts = Vec::new();
        for id in crate::store::schedule::due(self.store.pool(), now_millis()).await? {
            let mut tx = self.store.begin().await?;
            let Some((staff_id, reason, by)) =
                crate::store::schedule::claim(tx.conn(), id, "scheduler", now_millis()).await?
            else {
                continue; // another replica, or a cancel, got there first
            };
            let Some((staff, _)) = crate::store::staff::find_by_id(tx.conn(), staff_id).await?
            else {
                continue;
            };
            let actor = Actor(format!("schedule#{id} by {by}"));
            let done = self
                .offboard_in(tx.conn(), &actor, &staff.username, &reason)
                .await?;
            tx.commit().await?;
            self.publish(&done);
            tracing::info!(staff = %staff.username, schedule_id = id, "scheduled offboarding carried out");
            receipts.push(done.receipt);
        }
        Ok(receipts)
    }
}
