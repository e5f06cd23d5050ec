//! Applies other replicas' changes to this one's memory, in log order.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::change::{Change, Leaver, Listed, Mover};

use super::Presence;
use crate::channels::Channels;
use crate::compliance::{Compliance, Rules};
use crate::domain::Username;
use crate::domain::staff::StaffStatus;
use crate::domain::time::now_millis;
use crate::policy::Engine;
use crate::store::{Store, StoreError};
use crate::tokens::Verifier;

/// How often a replica checks for changes without a notification.
const POLL: Duration = Duration::from_millis(200);
/// Entries read per round.
const PAGE: i64 = 1_000;
/// A round that takes longer than this is abandoned (a connection hung on a dead peer) and
/// retried; freshness runs out meanwhile.
const ROUND_LIMIT: Duration = Duration::from_secs(5);

/// The follower of one replica.
pub struct Follower {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channels: Channels,
    pub compliance: Arc<Compliance>,
    /// Loads the policies and NDA texts another replica reloaded.
    pub rules: Rules,
    pub presence: Arc<Presence>,
    /// The log head read before the state in memory was loaded: entries after it may not
    /// be in that state yet.
    pub start: i64,
    /// The PostgreSQL URL, for LISTEN; `None` on SQLite (polling only).
    pub listen_url: Option<String>,
}

fn username(subject: &str) -> Option<Username> {
    Username::parse(subject).ok()
}

