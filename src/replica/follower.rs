//! Applies other replicas' changes to this one's memory, in log order.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::Presence;
use crate::channels::Channels;
use crate::compliance::Compliance;
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

/// Changes that take access away; each applied one is acknowledged for receipts.
const REVOKING: &[&str] = &[
    "staff.offboard",
    "token.revoke",
    "token.revoke_staff",
    "token.revoke_channel",
    "policy.reload",
    "directory.sync",
    "totp.reset",
    "channel.put",
    "channel.secret_set",
];

/// The follower of one replica.
pub struct Follower {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub channels: Channels,
    pub compliance: Arc<Compliance>,
    pub policies_dir: PathBuf,
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
                if event == "token.issue" {
                    let id = serde_json::from_str::<Value>(details)
                        .ok()
                        .and_then(|d| d["token_id"].as_i64());
                    if let Some(id) = id {
                        tokens = Some(tokens.map_or((id, id), |(lo, hi)| (lo.min(id), hi.max(id))));
                    }
                    unloaded_from.get_or_insert(cursor);
                } else {
                    if let Err(e) = self.apply(event, subject, details).await {
                        *last = unloaded_from.unwrap_or(cursor);
                        return Err(e);
                    }
                    if REVOKING.contains(&event.as_str()) {
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

    async fn apply(&self, event: &str, subject: &str, details: &str) -> Result<(), StoreError> {
        if event == "staff.offboard" {
            // The committed entry is enough to refuse at once; the re-read below completes it.
            let d: Value = serde_json::from_str(details).unwrap_or(Value::Null);
            if let (Some(id), Some(epoch)) = (d["staff_id"].as_i64(), d["epoch"].as_i64()) {
                self.verifier.offboard(id, epoch, []);
            }
        }
        match event {
            "staff.offboard"
            | "staff.reinstate"
            | "staff.put"
            | "staff.activate"
            | "staff.first_login_done"
            | "totp.reset"
            | "token.revoke"
            | "token.revoke_staff"
            | "nda.acknowledged" => {
                if let Some(u) = username(subject) {
                    self.reload_staff(&u).await?;
                }
            }
            "token.revoke_channel" | "channel.put" | "channel.secret_set" => {
                if let Err(e) = self.channels.load().await {
                    tracing::error!(error = %e, "replica could not reload channels");
                }
                self.reload_tokens(None, None).await?;
            }
            "directory.sync" => {
                let d: Value = serde_json::from_str(details).unwrap_or(Value::Null);
                let mut names: Vec<String> = Vec::new();
                // Joiners are pending and hold no token: nothing to re-read until they are
                // activated (its own entry). Skipping them keeps a sliced 100k import from
                // costing every other replica 100k reads.
                for key in ["movers", "leavers"] {
                    match &d[key] {
                        Value::Array(list) => names.extend(list.iter().filter_map(|v| {
                            v.as_str()
                                .or_else(|| v["username"].as_str())
                                .map(str::to_owned)
                        })),
                        Value::Number(_) => {
                            // A large import is counted, not listed: re-read everyone.
                            return self.reload_everyone().await;
                        }
                        _ => {}
                    }
                }
                for n in names {
                    if let Some(u) = username(&n) {
                        self.reload_staff(&u).await?;
                    }
                }
            }
            "policy.reload" => {
                // Loaded here without auditing: an audited reload would echo between replicas.
                match crate::policy::load_dir(&self.policies_dir) {
                    Ok(bundle) => self.engine.replace(bundle),
                    Err(e) => {
                        tracing::error!(error = %e, "replica could not reload policies; keeping its own")
                    }
                }
                if let Err(e) = self.compliance.reload_nda() {
                    tracing::error!(error = %e, "replica could not reload NDA texts");
                }
                self.compliance.refresh_gate().await?;
            }
            _ => {}
        }
        Ok(())
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
