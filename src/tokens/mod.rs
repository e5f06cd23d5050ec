//! Brokered tokens: issuing, revoking, listing, and the in-memory verifier.

pub mod batch;
pub mod gate;
pub mod verifier;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::config::TokenConfig;
use crate::domain::channel::{ChannelKind, ChannelSpec};
use crate::domain::credential::{self, CredentialKind};
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::domain::time::{Millis, now_millis, to_datetime};
use crate::domain::{ActionSet, ChannelId};
use crate::policy::{ChannelFacts, Engine};
use crate::principal::{AdminPermit, HrPermit};
use crate::store::tokens::{Revoked, TokenRow};
use crate::store::{Store, StoreError};
pub use verifier::{Denial, Grant, Verified, Verifier};

/// Why a token could not be issued or revoked.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The staff member's status changed between the gate and the write.
    #[error("staff member is {0:?}, not active")]
    StaffNotActive(StaffStatus),
    /// Policy permits nothing on this channel for this person.
    #[error("policy permits no action on this channel for this staff member")]
    NothingPermitted,
    /// Some requested actions are not permitted.
    #[error("actions not permitted by policy: {}", .0.to_list())]
    ActionsNotPermitted(ActionSet),
    /// The requested lifetime exceeds the configured maximum.
    #[error("ttl: at most {} allowed", humantime::format_duration(*.0))]
    TtlTooLong(Duration),
    /// No token has that id.
    #[error("no token {0}")]
    NotFound(i64),
    /// The random source failed.
    #[error("random source failed")]
    Random,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What was asked for.
pub struct IssueRequest {
    pub actions: Option<ActionSet>,
    pub ttl: Option<Duration>,
    /// The sign-in session asking, when a person asks for themselves.
    pub session: Option<i64>,
}

/// A freshly issued token: the only time its text exists outside the caller.
#[derive(Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Issued {
    pub id: i64,
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::secrets::show_once")]
    pub token: SecretString,
    pub staff: String,
    pub channel: ChannelId,
    pub actions: ActionSet,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A token as listed: metadata only.
#[derive(Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct TokenView {
    pub id: i64,
    pub staff: String,
    pub channel: ChannelId,
    pub actions: ActionSet,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub issued_by: String,
    /// `live`, `expired` or `revoked`.
    pub state: String,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TokenView {
    fn of(row: &TokenRow, now: Millis) -> TokenView {
        let state = match (row.revoked_at, row.expires_at <= now) {
            (Some(_), _) => "revoked",
            (None, true) => "expired",
            (None, false) => "live",
        };
        TokenView {
            id: row.id,
            staff: row.username.clone(),
            channel: row.channel_id.clone(),
            actions: row.actions,
            issued_at: to_datetime(row.issued_at),
            expires_at: to_datetime(row.expires_at),
            issued_by: row.issued_by.clone(),
            state: state.to_owned(),
            last_used_at: row.last_used_at.map(to_datetime),
        }
    }
}

/// Token issuing and revocation.
pub struct Tokens {
    pub store: Store,
    pub verifier: Arc<Verifier>,
    pub engine: Arc<Engine>,
    pub config: TokenConfig,
    /// Writes issued tokens, many per transaction under load.
    pub writer: batch::IssuanceBatcher,
}

impl Tokens {
    /// Fills the verifier from the database at start.
    pub async fn load(&self) -> Result<usize, StoreError> {
        for member in crate::store::staff::list(self.store.pool()).await? {
            self.verifier.put_staff(member);
        }
        let rows = crate::store::tokens::unexpired(self.store.pool(), now_millis()).await?;
        for row in &rows {
            self.verifier.add_token(row.hash, grant_of(row));
        }
        Ok(rows.len())
    }