impl Follower {
    /// Runs until the daemon stops, starting after `start`.
    pub async fn run(self) {
        let mut last = self.start;
        self.presence.applied(last);
        let mut listener = self.listen().await;
        loop {
            // Marked before reading: what the round reads was committed before this moment.
            let started = now_millis();
            let mut acks = Vec::new();
            match tokio::time::timeout(ROUND_LIMIT, self.catch_up(&mut last, &mut acks)).await {
                Ok(Ok(())) => {
                    self.presence.applied(last);
                    self.presence.freshness.mark(started);
                }
                Ok(Err(e)) => {
                    self.presence.freshness.round_failed();
                    tracing::warn!(error = %e, "replica follower cannot read the log; refusing to serve once stale")
                }
                Err(_) => {
                    self.presence.freshness.round_failed();
                    tracing::warn!("replica follower round timed out; refusing to serve once stale")
                }
            }
            if !acks.is_empty() {
                self.presence.acknowledge(&acks).await;
            }
            let wait_listener = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                got = wait_listener => if let Err(e) = got {
                    tracing::warn!(error = %e, "replica listener lost; reconnecting");
                    listener = self.listen().await;
                },
                _ = tokio::time::sleep(POLL) => {}
            }
            if listener.is_none() && self.listen_url.is_some() {
                listener = self.listen().await;
            }
        }
    }

    async fn listen(&self) -> Option<sqlx::postgres::PgListener> {
        let url = self.listen_url.as_ref()?;
        let connect = async {
            let mut l = sqlx::postgres::PgListener::connect(url).await.ok()?;
            l.listen("staffgate_changes").await.ok()?;
            Some(l)
        };
        tokio::time::timeout(POLL * 5, connect).await.ok().flatten()
    }

    /// Applies every entry after `last`, in order. `last` moves only past what is fully
    /// applied (issued tokens included), so a failed or abandoned round is redone from there;
    /// applying an entry twice is harmless.
    async fn catch_up(&self, last: &mut i64, acks: &mut Vec<i64>) -> Result<(), StoreError> {
        loop {
            let page = crate::store::audit::tail(self.store.pool(), *last, PAGE).await?;
            let full = page.len() as i64 == PAGE;
            let mut cursor = *last;
            // Issuances come in bursts: one range read for the page, after the rest.
            let mut tokens: Option<(i64, i64)> = None;
            let mut unloaded_from: Option<i64> = None;
            for (seq, event, subject, details) in &page {
                let change = match Change::from_entry(event, subject, details) {
                    Ok(c) => c,
                    Err(e) => {
                        // Fail closed: whatever it was, re-reading everyone covers it.
                        tracing::warn!(seq, error = %e, "unreadable change log entry; re-reading every person");
                        if let Err(e) = self.reload_everyone().await {
                            *last = unloaded_from.unwrap_or(cursor);
                            return Err(e);
                        }
                        acks.push(*seq);
                        cursor = *seq;
                        continue;
                    }
                };
                if let Change::TokenIssued { token_id: id, .. } = change {
                    tokens = Some(tokens.map_or((id, id), |(lo, hi)| (lo.min(id), hi.max(id))));
                    unloaded_from.get_or_insert(cursor);
                } else {
                    if let Err(e) = self.apply(&change).await {
                        *last = unloaded_from.unwrap_or(cursor);
                        return Err(e);
                    }
                    if change.removes_access() {
                        acks.push(*seq);
                    }
                }
                cursor = *seq;
            }
            if let Some(range) = tokens
                && let Err(e) = self.reload_tokens(None, Some(range)).await
            {
                *last = unloaded_from.unwrap_or(cursor);
                return Err(e);
            }
            *last = cursor;
            if !full {
                return Ok(());
            }
        }
    }

    /// Brings this replica's memory up to one change. No wildcard: a new change does not
    /// compile until it says here what a replica does with it.
    async fn apply(&self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::StaffOffboarded {
                username,
                staff_id,
                epoch,
                ..
            } => {
                // The committed entry is enough to refuse at once; the re-read completes it.
                self.verifier.offboard(*staff_id, *epoch, []);
                self.reload_named(username).await?;
            }
            Change::StaffReinstated { username, .. }
            | Change::StaffPut { username, .. }
            | Change::StaffActivated { username, .. }
            | Change::FirstLoginDone { username, .. }
            | Change::TotpReset { username, .. }
            | Change::TokenRevoked { username, .. }
            | Change::StaffTokensRevoked { username, .. }
            | Change::IdpLoggedOut { username, .. }
            | Change::NdaAcknowledged { username, .. } => self.reload_named(username).await?,
            Change::ChannelTokensRevoked { .. }
            | Change::ChannelPut { .. }
            | Change::ChannelSecretSet { .. } => {
                if let Err(e) = self.channels.load().await {
                    tracing::error!(error = %e, "replica could not reload channels");
                }
                self.reload_tokens(None, None).await?;
            }
            Change::TokenIssued { token_id, .. } => {
                self.reload_tokens(None, Some((*token_id, *token_id)))
                    .await?;
            }
            Change::DirectorySynced {
                movers, leavers, ..
            } => {
                // Joiners are pending and hold no token: nothing to re-read until they are
                // activated (its own entry). Skipping them keeps a sliced 100k import from
                // costing every other replica 100k reads.
                let (Listed::Items(movers), Listed::Items(leavers)) = (movers, leavers) else {
                    // A large import is counted, not listed: re-read everyone.
                    return self.reload_everyone().await;
                };
                let names = movers.iter().map(Mover::username);
                for name in names.chain(leavers.iter().map(Leaver::username)) {
                    self.reload_named(name).await?;
                }
            }
            Change::PoliciesReloaded { .. } => self.rules.follow().await?,
            // Nothing a replica holds in memory: sessions, API keys and schedules are read
            // from the database when used.
            Change::OffboardingScheduled { .. }
            | Change::ScheduledOffboardingCancelled { .. }
            | Change::PolicyReloadRefused { .. }
            | Change::RequirementOff { .. }
            | Change::PlanHeld { .. }
            | Change::SignedIn { .. }
            | Change::SigninFailed { .. }
            | Change::SignedOut { .. }
            | Change::SignedOutEverywhere { .. }
            | Change::TotpEnrolled { .. }
            | Change::TotpVerified { .. }
            | Change::RecoveryCodeUsed { .. }
            | Change::RecoveryCodesRenewed { .. }
            | Change::TotpFailed { .. }
            | Change::TotpReplayed { .. }
            | Change::RecoveryCodeFailed { .. }
            | Change::TotpLockedOut { .. }
            | Change::ApiKeyCreated { .. }
            | Change::ApiKeyRevoked { .. }
            | Change::BootstrapKeyCreated { .. }
            | Change::ScimTokenCreated { .. }
            | Change::ScimTokenRevoked { .. }
            | Change::BrokerDenials { .. }
            | Change::DatabaseBackedUp { .. } => {}
        }
        Ok(())
    }

    async fn reload_named(&self, name: &str) -> Result<(), StoreError> {
        match username(name) {
            Some(u) => self.reload_staff(&u).await,
            None => Ok(()),
        }
    }

    /// Re-reads one person and their unexpired tokens into the verifier.
    async fn reload_staff(&self, username: &Username) -> Result<(), StoreError> {
        let mut conn = self.store.conn().await?;
        let Some(member) = crate::store::staff::find(&mut conn, username).await? else {
            return Ok(());
        };
        drop(conn);
        let id = member.id;
        let offboarded = member.status == StaffStatus::Offboarded;
        self.verifier.put_staff(member);
        self.reload_tokens(Some(id), None).await?;
        if !offboarded
            && let Ok((_, acked)) =
                crate::store::nda::first_login_facts(self.store.pool(), id).await
            && self.compliance.nda().satisfied(&acked, now_millis())
        {
            self.verifier.nda_satisfied(id);
        }
        self.engine.invalidate();
        Ok(())
    }

    async fn reload_tokens(
        &self,
        staff: Option<crate::domain::staff::StaffId>,
        ids: Option<(i64, i64)>,
    ) -> Result<(), StoreError> {
        let rows =
            crate::store::tokens::unexpired_where(self.store.pool(), staff, ids, now_millis())
                .await?;
        let mut revoked = Vec::new();
        for row in &rows {
            self.verifier
                .add_token(row.hash, crate::tokens::grant_of(row));
            if row.revoked_at.is_some() {
                revoked.push(row.hash);
            }
        }
        // Wakes streaming responses, which re-check and cut.
        self.verifier.revoke(revoked);
        Ok(())
    }

    async fn reload_everyone(&self) -> Result<(), StoreError> {
        // Pending people hold no token; leaving them out keeps a large import from living
        // in memory on every replica.
        for member in crate::store::staff::list(self.store.pool()).await? {
            if member.status != StaffStatus::Pending {
                self.verifier.put_staff(member);
            }
        }
        self.reload_tokens(None, None).await?;
        self.engine.invalidate();
        Ok(())
    }
}
