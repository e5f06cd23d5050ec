//! Access review: for every active staff member × channel, what policy permits, which
//! policies say so, live tokens and last use. Derived, never stored.

pub mod page;

use std::collections::HashMap;

use serde::Serialize;

use crate::channels::{Registry, reachable_among};
use crate::domain::staff::StaffStatus;
use crate::domain::time::{now_millis, to_datetime};
use crate::domain::{ActionSet, ChannelId, Username};
use crate::policy::{Engine, Reach};
use crate::store::{Store, StoreError};

/// One reachable (staff, channel) pair.
#[derive(Debug, Serialize, utoipa::ToSchema, serde::Deserialize)]
pub struct AccessRow {
    pub staff: String,
    pub name: String,
    pub channel: String,
    pub actions: ActionSet,
    pub policies: Vec<String>,
    pub live_tokens: i64,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When a scheduled offboarding ends this access.
    pub leaves_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Narrowing of a review.
#[derive(Debug, Default)]
pub struct Filter {
    pub staff: Option<Username>,
    pub channel: Option<ChannelId>,
}

/// Builds the review. Pairs with nothing permitted and no live token are left out.
pub async fn review(
    store: &Store,
    engine: &Engine,
    channels: &Registry,
    filter: &Filter,
) -> Result<Vec<AccessRow>, StoreError> {
    let staff = crate::store::staff::list(store.pool()).await?;
    let live = crate::store::tokens::live_counts(store.pool(), now_millis()).await?;
    let last = crate::store::activity::last_use(store.pool()).await?;
    let leaving = crate::store::schedule::pending_by_staff(store.pool()).await?;
    let all = channels.all();
    let mut rows = Vec::new();
    for member in staff.iter().filter(|m| m.status == StaffStatus::Active) {
        if filter.staff.as_ref().is_some_and(|u| *u != member.username) {
            continue;
        }
        let mut reachable: HashMap<ChannelId, Reach> = reachable_among(&all, engine, member)
            .into_iter()
            .map(|r| (r.channel.spec.id.clone(), r.reach))
            .collect();
        for channel in &all {
            let id = &channel.spec.id;
            if filter.channel.as_ref().is_some_and(|c| c != id) {
                continue;
            }
            let reach = reachable.remove(id).unwrap_or_default();
            let key = (member.id, id.to_string());
            let live_tokens = live.get(&key).copied().unwrap_or(0);
            if reach.actions.is_empty() && live_tokens == 0 {
                continue;
            }
            rows.push(AccessRow {
                staff: member.username.to_string(),
                name: member.name.clone(),
                channel: id.to_string(),
                actions: reach.actions,
                policies: reach.policies.into_iter().collect(),
                live_tokens,
                last_used_at: last.get(&key).copied().map(to_datetime),
                leaves_at: leaving.get(&member.id).copied().map(to_datetime),
            });
        }
    }
    Ok(rows)
}
