//! Cedar policies: who may do which action on which channel.
//!
//! Reachability is derived here from policy and directory facts, never stored as grants.
//! Decisions are cached per (staff, channel) and the cache is dropped whenever policies,
//! staff or channels change, so the broker asks Cedar only on a miss.

mod load;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Request,
    RestrictedExpression,
};

pub use load::{PolicyBundle, PolicyLoadError, PolicyProblem, load_dir};

use crate::domain::staff::{StaffId, StaffMember};
use crate::domain::{Action, ActionSet, ChannelId, Tag};

/// The facts about a channel that policies see.
#[derive(Debug, Clone)]
pub struct ChannelFacts {
    pub id: ChannelId,
    pub kind: &'static str,
    pub tags: Vec<Tag>,
}

/// What policy permits one staff member on one channel, and which policies say so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub actions: ActionSet,
    pub policies: BTreeSet<String>,
}

/// The live policy set with its decision cache.
pub struct Engine {
    bundle: RwLock<Arc<PolicyBundle>>,
    cache: RwLock<HashMap<(StaffId, ChannelId), ActionSet>>,
    generation: AtomicU64,
    authorizer: Authorizer,
}

fn uid(kind: &str, id: &str) -> EntityUid {
    // Type names are our own constants; ids are arbitrary strings, which Cedar accepts.
    let kind = EntityTypeName::from_str(kind).expect("entity type names are constants");
    EntityUid::from_type_name_and_id(kind, EntityId::new(id))
}

fn entities(staff: &StaffMember, channel: &ChannelFacts) -> Entities {
    let parents: HashSet<EntityUid> = staff
        .groups
        .iter()
        .map(|g| uid("Group", g.as_str()))
        .collect();
    let staff_attrs = HashMap::from([
        (
            "username".to_owned(),
            RestrictedExpression::new_string(staff.username.to_string()),
        ),
        (
            "email".to_owned(),
            RestrictedExpression::new_string(staff.email.clone()),
        ),
    ]);
    let channel_attrs = HashMap::from([
        (
            "kind".to_owned(),
            RestrictedExpression::new_string(channel.kind.to_owned()),
        ),
        (
            "tags".to_owned(),
            RestrictedExpression::new_set(
                channel
                    .tags
                    .iter()
                    .map(|t| RestrictedExpression::new_string(t.to_string())),
            ),
        ),
    ]);
    let mut list = vec![
        Entity::new_with_tags(
            uid("Staff", staff.username.as_str()),
            staff_attrs,
            parents.clone(),
            staff.attributes.iter().map(|(name, values)| {
                (
                    name.clone(),
                    RestrictedExpression::new_set(
                        values
                            .iter()
                            .map(|v| RestrictedExpression::new_string(v.clone())),
                    ),
                )
            }),
        )
        .expect("string attributes"),
        Entity::new(
            uid("Channel", channel.id.as_str()),
            channel_attrs,
            HashSet::new(),
        )
        .expect("string attributes"),
    ];
    list.extend(
        parents
            .into_iter()
            .map(|g| Entity::new_no_attrs(g, HashSet::new())),
    );
    Entities::from_entities(list, None).expect("entity uids are unique")
}

impl Engine {
    pub fn new(bundle: PolicyBundle) -> Engine {
        Engine {
            bundle: RwLock::new(Arc::new(bundle)),
            cache: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            authorizer: Authorizer::new(),
        }
    }

    /// Swaps in a new policy set; every cached decision is dropped.
    pub fn replace(&self, bundle: PolicyBundle) {
        *self.bundle.write().expect("policy lock") = Arc::new(bundle);
        self.invalidate();
    }

    /// Drops cached decisions after staff or channel facts changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.write().expect("policy cache lock").clear();
    }

    /// Asks Cedar about every action (no cache): for access review and token issuance.
    pub fn reach(&self, staff: &StaffMember, channel: &ChannelFacts) -> Reach {
        let bundle = self.bundle.read().expect("policy lock").clone();
        let entities = entities(staff, channel);
        let mut reach = Reach::default();
        for action in Action::ALL {
            let request = Request::new(
                uid("Staff", staff.username.as_str()),
                uid("Action", action.as_str()),
                uid("Channel", channel.id.as_str()),
                Context::empty(),
                None,
            )
            .expect("request without schema check");
            let answer = self
                .authorizer
                .is_authorized(&request, &bundle.set, &entities);
            if answer.decision() == Decision::Allow {
                reach.actions = reach.actions.with(action);
                reach
                    .policies
                    .extend(answer.diagnostics().reason().map(|id| id.to_string()));
            }
        }
        reach
    }

    /// The cache's generation: read it *before* reading the staff snapshot a decision will
    /// be made from, and pass it to [`Self::permitted_as_of`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Permitted actions, from the cache when it is current.
    pub fn permitted(&self, staff: &StaffMember, channel: &ChannelFacts) -> ActionSet {
        self.permitted_as_of(staff, channel, self.generation())
    }

    /// Permitted actions for a snapshot read after `generation` was: a change (which
    /// updates the snapshot, then moves the generation) that landed since keeps the answer
    /// out of the cache, so a stale snapshot never stores a decision.
    pub fn permitted_as_of(
        &self,
        staff: &StaffMember,
        channel: &ChannelFacts,
        generation: u64,
    ) -> ActionSet {
        let key = (staff.id, channel.id.clone());
        if let Some(hit) = self.cache.read().expect("policy cache lock").get(&key) {
            return *hit;
        }
        let actions = self.reach(staff, channel).actions;
        let mut cache = self.cache.write().expect("policy cache lock");
        // A change that landed while Cedar was asked makes this answer stale: do not keep it.
        if self.generation.load(Ordering::SeqCst) == generation {
            cache.insert(key, actions);
        }
        actions
    }
}

#[cfg(test)]
mod tests;
