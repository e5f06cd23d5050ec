//! The second factor: enrolment with recovery codes, verification in a session, lockout,
//! replay refusal through the database, and the admin reset.

use secrecy::ExposeSecret;
use serde::Serialize;

use super::totp;
use super::{Signin, StaffSession};
use crate::audit::{self, Actor};
use crate::domain::Username;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::{Millis, now_millis};
use crate::principal::AdminPermit;
use crate::store::StoreError;
use crate::store::sessions::LiveSession;
use crate::tokens::gate::SecondFactor;

/// A second-factor attempt that failed, as the log names it.
#[derive(Debug, Clone, Copy)]
enum Failure {
    TotpFailed,
    TotpReplayed,
    RecoveryCodeFailed,
}

/// Why a second-factor step was refused.
#[derive(Debug, thiserror::Error)]
pub enum FactorError {
    /// Enrolment is needed first.
    #[error("two-factor authentication is not set up")]
    NotEnrolled,
    /// Enrolment is done; an admin reset starts it again.
    #[error("two-factor authentication is already set up")]
    AlreadyEnrolled,
    /// Wrong, expired or malformed code.
    #[error("the code is wrong or expired")]
    WrongCode,
    /// A code for a time step already used (by anyone, on any replica).
    #[error("this code was already used; wait for the next one")]
    Replayed,
    /// Too many wrong codes; the second factor waits.
    #[error("too many wrong codes; try again in {retry_after_secs} s")]
    LockedOut { retry_after_secs: u64 },
    /// The person has left.
    #[error("{0} is offboarded")]
    Offboarded(Username),
    #[error("no staff member {0}")]
    NotFound(Username),
    #[error("the TOTP seed could not be used")]
    Seed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Signin {
    /// How a session met the second factor: TOTP passed in it, or, for a session from an
    /// identity provider, the provider's factor when its source still accepts it.
    pub(super) fn factor_of(&self, row: &LiveSession) -> Option<SecondFactor> {
        if row.totp_at.is_some() {
            return Some(SecondFactor::Totp);
        }
        let factor = row.idp_factor.as_deref()?;
        let provider = self.oidc.get(row.idp_source.as_deref()?).ok()?;
        crate::directory::oidc::claims::still_accepted(&provider.config, factor)
            .then(|| SecondFactor::Idp(factor.to_owned()))
    }
}

/// What an enrolling person's app needs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    pub otpauth_url: String,
    /// The seed in base32, grouped, for typing by hand.
    pub key: String,
}

fn context(staff: &StaffMember) -> String {
    format!("totp:{}", staff.id)
}

fn unix_now() -> u64 {
    (now_millis() / 1000).max(0) as u64
}

impl Signin {
    fn seed(&self, staff: &StaffMember, sealed: &[u8]) -> Result<Vec<u8>, FactorError> {
        let open = self
            .key
            .open(&context(staff), sealed)
            .map_err(|_| FactorError::Seed)?;
        Ok(open.expose_secret().to_vec())
    }

    /// Starts (or shows again) enrolment: a seed waits, unconfirmed, until a code proves
    /// the app has it.
    pub async fn enrolment(&self, session: &StaffSession) -> Result<Enrolment, FactorError> {
        let staff = &session.staff;
        let mut tx = self.store.begin().await?;
        let seed = match crate::store::totp::get(tx.conn(), staff.id).await? {
            Some(row) if row.confirmed_at.is_some() => return Err(FactorError::AlreadyEnrolled),
            Some(row) => self.seed(staff, &row.seed_sealed)?,
            None => {
                let seed = totp::new_seed().map_err(|_| FactorError::Seed)?;
                let sealed = self
                    .key
                    .seal(&context(staff), &seed)
                    .map_err(|_| FactorError::Seed)?;
                crate::store::totp::put_pending(tx.conn(), staff.id, &sealed, now_millis()).await?;
                seed.to_vec()
            }
        };
        tx.commit().await?;
        Ok(Enrolment {
            otpauth_url: totp::otpauth_url(
                &seed,
                staff.username.as_str(),
                &self.compliance.config.totp_issuer,
            )
            .map_err(|_| FactorError::Seed)?,
            key: totp::key_text(&seed),
        })
    }

