//! Offboarding: take every access away from one person in one transaction, apply it to the
//! verifier before returning, and hand back a receipt. Reinstatement for rehires.

mod owed;
mod receipt;
mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;
use sqlx::AnyConnection;

pub use owed::{Owed, OwedOffboarding};
pub use receipt::{ChannelLine, Receipt};

use crate::audit::{self, Actor};
use crate::channels::Registry;
use crate::domain::Username;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffId, StaffStatus};
use crate::domain::time::{now_millis, to_datetime};
use crate::policy::Engine;
use crate::replica::Presence;
use crate::replica::propagation::report;
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
    /// The database refused the write (full, unreachable): the person is refused on this
    /// replica now and the write is retried until it lands.
    #[error(
        "the offboarding of {username} is not recorded yet ({}): {username} is refused on this replica now, and the write is retried every 0.25 s until it lands; the receipt is then at GET /api/v1/staff/{username}/offboarding",
        fault.code()
    )]
    NotRecorded {
        username: Username,
        fault: crate::store::StorageFault,
    },
    /// The database refused the write and this replica already keeps the most
    /// unrecorded offboardings it will.
    #[error("the database refuses writes ({}), and too many offboardings wait for it already: nothing was done", fault.code())]
    TooManyUnrecorded { fault: crate::store::StorageFault },
    /// The wait for replicas is longer than [`MAX_WAIT`].
    #[error("wait: at most 60s")]
    Wait,
    /// The offboarding task stopped unexpectedly (a bug): see the log.
    #[error("the offboarding task stopped: {0}")]
    Interrupted(String),
    /// Not offboarded (yet): no receipt to show.
    #[error("{0} is not offboarded")]
    NoReceipt(Username),
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

pub use crate::principal::HrPermit;

/// What an offboarding asked for now answers.
pub enum OffboardAnswer {
    /// Committed and applied here; the receipt carries its propagation to every replica.
    Done(Box<Receipt>),
    /// The database is slow: the offboarding goes on in the background and completes;
    /// the receipt is to be polled.
    InProgress,
}

/// How long an offboarding request waits for its write before answering in progress.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The longest an offboarding answer waits for replicas to confirm.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long an offboarding the database refused waits to read whom to refuse in memory.
const READ_FOR_REFUSAL: std::time::Duration = std::time::Duration::from_secs(1);

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
#[derive(Clone)]
pub struct Offboarding {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channels: Arc<Registry>,
    /// Queues the receipt mail in the offboarding's own transaction.
    pub notices: crate::mail::Notices,
    /// Offboardings the database refused, retried until recorded (shared by every copy).
    pub owed: Arc<Owed>,
    /// This replica, which acknowledges what it applied and reads the others' confirmations.
    pub presence: Arc<Presence>,
}

impl Offboarding {
    /// Offboards `username` now: the one entry point for a person (HR) or a pushing source.
    /// Runs in a task of its own, so a caller who hangs up (or a proxy that gives up) does
    /// not cancel it half-way; past [`ANSWER_WITHIN`] it answers [`OffboardAnswer::InProgress`]
    /// and completes anyway. Once done, the receipt reports which replicas confirmed within
    /// `wait` (at most [`MAX_WAIT`]). A second call answers the first receipt.
    pub async fn offboard(
        &self,
        permit: &HrPermit,
        username: &Username,
        reason: &str,
        wait: std::time::Duration,
    ) -> Result<OffboardAnswer, OffboardError> {
        if wait > MAX_WAIT {
            return Err(OffboardError::Wait);
        }
        let task = {
            let (me, actor) = (self.clone(), permit.actor().clone());
            let (username, reason) = (username.clone(), reason.to_owned());
            tokio::spawn(async move { me.offboard_or_owe(&actor, &username, &reason).await })
        };
        let mut receipt = match tokio::time::timeout(ANSWER_WITHIN, task).await {
            Ok(Ok(done)) => done?,
            Ok(Err(join)) => return Err(OffboardError::Interrupted(join.to_string())),
            Err(_) => return Ok(OffboardAnswer::InProgress),
        };
        // This replica applied it before answering: acknowledge now rather than when its
        // follower sees its own entry.
        self.presence.acknowledge(&[receipt.audit_seq]).await;
        let bound = self.presence.freshness.bound();
        receipt.propagation =
            Some(report(&self.store, receipt.audit_seq, now_millis(), bound, wait).await?);
        Ok(OffboardAnswer::Done(Box::new(receipt)))
    }

