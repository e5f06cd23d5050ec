//! Leavers a provider never pushes: every provider session's grant is refreshed on the
//! source's interval. A refused grant (the account is gone, disabled, or the grant revoked)
//! ends the session and its tokens; changed claims are a move through the directory path.

use secrecy::ExposeSecret;

use super::super::{Signin, SigninError};
use crate::audit::Actor;
use crate::directory::oidc::{Provider, Refreshed, claims};
use crate::directory::reconcile::SourceKind;
use crate::directory::sync::Answer;
use crate::domain::time::{Millis, now_millis};

/// The sealing context of a session's provider refresh token.
pub(super) const SEAL_CONTEXT: &str = "oidc-refresh";

/// What one round of refreshes did, for the log and status.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub refreshed: usize,
    pub ended: usize,
    /// Refreshes that could not be asked (the provider down, an unreadable answer): the
    /// session is kept and asked again after the interval.
    pub failed: usize,
    /// People handed to offboarding (`offboard_when_unrefreshable`).
    pub offboarded: usize,
}

impl Signin {
    /// Refreshes every session of `provider` not refreshed within its interval.
    pub async fn oidc_refresh_due(&self, provider: &Provider) -> Result<Round, SigninError> {
        let config = &provider.config;
        let now = now_millis();
        let before = now - config.refresh_interval.as_millis() as Millis;
        let due =
            crate::store::oidc::due_refreshes(self.store.pool(), &config.name, before, now).await?;
        let mut round = Round::default();
        for session in due {
            match self.refresh_one(provider, &session).await {
                Ok(true) => round.refreshed += 1,
                Ok(false) => round.ended += 1,
                Err(e) => {
                    round.failed += 1;
                    provider.stats.error(Some(format!("refresh: {e}")));
                    tracing::warn!(source = %config.name, session = session.session, error = %e, "provider refresh failed; the session is kept and asked again");
                    let mut tx = self.store.begin().await?;
                    crate::store::oidc::save_refresh(
                        tx.conn(),
                        session.session,
                        &session.sealed,
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                }
            }
        }
        let stats = &provider.stats;
        crate::directory::oidc::Stats::add(&stats.refreshed, round.refreshed);
        crate::directory::oidc::Stats::add(&stats.ended_at_refresh, round.ended);
        crate::directory::oidc::Stats::add(&stats.refresh_failed, round.failed);
        round.offboarded = self.offboard_unrefreshable(provider).await?;
        Ok(round)
    }

    /// Hands the people the provider has refused for `unrefreshable_after` to offboarding,
    /// through the directory's reconcile, guard and apply: more of them at once than the
    /// guard allows is a held plan, and nobody is offboarded until an admin confirms it.
    async fn offboard_unrefreshable(&self, provider: &Provider) -> Result<usize, SigninError> {
        let config = &provider.config;
        if !config.offboard_when_unrefreshable {
            return Ok(0);
        }
        let before = now_millis() - config.unrefreshable_after.as_millis() as Millis;
        let people =
            crate::directory::oidc::refused::leavers(&self.store, &config.name, before).await?;
        if people.is_empty() {
            return Ok(0);
        }
        let origin = SourceKind::Oidc.origin(&config.name);
        let actor = Actor(format!("idp:{}", config.name));
        let answer = Answer::changes_from(SourceKind::Oidc, &config.name, people, vec![]);
        let _serial = self.syncer.serialize(&origin).await;
        let outcome = self
            .syncer
            .take(answer, false, &actor)
            .await
            .map_err(|e| SigninError::OidcApply(e.to_string()))?;
        Ok(outcome.applied.map_or(0, |a| a.offboarded.len()))
    }

    /// `true`: refreshed (and any move applied); `false`: the provider refused and the
    /// session ended.
    async fn refresh_one(
        &self,
        provider: &Provider,
        due: &crate::store::oidc::Due,
    ) -> Result<bool, SigninError> {
        let config = &provider.config;
        let plain = self
            .key
            .open_string(SEAL_CONTEXT, &due.sealed)
            .map_err(|_| SigninError::OidcApply("a sealed refresh token does not open".into()))?;
        match provider.refresh(plain.expose_secret(), &due.sub).await? {
            Refreshed::Claims {
                claims: now_claims,
                refresh_token,
            } => {
                let person = claims::person(config, &due.sub, &now_claims)?;
                self.apply_person(config, person).await?;
                let sealed = self
                    .key
                    .seal(SEAL_CONTEXT, refresh_token.expose_secret().as_bytes())
                    .map_err(|_| SigninError::Random)?;
                let mut tx = self.store.begin().await?;
                crate::store::oidc::save_refresh(tx.conn(), due.session, &sealed, now_millis())
                    .await?;
                crate::store::oidc::clear_refusal(tx.conn(), due.staff).await?;
                tx.commit().await?;
                Ok(true)
            }
            Refreshed::Refused(why) => {
                let now = now_millis();
                let reason = format!("provider refused the refresh: {why}");
                let mut tx = self.store.begin().await?;
                let ended = crate::store::oidc::end_these(tx.conn(), &[due.session], now).await?;
                crate::store::oidc::note_refusal(tx.conn(), due.staff, &config.name, &why, now)
                    .await?;
                let revoked = self
                    .ended_sessions(tx.conn(), config, &ended, &reason, now)
                    .await?;
                tx.commit().await?;
                self.verifier.revoke(revoked.iter().map(|r| r.hash));
                tracing::info!(source = %config.name, staff = due.staff, reason, "provider session ended at refresh");
                Ok(false)
            }
        }
    }
}
