//! Channels: registering them, sealing their secrets, and the in-memory registry the broker
//! reads on every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use crate::audit;
use crate::domain::channel::{ChannelKind, ChannelSpec};
use crate::domain::staff::StaffMember;
use crate::domain::time::{now_millis, to_datetime};
use crate::domain::{ActionSet, ChannelId};
use crate::policy::{ChannelFacts, Engine};
use crate::principal::AdminPermit;
use crate::secrets::{MasterKey, SecretsError};
use crate::store::channels::ChannelRecord;
use crate::store::{Store, StoreError};

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// No channel has that id.
    #[error("no channel {0}")]
    NotFound(ChannelId),
    /// The secret was empty or too long.
    #[error("secret: {0}")]
    BadSecret(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// A channel as the broker needs it: spec, policy facts and the opened secret.
pub struct LiveChannel {
    pub spec: ChannelSpec,
    pub facts: ChannelFacts,
    pub secret: Option<ChannelSecret>,
}

/// An opened channel secret with the matcher for every form it may take in transit, built
/// once so the broker's scrubber does no work per request to know what to mask.
pub struct ChannelSecret {
    text: SecretString,
    matcher: Arc<crate::secrets::reflect::SecretMatcher>,
}

impl ChannelSecret {
    pub fn new(text: SecretString) -> ChannelSecret {
        let matcher = Arc::new(crate::secrets::reflect::SecretMatcher::new(
            text.expose_secret(),
        ));
        ChannelSecret { text, matcher }
    }

    pub fn expose(&self) -> &str {
        self.text.expose_secret()
    }

    /// Finds the secret in any form that must never leave the broker.
    pub fn matcher(&self) -> Arc<crate::secrets::reflect::SecretMatcher> {
        self.matcher.clone()
    }
}

/// [`Registry::reachable`] over channels already listed: a review of many people lists the
/// channels once rather than once per person.
pub fn reachable_among(
    channels: &[Arc<LiveChannel>],
    engine: &Engine,
    member: &StaffMember,
) -> Vec<Reachable> {
    channels
        .iter()
        .filter_map(|channel| {
            let reach = engine.reach(member, &channel.facts);
            let channel = channel.clone();
            (!reach.actions.is_empty()).then_some(Reachable { channel, reach })
        })
        .collect()
}

/// One channel a person can reach, and why.
pub struct Reachable {
    pub channel: Arc<LiveChannel>,
    pub reach: crate::policy::Reach,
}

/// Channel id → live channel.
#[derive(Default)]
pub struct Registry {
    map: RwLock<HashMap<ChannelId, Arc<LiveChannel>>>,
}

impl Registry {
    pub fn get(&self, id: &ChannelId) -> Option<Arc<LiveChannel>> {
        self.map.read().expect("channel lock").get(id).cloned()
    }

    pub fn get_str(&self, id: &str) -> Option<Arc<LiveChannel>> {
        let id = ChannelId::parse(id).ok()?;
        self.get(&id)
    }

    pub fn all(&self) -> Vec<Arc<LiveChannel>> {
        let mut all: Vec<_> = self
            .map
            .read()
            .expect("channel lock")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        all
    }

    /// What `member` can reach: every channel on which policy permits them at least one
    /// action, with the actions and the policies that grant them, in channel order. The one
    /// answer to "what can this person reach" (offboarding, the review, the pages, `/me`).
    pub fn reachable(&self, engine: &Engine, member: &StaffMember) -> Vec<Reachable> {
        reachable_among(&self.all(), engine, member)
    }

    /// What policy permits `member` on `id` now (nothing on a channel that is gone).
    pub fn permitted(&self, engine: &Engine, member: &StaffMember, id: &ChannelId) -> ActionSet {
        self.get(id)
            .map_or(ActionSet::EMPTY, |c| engine.reach(member, &c.facts).actions)
    }

    fn put(&self, live: LiveChannel) {
        self.map
            .write()
            .expect("channel lock")
            .insert(live.spec.id.clone(), Arc::new(live));
    }
}

/// What the API shows of a channel: never the secret.
#[derive(Debug, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct ChannelView {
    pub id: ChannelId,
    pub kind: String,
    pub upstream: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    pub rules: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub tags: Vec<String>,
    pub secret_set: bool,
    pub secret_set_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<&ChannelRecord> for ChannelView {
    fn from(r: &ChannelRecord) -> Self {
        let (header, param) = match &r.spec.kind {
            ChannelKind::Header { header } => (Some(header.clone()), None),
            ChannelKind::Query { param } => (None, Some(param.clone())),
            _ => (None, None),
        };
        ChannelView {
            id: r.spec.id.clone(),
            kind: r.spec.kind.name().to_owned(),
            upstream: r.spec.upstream.as_str().to_owned(),
            header,
            param,
            rules: r.spec.rules.iter().map(|x| x.to_text()).collect(),
            preset: r.spec.preset.map(|p| p.name().to_owned()),
            tags: r.spec.tags.iter().map(|t| t.to_string()).collect(),
            secret_set: r.secret_sealed.is_some(),
            secret_set_at: r.secret_set_at.map(to_datetime),
            updated_at: to_datetime(r.updated_at),
        }
    }
}

fn facts(spec: &ChannelSpec) -> ChannelFacts {
    ChannelFacts {
        id: spec.id.clone(),
        kind: spec.kind.name(),
        tags: spec.tags.clone(),
    }
}

fn context(id: &ChannelId) -> String {
    format!("channel:{id}")
}

/// Channel administration.
pub struct Channels {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub key: Arc<MasterKey>,
    pub engine: Arc<Engine>,
    /// Told of the tokens a repointing revokes.
    pub verifier: Arc<crate::tokens::Verifier>,
}

impl Channels {
    fn to_live(&self, r: &ChannelRecord) -> Result<LiveChannel, ChannelError> {
        let secret = match &r.secret_sealed {
            Some(sealed) => Some(ChannelSecret::new(
                self.key.open_string(&context(&r.spec.id), sealed)?,
            )),
            None => None,
        };
        Ok(LiveChannel {
            spec: r.spec.clone(),
            facts: facts(&r.spec),
            secret,
        })
    }

    /// Fills the registry from the database at start.
    pub async fn load(&self) -> Result<usize, ChannelError> {
        let records = crate::store::channels::list(self.store.pool()).await?;
        for r in &records {
            if r.spec.reads_every_get() {
                tracing::warn!(
                    channel = %r.spec.id,
                    "channel classifies every GET as read (rule \"GET /** read\", the default of earlier versions): an API that writes over GET lets a read token write; give it a preset or narrower rules"
                );
            }
            self.registry.put(self.to_live(r)?);
        }
        Ok(records.len())
    }

    /// Registers or changes a channel. A change of destination (kind, or upstream origin)
    /// drops the sealed secret and revokes the channel's tokens in the same transaction: the
    /// secret was given for one destination, and "never shown again" must not become "sent
    /// wherever an admin key points it".
    pub async fn upsert(
        &self,
        permit: &AdminPermit,
        spec: ChannelSpec,
    ) -> Result<ChannelView, ChannelError> {
        let actor = permit.actor();
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        let before = crate::store::channels::find_in(tx.conn(), &spec.id).await?;
        let repointed = before
            .as_ref()
            .is_some_and(|b| b.secret_sealed.is_some() && !b.spec.same_destination(&spec));
        let mut record = crate::store::channels::upsert(tx.conn(), &spec, now).await?;
        let mut revoked = Vec::new();
        if repointed {
            crate::store::channels::clear_secret(tx.conn(), &spec.id, now).await?;
            record.secret_sealed = None;
            record.secret_set_at = None;
            let why = "channel repointed: its secret was dropped";
            revoked =
                crate::store::tokens::revoke_for_channel(tx.conn(), &spec.id, now, why).await?;
        }
        let view = ChannelView::from(&record);
        let serde_json::Value::Object(definition) = json!({ "kind": view.kind, "upstream": view.upstream, "rules": view.rules,
                    "preset": view.preset, "tags": view.tags, "insecure_upstream": spec.insecure_upstream,
                    "secret_dropped": repointed, "tokens_revoked": revoked.len() })
        else {
            unreachable!("an object literal")
        };
        let change = audit::Change::ChannelPut {
            channel: spec.id.to_string(),
            definition,
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        if repointed {
            tracing::warn!(channel = %spec.id, tokens_revoked = revoked.len(),
                "channel repointed: its secret was dropped and its tokens revoked; set the secret again");
        }
        self.registry.put(self.to_live(&record)?);
        self.verifier.revoke(revoked.into_iter().map(|r| r.hash));
        self.engine.invalidate();
        Ok(view)
    }

    pub async fn set_secret(
        &self,
        permit: &AdminPermit,
        id: &ChannelId,
        secret: SecretString,
    ) -> Result<(), ChannelError> {
        let actor = permit.actor();
        let text = secret.expose_secret();
        if text.trim().is_empty() {
            return Err(ChannelError::BadSecret("must not be empty"));
        }
        if text.len() > 4096 {
            return Err(ChannelError::BadSecret("must be at most 4096 bytes"));
        }
        if text.chars().any(|c| c.is_control()) {
            return Err(ChannelError::BadSecret(
                "must not contain control characters or line breaks",
            ));
        }
        let sealed = self.key.seal(&context(id), text.as_bytes())?;
        let mut tx = self.store.begin().await?;
        if !crate::store::channels::set_secret(tx.conn(), id, &sealed, now_millis()).await? {
            return Err(ChannelError::NotFound(id.clone()));
        }
        let change = audit::Change::ChannelSecretSet {
            channel: id.to_string(),
        };
        audit::record(tx.conn(), actor, &change).await?;
        tx.commit().await?;
        // The registry already holds the spec; only the secret changes.
        let current = self
            .registry
            .get(id)
            .ok_or_else(|| ChannelError::NotFound(id.clone()))?;
        self.registry.put(LiveChannel {
            spec: current.spec.clone(),
            facts: current.facts.clone(),
            secret: Some(ChannelSecret::new(secret)),
        });
        Ok(())
    }

    pub async fn get(&self, id: &ChannelId) -> Result<ChannelView, ChannelError> {
        let record = crate::store::channels::find(self.store.pool(), id)
            .await?
            .ok_or_else(|| ChannelError::NotFound(id.clone()))?;
        Ok(ChannelView::from(&record))
    }

    pub async fn list(&self) -> Result<Vec<ChannelView>, ChannelError> {
        Ok(crate::store::channels::list(self.store.pool())
            .await?
            .iter()
            .map(ChannelView::from)
            .collect())
    }
}