    /// Records the offboarding; when the database refuses the write, the person is refused
    /// here at once and the write is owed.
    async fn offboard_or_owe(
        &self,
        actor: &Actor,
        username: &Username,
        reason: &str,
    ) -> Result<Receipt, OffboardError> {
        match self.record(actor, username, reason).await {
            Err(OffboardError::Store(e)) if e.fault().is_some() => {
                let fault = e.fault().expect("checked");
                tracing::error!(error = %e, staff = %username, "the database refused an offboarding");
                self.owe(actor, username, reason, fault).await
            }
            answer => answer,
        }
    }

    async fn record(
        &self,
        actor: &Actor,
        username: &Username,
        reason: &str,
    ) -> Result<Receipt, OffboardError> {
        let mut tx = self.store.begin().await?;
        let done = self.offboard_in(tx.conn(), actor, username, reason).await?;
        tx.commit().await?;
        self.publish(&done);
        Ok(done.receipt)
    }

    /// Refuses the person on this replica now and keeps the offboarding to write later.
    async fn owe(
        &self,
        actor: &Actor,
        username: &Username,
        reason: &str,
        fault: crate::store::StorageFault,
    ) -> Result<Receipt, OffboardError> {
        check_reason(reason)?;
        let kept = self.owed.add(OwedOffboarding {
            actor: actor.clone(),
            username: username.clone(),
            reason: reason.to_owned(),
            since: now_millis(),
            fault,
        });
        if !kept {
            tracing::error!(alert = "offboarding_unrecorded", staff = %username, code = fault.code().as_str(),
                "the database refuses writes and too many offboardings wait already: this one was not kept");
            return Err(OffboardError::TooManyUnrecorded { fault });
        }
        // Reads usually still work on a full disk; without them the person is only refused
        // once the write lands.
        let read = async {
            let mut conn = self.store.conn().await?;
            crate::store::staff::find(&mut conn, username).await
        };
        if let Ok(Ok(Some(staff))) = tokio::time::timeout(READ_FOR_REFUSAL, read).await {
            self.verifier.offboard(staff.id, staff.epoch + 1, []);
            self.engine.invalidate();
        }
        tracing::error!(
            alert = "offboarding_unrecorded",
            staff = %username,
            code = fault.code().as_str(),
            "an offboarding could not be recorded: refused on this replica now, retrying the write until it lands (a restart before then forgets it)"
        );
        Err(OffboardError::NotRecorded {
            username: username.clone(),
            fault,
        })
    }

    /// Writes the offboardings the database refused earlier; each that lands leaves the
    /// list with an alert line saying how late it was.
    pub async fn retry_owed(&self) {
        for o in self.owed.all() {
            match self.record(&o.actor, &o.username, &o.reason).await {
                Ok(receipt) => {
                    self.owed.remove(&o.username);
                    let late_ms = (now_millis() - o.since).max(0);
                    tracing::warn!(
                        alert = "offboarding_recorded_late",
                        staff = %o.username,
                        late_ms,
                        audit_seq = receipt.audit_seq,
                        "an offboarding the database had refused is now recorded"
                    );
                    self.note_late(&o, late_ms).await;
                }
                Err(OffboardError::Store(e)) if e.fault().is_some() => {
                    let fault = e.fault().expect("checked");
                    self.owed.add(OwedOffboarding { fault, ..o });
                }
                Err(e) => {
                    self.owed.remove(&o.username);
                    tracing::error!(alert = "offboarding_unrecorded", staff = %o.username, error = %e,
                        "an unrecorded offboarding cannot be written and was dropped");
                }
            }
        }
    }

