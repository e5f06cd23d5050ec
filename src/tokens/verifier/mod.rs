//! The in-memory verifier: token hash → grant, staff → status and epoch.
//!
//! Built from the database at start and updated by every change before that change's call
//! returns, so the broker checks a token without touching the database. Every change that
//! can take access away also ticks a watch channel, which streaming responses listen to so
//! they can be cut mid-flight.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::domain::credential::CredentialHash;
use crate::domain::staff::{StaffId, StaffMember, StaffStatus};
use crate::domain::time::Millis;
use crate::domain::{ActionSet, ChannelId};

/// What a live token allows.
#[derive(Debug, Clone)]
pub struct Grant {
    pub token_id: i64,
    pub staff_id: StaffId,
    pub channel: ChannelId,
    pub actions: ActionSet,
    pub expires_at: Millis,
    pub epoch: i64,
    pub revoked: bool,
}

/// Why the verifier refused a token. Each maps to its own error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error("token is not known")]
    Unknown,
    #[error("token has expired")]
    Expired,
    #[error("token was revoked")]
    Revoked,
    #[error("the token's owner is not active")]
    StaffNotActive,
    #[error("the token's owner had all access revoked after it was issued")]
    StaleEpoch,
    #[error("the token's owner has not acknowledged the NDA version in force")]
    NdaNotAcknowledged,
}

/// A token that passed the verifier, with its owner as known at that moment.
#[derive(Debug, Clone)]
pub struct Verified {
    pub grant: Arc<Grant>,
    pub staff: Arc<StaffMember>,
}

/// Keys are SHA-256 outputs already: hashing them again buys nothing.
#[derive(Default)]
pub struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    // Only `CredentialHash` keys this map and it hashes through `write_u64`; anything else
    // still gets a usable (if weak) hash rather than a panic.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
}

type TokenMap = HashMap<CredentialHash, Arc<Grant>, BuildHasherDefault<PrehashedHasher>>;

#[derive(Default)]
struct Inner {
    tokens: TokenMap,
    staff: HashMap<StaffId, Arc<StaffMember>>,
    /// From this time, people in `nda_blocked` are refused until they acknowledge.
    nda_deadline: Option<Millis>,
    nda_blocked: HashSet<StaffId>,
}

impl Inner {
    fn mark_revoked(&mut self, hashes: impl IntoIterator<Item = CredentialHash>) {
        for hash in hashes {
            if let Some(g) = self.tokens.get_mut(&hash) {
                *g = Arc::new(Grant {
                    revoked: true,
                    ..(**g).clone()
                });
            }
        }
    }
}

/// See the module docs.
pub struct Verifier {
    inner: RwLock<Inner>,
    changes: watch::Sender<u64>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            inner: RwLock::default(),
            changes: watch::Sender::new(0),
        }
    }
}

impl Verifier {
    /// Checks a presented token's hash at time `now`.
    pub fn verify(&self, hash: &CredentialHash, now: Millis) -> Result<Verified, Denial> {
        let inner = self.inner.read().expect("verifier lock");
        let grant = inner.tokens.get(hash).ok_or(Denial::Unknown)?;
        // The owner first: for a leaver, "not active" names the cause better than "revoked".
        let staff = inner
            .staff
            .get(&grant.staff_id)
            .ok_or(Denial::StaffNotActive)?;
        if staff.status != StaffStatus::Active {
            return Err(Denial::StaffNotActive);
        }
        if grant.revoked {
            return Err(Denial::Revoked);
        }
        if grant.expires_at <= now {
            return Err(Denial::Expired);
        }
        if staff.epoch != grant.epoch {
            return Err(Denial::StaleEpoch);
        }
        if inner.nda_deadline.is_some_and(|d| now >= d) && inner.nda_blocked.contains(&staff.id) {
            return Err(Denial::NdaNotAcknowledged);
        }
        Ok(Verified {
            grant: grant.clone(),
            staff: staff.clone(),
        })
    }

    /// How many tokens are held (live or revoked, until they expire).
    pub fn token_count(&self) -> usize {
        self.inner.read().expect("verifier lock").tokens.len()
    }

    /// Ticks every time access may have been taken away.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn tick(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Adds or refreshes a token. A revocation is permanent: a refresh read before the
    /// revocation (a replica's follower racing it) cannot bring the token back.
    pub fn add_token(&self, hash: CredentialHash, grant: Grant) {
        let mut inner = self.inner.write().expect("verifier lock");
        let revoked = grant.revoked || inner.tokens.get(&hash).is_some_and(|g| g.revoked);
        inner
            .tokens
            .insert(hash, Arc::new(Grant { revoked, ..grant }));
    }

    /// Sets who must acknowledge the NDA version in force, and from when their tokens stop.
    pub fn set_nda_gate(&self, deadline: Option<Millis>, blocked: HashSet<StaffId>) {
        {
            let mut inner = self.inner.write().expect("verifier lock");
            inner.nda_deadline = deadline;
            inner.nda_blocked = blocked;
        }
        self.tick();
    }

    /// One person acknowledged the version in force.
    pub fn nda_satisfied(&self, staff: StaffId) {
        self.inner
            .write()
            .expect("verifier lock")
            .nda_blocked
            .remove(&staff);
    }

    /// Marks tokens revoked (kept until they expire, so callers get a precise answer).
    pub fn revoke(&self, hashes: impl IntoIterator<Item = CredentialHash>) {
        self.inner
            .write()
            .expect("verifier lock")
            .mark_revoked(hashes);
        self.tick();
    }

    /// Whether a staff member is active as this replica knows it (pending people are not
    /// loaded: they are not active either).
    pub fn staff_active(&self, staff: StaffId) -> bool {
        self.inner
            .read()
            .expect("verifier lock")
            .staff
            .get(&staff)
            .is_some_and(|m| m.status == StaffStatus::Active)
    }

    /// Records a staff member's current facts. A read from an older epoch than memory holds
    /// was taken before a revocation this replica already applied (a follower's re-read
    /// racing the log, an owed offboarding not yet written): it is ignored, so a late read
    /// can never make a leaver active again. Every offboarding bumps the epoch.
    pub fn put_staff(&self, member: StaffMember) {
        {
            let mut inner = self.inner.write().expect("verifier lock");
            if inner
                .staff
                .get(&member.id)
                .is_some_and(|old| old.epoch > member.epoch)
            {
                return;
            }
            inner.staff.insert(member.id, Arc::new(member));
        }
        self.tick();
    }

    /// Offboards in memory: status and epoch together, under one lock.
    pub fn offboard(
        &self,
        staff: StaffId,
        epoch: i64,
        hashes: impl IntoIterator<Item = CredentialHash>,
    ) {
        {
            let mut inner = self.inner.write().expect("verifier lock");
            if let Some(old) = inner.staff.get(&staff).cloned() {
                let epoch = old.epoch.max(epoch);
                inner.staff.insert(
                    staff,
                    Arc::new(StaffMember {
                        status: StaffStatus::Offboarded,
                        epoch,
                        ..(*old).clone()
                    }),
                );
            }
            inner.mark_revoked(hashes);
        }
        self.tick();
    }

    /// Forgets tokens that expired before `now`; returns how many.
    pub fn forget_expired(&self, now: Millis) -> usize {
        let mut inner = self.inner.write().expect("verifier lock");
        let before = inner.tokens.len();
        inner.tokens.retain(|_, g| g.expires_at > now);
        before - inner.tokens.len()
    }
}

#[cfg(test)]
mod tests;
