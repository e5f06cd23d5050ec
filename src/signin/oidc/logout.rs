//! A provider's back-channel logout, and ending provider sessions (shared with refresh).

use super::super::{Signin, SigninError};
use crate::audit::{self, Actor};
use crate::directory::oidc::logout::{self, Expect, LogoutTokenError};
use crate::domain::staff::StaffId;
use crate::domain::time::{Millis, now_millis};
use crate::store::tokens::Revoked;

/// What a back-channel logout did.
#[derive(Debug, serde::Serialize)]
pub struct LoggedOut {
    pub sessions_ended: usize,
    pub tokens_revoked: usize,
}

impl Signin {
    /// A provider's back-channel logout: the token checked, its `jti` remembered, the
    /// sessions it names ended and, unless the source says otherwise, the tokens issued from
    /// them revoked — in one transaction, then in this replica's verifier.
    pub async fn oidc_logout(&self, source: &str, token: &str) -> Result<LoggedOut, SigninError> {
        let provider = self.provider(source)?;
        let config = &provider.config;
        let now = now_millis();
        let check = |keys: &serde_json::Value| {
            logout::check(
                token,
                &Expect {
                    issuer: &config.issuer,
                    client_id: &config.client_id,
                    algorithms: &config.algorithms,
                    keys,
                    now: now / 1000,
                },
            )
        };
        let found = match check(&provider.key_set(false).await?) {
            Err(LogoutTokenError::UnknownKey) => check(&provider.key_set(true).await?),
            other => other,
        }?;
        let mut tx = self.store.begin().await?;
        let keep = (found.iat + logout::MAX_AGE_SECS + 120) * 1000;
        if !crate::store::oidc::remember_jti(tx.conn(), source, &found.jti, now, keep).await? {
            return Err(LogoutTokenError::Replayed.into());
        }
        let ended = crate::store::oidc::end_sessions(
            tx.conn(),
            source,
            found.sub.as_deref(),
            found.sid.as_deref(),
            now,
        )
        .await?;
        let revoked = self
            .ended_sessions(tx.conn(), config, &ended, "provider logout", now)
            .await?;
        tx.commit().await?;
        self.verifier.revoke(revoked.iter().map(|r| r.hash));
        crate::directory::oidc::Stats::add(&provider.stats.logouts, 1);
        let (sessions, tokens) = (ended.len(), revoked.len());
        tracing::info!(source, sessions, tokens, "provider logout");
        Ok(LoggedOut {
            sessions_ended: sessions,
            tokens_revoked: tokens,
        })
    }

    /// Ends what `ended` names for `source` (already marked ended in `tx`): the tokens issued
    /// from those sessions revoked unless the source says otherwise, one audit entry a person
    /// saying why. Answers the tokens to drop from the verifier once `tx` commits.
    pub(super) async fn ended_sessions(
        &self,
        conn: &mut sqlx::AnyConnection,
        config: &crate::config::oidc::OidcSource,
        ended: &[(i64, StaffId)],
        reason: &str,
        now: Millis,
    ) -> Result<Vec<Revoked>, SigninError> {
        let source = config.name.as_str();
        let mut people: Vec<_> = ended.iter().map(|(_, staff)| *staff).collect();
        people.sort_unstable();
        people.dedup();
        let actor = Actor(format!("idp:{source}"));
        let mut revoked = Vec::new();
        for staff in people {
            let sessions: Vec<i64> = ended
                .iter()
                .filter(|(_, s)| *s == staff)
                .map(|(id, _)| *id)
                .collect();
            let theirs = if config.revoke_tokens_on_idp_logout {
                crate::store::tokens::revoke_for_sessions(conn, &sessions, now, reason).await?
            } else {
                Vec::new()
            };
            if let Some((member, _)) = crate::store::staff::find_by_id(conn, staff).await? {
                let change = audit::Change::IdpLoggedOut {
                    username: member.username.to_string(),
                    source: source.to_owned(),
                    reason: reason.to_owned(),
                    sessions_ended: sessions.len(),
                    tokens_revoked: theirs.len(),
                };
                audit::record(conn, &actor, &change).await?;
            }
            revoked.extend(theirs);
        }
        Ok(revoked)
    }
}
