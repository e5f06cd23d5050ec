//! The access review a page of people at a time, for the console and its CSV: the same
//! answer as [`super::review`], but each page reads only its own people's records, tokens
//! and use, so a page costs the same at 100,000 staff. Pending people show what they will
//! reach; tokens of someone the first-login gate now refuses are shown blocked, not live.

use std::collections::HashMap;

use crate::channels::{Registry, reachable_among};
use crate::domain::staff::StaffStatus;
use crate::domain::time::{Millis, now_millis};
use crate::domain::{Action, ActionSet, ChannelId};
use crate::policy::Engine;
use crate::store::people::{PeopleQuery, PersonRow};
use crate::store::{Store, StoreError};

/// What narrows the review.
#[derive(Debug, Default, Clone)]
pub struct ReviewQuery {
    pub channel: Option<ChannelId>,
    pub group: Option<String>,
    pub action: Option<Action>,
    /// Only pairs not used for this many days (or never).
    pub unused_days: Option<u32>,
    /// The page starts after this username.
    pub after: Option<String>,
    /// People read per page.
    pub people: u32,
    /// A page ends after the person whose rows reach this many (the CSV: no limit).
    pub rows: usize,
}

/// Why a person's tokens do not work now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    NoTotp,
    NdaMissing,
}

/// One (person, channel) pair.
#[derive(Debug, Clone)]
pub struct ReviewRow {
    pub staff: String,
    pub name: String,
    pub status: StaffStatus,
    pub channel: String,
    pub actions: ActionSet,
    pub policies: Vec<String>,
    pub live_tokens: i64,
    pub blocked: Option<Blocked>,
    pub last_used_at: Option<Millis>,
    pub leaves_at: Option<Millis>,
}

/// One page and where the next starts.
#[derive(Debug, Default)]
pub struct ReviewPage {
    pub rows: Vec<ReviewRow>,
    pub next_after: Option<String>,
}

/// What the first-login gate asks now, to tell live tokens from blocked ones.
pub trait Gate {
    fn blocked(&self, person: &PersonRow) -> Option<Blocked>;
}

pub async fn review_page(
    store: &Store,
    engine: &Engine,
    channels: &Registry,
    gate: &impl Gate,
    q: &ReviewQuery,
) -> Result<ReviewPage, StoreError> {
    let people = crate::store::people::page(
        store.pool(),
        &PeopleQuery {
            group: q.group.clone(),
            not_offboarded: true,
            after: q.after.clone(),
            limit: q.people.max(1),
            ..PeopleQuery::default()
        },
    )
    .await?;
    let mut next_after = (people.len() >= q.people.max(1) as usize)
        .then(|| people.last().map(|p| p.username.clone()))
        .flatten();
    let ids: Vec<_> = people.iter().map(|p| p.id).collect();
    let now = now_millis();
    let (members, live, last) = tokio::try_join!(
        crate::store::people::members(store.pool(), &ids),
        crate::store::people::live_tokens(store.pool(), &ids, now),
        crate::store::people::last_use(store.pool(), &ids),
    )?;
    let all: Vec<_> = channels
        .all()
        .into_iter()
        .filter(|c| q.channel.as_ref().is_none_or(|id| *id == c.spec.id))
        .collect();
    let unused_before = q.unused_days.map(|d| now - i64::from(d) * 86_400_000);
    let mut rows = Vec::new();
    for person in &people {
        let Some(member) = members.get(&person.id) else {
            continue;
        };
        let mut reach: HashMap<ChannelId, crate::policy::Reach> =
            reachable_among(&all, engine, member)
                .into_iter()
                .map(|r| (r.channel.spec.id.clone(), r.reach))
                .collect();
        for channel in &all {
            let id = &channel.spec.id;
            let r = reach.remove(id).unwrap_or_default();
            let key = (person.id, id.to_string());
            let live_tokens = live.get(&key).copied().unwrap_or(0);
            let last_used_at = last.get(&key).copied();
            let keep = !(r.actions.is_empty() && live_tokens == 0)
                && q.action.is_none_or(|a| r.actions.contains(a))
                && unused_before.is_none_or(|before| last_used_at.is_none_or(|at| at < before));
            if keep {
                rows.push(ReviewRow {
                    staff: person.username.clone(),
                    name: person.name.clone(),
                    status: person.status,
                    channel: id.to_string(),
                    actions: r.actions,
                    policies: r.policies.into_iter().collect(),
                    live_tokens,
                    blocked: gate.blocked(person),
                    last_used_at,
                    leaves_at: person.leaves_at,
                });
            }
        }
        // Enough rows for one page: the next starts after this person.
        if rows.len() >= q.rows {
            next_after = Some(person.username.clone());
            break;
        }
    }
    Ok(ReviewPage { rows, next_after })
}