    /// Reserves one attempt before the code is checked: counted and recorded under the
    /// person's row lock, so a burst of parallel codes gets no more tries than the limit.
    /// The attempt counts as a failure until released.
    async fn reserve_factor(&self, staff: &StaffMember) -> Result<i64, FactorError> {
        let window = self.compliance.config.totp_window;
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        crate::store::staff::lock_state(tx.conn(), staff.id).await?;
        let since = now - window.as_millis() as Millis;
        let failures = crate::store::totp::failures_since(tx.conn(), staff.id, since).await?;
        if failures >= i64::from(self.compliance.config.totp_max_failures) {
            return Err(FactorError::LockedOut {
                retry_after_secs: window.as_secs(),
            });
        }
        let id = crate::store::totp::record_attempt(tx.conn(), staff.id, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The reserved attempt failed: it stays counted; the audit says so, and says when the
    /// factor locks.
    async fn factor_failed(&self, staff: &StaffMember, kind: Failure) -> Result<(), FactorError> {
        let username = staff.username.to_string();
        let event = match kind {
            Failure::TotpFailed => audit::Change::TotpFailed { username },
            Failure::TotpReplayed => audit::Change::TotpReplayed { username },
            Failure::RecoveryCodeFailed => audit::Change::RecoveryCodeFailed { username },
        };
        let now = now_millis();
        let window = self.compliance.config.totp_window.as_millis() as Millis;
        let actor = Actor(format!("staff:{}", staff.username));
        let mut tx = self.store.begin().await?;
        audit::record(tx.conn(), &actor, &event).await?;
        let failures =
            crate::store::totp::failures_since(tx.conn(), staff.id, now - window).await?;
        if failures == i64::from(self.compliance.config.totp_max_failures) {
            let change = audit::Change::TotpLockedOut {
                username: staff.username.to_string(),
                failures,
                for_secs: window / 1000,
            };
            audit::record(tx.conn(), &actor, &change).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Checks a code against the seed and takes its time step, all under the person's row
    /// lock; on success marks the session as having passed the second factor.
    async fn accept_code(
        &self,
        session: &StaffSession,
        seed: &[u8],
        code: &str,
        confirm: bool,
    ) -> Result<(), FactorError> {
        let staff = &session.staff;
        let attempt = self.reserve_factor(staff).await?;
        let Some(step) = totp::matched_step(seed, code, unix_now()) else {
            self.factor_failed(staff, Failure::TotpFailed).await?;
            return Err(FactorError::WrongCode);
        };
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let (status, _) = crate::store::staff::lock_state(tx.conn(), staff.id).await?;
        if status == StaffStatus::Offboarded {
            return Err(FactorError::Offboarded(staff.username.clone()));
        }
        if !crate::store::totp::take_step(tx.conn(), staff.id, step as i64, now).await? {
            drop(tx);
            self.factor_failed(staff, Failure::TotpReplayed).await?;
            return Err(FactorError::Replayed);
        }
        if confirm {
            crate::store::totp::confirm(tx.conn(), staff.id, now).await?;
        }
        crate::store::totp::release_attempt(tx.conn(), attempt).await?;
        crate::store::sessions::mark_totp(tx.conn(), session.id, now).await?;
        let (username, session_id) = (staff.username.to_string(), session.id);
        let change = if confirm {
            audit::Change::TotpEnrolled {
                username,
                session_id,
            }
        } else {
            audit::Change::TotpVerified {
                username,
                session_id,
            }
        };
        audit::record(
            tx.conn(),
            &Actor(format!("staff:{}", staff.username)),
            &change,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Confirms enrolment with a first code; returns the recovery codes, shown this once.
    pub async fn confirm_enrolment(
        &self,
        session: &StaffSession,
        code: &str,
    ) -> Result<Vec<String>, FactorError> {
        let staff = &session.staff;
        let row = {
            let mut conn = self.store.conn().await?;
            crate::store::totp::get(&mut conn, staff.id).await?
        };
        let row = match row {
            Some(r) if r.confirmed_at.is_some() => return Err(FactorError::AlreadyEnrolled),
            Some(r) => r,
            None => return Err(FactorError::NotEnrolled),
        };
        let seed = self.seed(staff, &row.seed_sealed)?;
        self.accept_code(session, &seed, code, true).await?;
        let codes = totp::recovery_codes().map_err(|_| FactorError::Seed)?;
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
        let mut tx = self.store.begin().await?;
        crate::store::totp::put_recovery(tx.conn(), staff.id, &hashes, now_millis()).await?;
        tx.commit().await?;
        // The code just accepted is this session's second factor.
        self.compliance
            .finish_first_login(staff, Some(&SecondFactor::Totp))
            .await?;
        Ok(codes)
    }

    /// New recovery codes for a person who proves the factor again with a fresh code (a
    /// stolen session alone cannot renew them); the unused old codes stop working.
    pub async fn renew_recovery_codes(
        &self,
        session: &StaffSession,
        code: &str,
    ) -> Result<Vec<String>, FactorError> {
        self.verify_code(session, code).await?;
        let staff = &session.staff;
        let codes = totp::recovery_codes().map_err(|_| FactorError::Seed)?;
        let hashes: Vec<[u8; 32]> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
        let mut tx = self.store.begin().await?;
        crate::store::totp::put_recovery(tx.conn(), staff.id, &hashes, now_millis()).await?;
        let change = audit::Change::RecoveryCodesRenewed {
            username: staff.username.to_string(),
            session_id: session.id,
        };
        audit::record(tx.conn(), &Actor::staff(staff.username.as_str()), &change).await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// Passes the second factor in this session with a code from the app.
    pub async fn verify_code(&self, session: &StaffSession, code: &str) -> Result<(), FactorError> {
        let staff = &session.staff;
        let row = {
            let mut conn = self.store.conn().await?;
            crate::store::totp::get(&mut conn, staff.id).await?
        };
        let Some(row) = row.filter(|r| r.confirmed_at.is_some()) else {
            return Err(FactorError::NotEnrolled);
        };
        let seed = self.seed(staff, &row.seed_sealed)?;
        self.accept_code(session, &seed, code, false).await
    }

    /// Passes the second factor with a recovery code, which is then used up.
    pub async fn use_recovery_code(
        &self,
        session: &StaffSession,
        code: &str,
    ) -> Result<usize, FactorError> {
        let staff = &session.staff;
        let attempt = self.reserve_factor(staff).await?;
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let used =
            crate::store::totp::use_recovery(tx.conn(), staff.id, &totp::recovery_hash(code), now)
                .await?;
        if !used {
            drop(tx);
            self.factor_failed(staff, Failure::RecoveryCodeFailed)
                .await?;
            return Err(FactorError::WrongCode);
        }
        crate::store::totp::release_attempt(tx.conn(), attempt).await?;
        crate::store::sessions::mark_totp(tx.conn(), session.id, now).await?;
        let change = audit::Change::RecoveryCodeUsed {
            username: staff.username.to_string(),
            session_id: session.id,
        };
        audit::record(
            tx.conn(),
            &Actor(format!("staff:{}", staff.username)),
            &change,
        )
        .await?;
        tx.commit().await?;
        let left = crate::store::totp::recovery_left(self.store.pool(), staff.id).await?;
        Ok(left as usize)
    }

    /// An admin's reset: the seed and recovery codes go, and with them every session and
    /// token of the person; they enrol again at their next sign-in.
    pub async fn reset_totp(
        &self,
        permit: &AdminPermit,
        username: &Username,
        reason: &str,
    ) -> Result<(), FactorError> {
        let actor = permit.actor();
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let staff = crate::store::staff::find(tx.conn(), username)
            .await?
            .ok_or_else(|| FactorError::NotFound(username.clone()))?;
        crate::store::staff::lock_state(tx.conn(), staff.id).await?;
        let had = crate::store::totp::reset(tx.conn(), staff.id).await?;
        let sessions = crate::store::sessions::revoke_for_staff(tx.conn(), staff.id, now).await?;
        let revoked = crate::store::tokens::revoke_for_staff(
            tx.conn(),
            staff.id,
            now,
            "two-factor authentication reset",
        )
        .await?;
        let change = audit::Change::TotpReset {
            username: username.to_string(),
            reason: reason.to_owned(),
            had_totp: had,
            sessions_ended: sessions,
            tokens_revoked: revoked.len(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        self.verifier.revoke(revoked.iter().map(|r| r.hash));
        Ok(())
    }
}