    /// Issues a token. Callers reach this only through the compliance gate.
    pub async fn issue(
        &self,
        actor: &Actor,
        cleared: gate::Cleared<'_>,
        spec: &ChannelSpec,
        facts: &ChannelFacts,
        req: IssueRequest,
    ) -> Result<Issued, TokenError> {
        let staff = cleared.staff();
        let permitted = self.engine.permitted(staff, facts);
        if permitted.is_empty() {
            return Err(TokenError::NothingPermitted);
        }
        let actions = req.actions.unwrap_or(permitted);
        if !actions.is_subset(permitted) {
            return Err(TokenError::ActionsNotPermitted(
                actions.difference(permitted),
            ));
        }
        let ttl = req.ttl.unwrap_or(self.config.default_ttl);
        if ttl > self.config.max_ttl {
            return Err(TokenError::TtlTooLong(self.config.max_ttl));
        }
        let (token, hash) =
            credential::generate(CredentialKind::BrokeredToken).map_err(|_| TokenError::Random)?;
        let now = now_millis();
        let expires_at = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let channel_id = &spec.id;
        let (id, epoch) = self
            .writer
            .write(batch::Pending {
                hash,
                staff_id: staff.id,
                username: staff.username.to_string(),
                channel: channel_id.clone(),
                actions,
                issued_at: now,
                expires_at,
                actor: actor.clone(),
                session_id: req.session,
                factor: cleared.factor().map(|f| f.label().to_owned()),
            })
            .await?;
        self.verifier.add_token(
            hash,
            Grant {
                token_id: id,
                staff_id: staff.id,
                channel: channel_id.clone(),
                actions,
                expires_at,
                epoch,
                revoked: false,
            },
        );
        let token = match spec.kind {
            ChannelKind::Telegram => {
                SecretString::from(credential::telegram_shape(id, token.expose_secret()))
            }
            _ => token,
        };
        Ok(Issued {
            id,
            token,
            staff: staff.username.to_string(),
            channel: channel_id.clone(),
            actions,
            expires_at: to_datetime(expires_at),
        })
    }

    /// Revokes one token.
    pub async fn revoke_one(
        &self,
        permit: &AdminPermit,
        id: i64,
        why: &str,
    ) -> Result<usize, TokenError> {
        let actor = permit.actor();
        self.revoke_checked(actor, id, why, None).await
    }

    /// Revokes one of the person's own tokens; anyone else's is "not found".
    pub async fn revoke_own(
        &self,
        actor: &Actor,
        owner: &StaffMember,
        id: i64,
    ) -> Result<usize, TokenError> {
        self.revoke_checked(actor, id, "revoked by its owner", Some(owner.id))
            .await
    }

    async fn revoke_checked(
        &self,
        actor: &Actor,
        id: i64,
        why: &str,
        owner: Option<crate::domain::staff::StaffId>,
    ) -> Result<usize, TokenError> {
        let mut tx = self.store.begin().await?;
        let row = crate::store::tokens::find(tx.conn(), id)
            .await?
            .filter(|r| owner.is_none_or(|o| o == r.staff_id))
            .ok_or(TokenError::NotFound(id))?;
        let revoked = crate::store::tokens::revoke_one(tx.conn(), id, now_millis(), why).await?;
        let change = audit::Change::TokenRevoked {
            username: row.username.clone(),
            token_id: id,
            reason: why.to_owned(),
            revoked: revoked.len(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        Ok(self.forget(revoked))
    }

    /// Revokes every live token of one staff member.
    pub async fn revoke_staff(
        &self,
        permit: &HrPermit,
        staff: &StaffMember,
        why: &str,
    ) -> Result<usize, TokenError> {
        let actor = permit.actor();
        let mut tx = self.store.begin().await?;
        let revoked =
            crate::store::tokens::revoke_for_staff(tx.conn(), staff.id, now_millis(), why).await?;
        let change = audit::Change::StaffTokensRevoked {
            username: staff.username.to_string(),
            reason: why.to_owned(),
            revoked: revoked.len(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        Ok(self.forget(revoked))
    }

    /// Revokes every live token for one channel.
    pub async fn revoke_channel(
        &self,
        permit: &AdminPermit,
        channel: &ChannelId,
        why: &str,
    ) -> Result<usize, TokenError> {
        let actor = permit.actor();
        let mut tx = self.store.begin().await?;
        let revoked =
            crate::store::tokens::revoke_for_channel(tx.conn(), channel, now_millis(), why).await?;
        let change = audit::Change::ChannelTokensRevoked {
            channel: channel.to_string(),
            reason: why.to_owned(),
            revoked: revoked.len(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        Ok(self.forget(revoked))
    }

    fn forget(&self, revoked: Vec<Revoked>) -> usize {
        let n = revoked.len();
        self.verifier.revoke(revoked.into_iter().map(|r| r.hash));
        n
    }

    pub async fn list(
        &self,
        staff: Option<&str>,
        channel: Option<&str>,
    ) -> Result<Vec<TokenView>, TokenError> {
        let now = now_millis();
        let rows = crate::store::tokens::list(self.store.pool(), staff, channel, 1_000).await?;
        Ok(rows.iter().map(|r| TokenView::of(r, now)).collect())
    }
}

pub(crate) fn grant_of(row: &TokenRow) -> Grant {
    Grant {
        token_id: row.id,
        staff_id: row.staff_id,
        channel: row.channel_id.clone(),
        actions: row.actions,
        expires_at: row.expires_at,
        epoch: row.epoch,
        revoked: row.revoked_at.is_some(),
    }
}