    /// Tells the admins that an offboarding was recorded late (a mail, when mail is set).
    async fn note_late(&self, o: &OwedOffboarding, late_ms: i64) {
        let noted = async {
            let mut tx = self.store.begin().await?;
            self.notices
                .offboarding_late(
                    tx.conn(),
                    o.username.as_str(),
                    late_ms,
                    o.fault.code().as_str(),
                )
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = noted {
            tracing::warn!(error = %e, "the late-offboarding alert mail was not queued");
        }
    }

    /// The receipt of an offboarded person (to poll after a 202).
    pub async fn receipt(&self, username: &Username) -> Result<Receipt, OffboardError> {
        let mut conn = self.store.conn().await?;
        let staff = crate::store::staff::find(&mut conn, username)
            .await?
            .ok_or_else(|| OffboardError::NotFound(username.clone()))?;
        if staff.status != StaffStatus::Offboarded {
            return Err(OffboardError::NoReceipt(username.clone()));
        }
        let text = crate::store::offboardings::latest(&mut conn, staff.id)
            .await?
            .ok_or_else(|| OffboardError::NoReceipt(username.clone()))?;
        serde_json::from_str(&text).map_err(|_| OffboardError::ReceiptCorrupt)
    }

    /// The receipt with where every replica stands now, for a page that refreshes until
    /// each confirmed.
    pub async fn receipt_now(&self, username: &Username) -> Result<Receipt, OffboardError> {
        let mut receipt = self.receipt(username).await?;
        let bound = self.presence.freshness.bound();
        let wait = std::time::Duration::ZERO;
        receipt.propagation =
            Some(report(&self.store, receipt.audit_seq, now_millis(), bound, wait).await?);
        Ok(receipt)
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
            let mut receipt: Receipt =
                serde_json::from_str(&first).map_err(|_| OffboardError::ReceiptCorrupt)?;
            receipt.already_offboarded = true;
            return Ok(Offboarded {
                receipt,
                staff_id: staff.id,
                epoch,
                revoked: Vec::new(),
            });
        }

        let mut lines: BTreeMap<String, ChannelLine> = BTreeMap::new();
        for r in self.channels.reachable(&self.engine, &staff) {
            let id = r.channel.spec.id.as_str();
            lines.insert(id.to_owned(), ChannelLine::new(id, r.reach.actions));
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
            already_offboarded: false,
            propagation: None,
        };
        // The id and epoch let other replicas refuse the person straight from the log entry,
        // before they re-read anything.
        let serde_json::Value::Object(receipt_fields) = json!(receipt) else {
            return Err(OffboardError::ReceiptCorrupt);
        };
        let change = audit::Change::StaffOffboarded {
            username: staff.username.to_string(),
            staff_id: staff.id,
            epoch,
            receipt: receipt_fields,
        };
        receipt.audit_seq = audit::record(conn, actor, &change).await?;
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

    /// Makes an offboarded person what they were before (active, or pending if they had not
    /// completed first login). Their old tokens stay dead: they were revoked and carry an
    /// older epoch.
    pub async fn reinstate(
        &self,
        permit: &HrPermit,
        username: &Username,
        reason: &str,
    ) -> Result<StaffStatus, OffboardError> {
        check_reason(reason)?;
        let mut tx = self.store.begin().await?;
        let staff = crate::store::staff::find(tx.conn(), username)
            .await?
            .ok_or_else(|| OffboardError::NotFound(username.clone()))?;
        if staff.status != StaffStatus::Offboarded {
            return Err(OffboardError::NotOffboarded(username.clone()));
        }
        let status = crate::store::staff::reinstate(tx.conn(), staff.id, now_millis()).await?;
        let change = audit::Change::StaffReinstated {
            username: username.to_string(),
            reason: reason.to_owned(),
            status: status.as_str().to_owned(),
        };
        audit::record(tx.conn(), permit.actor(), &change).await?;
        tx.commit().await?;
        self.verifier
            .put_staff(crate::domain::staff::StaffMember { status, ..staff });
        self.engine.invalidate();
        Ok(status)
    }
}
