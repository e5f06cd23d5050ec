//! Persist mode: the users' and the groups' RFC 4533 streams of one source, their catch-up
//! (a full answer, or the changes since the stored cookie), then each change as it lands.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::status::Tracked;

use super::take::Answer;
use super::{SyncError, Syncer};
use crate::audit::Actor;
use crate::directory::ldap::entry::{first_rdn_value, normalize_dn};
use crate::directory::ldap::syncrepl::{self, Event, Watch};
use crate::directory::ldap::{LdapSource, LdapSyncError, search};
use crate::directory::person::{DirectoryPerson, Gone, Skipped};
use crate::directory::reconcile::{Coverage, origin_name};
use crate::domain::GroupName;
use crate::domain::time::now_millis;

pub(super) fn actor(source: &str) -> Actor {
    Actor(format!("directory:{source}"))
}

/// Ends the search task (and its connection) when the runner itself is stopped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the catch-up phase of a sync search collected.
#[derive(Default)]
struct Refresh {
    people: Vec<DirectoryPerson>,
    skipped: Vec<Skipped>,
    gone: Vec<Gone>,
    present: HashSet<String>,
    present_phase: bool,
    cookie: Option<Vec<u8>>,
}

async fn save_cookie(
    syncer: &Syncer,
    source: &str,
    watch: Watch,
    cookie: Option<&[u8]>,
) -> Result<(), SyncError> {
    let key = match watch {
        Watch::Users => source.to_owned(),
        Watch::Groups => format!("{source}#groups"),
    };
    let mut tx = syncer.store.begin().await?;
    crate::store::sync::save(
        tx.conn(),
        &key,
        cookie,
        &syncer.board.json(source),
        now_millis(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn spawn_search(
    source: &Arc<LdapSource>,
    watch: Watch,
    cookie: Option<Vec<u8>>,
) -> (
    AbortOnDrop<Result<(), LdapSyncError>>,
    mpsc::Receiver<Event>,
) {
    let (tx, rx) = mpsc::channel(1024);
    let source = source.clone();
    let task = tokio::spawn(async move { syncrepl::run(&source, watch, cookie, tx).await });
    (AbortOnDrop(task), rx)
}

async fn ended(
    syncer: &Syncer,
    source: &LdapSource,
    watch: Watch,
    search: &mut AbortOnDrop<Result<(), LdapSyncError>>,
) -> Result<(), SyncError> {
    match (&mut search.0).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(LdapSyncError::RefreshRequired)) => {
            // The cookie is too old: forget it, the next connection reloads everything.
            save_cookie(syncer, &source.name, watch, None).await?;
            Err(LdapSyncError::RefreshRequired.into())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(LdapSyncError::Search {
            base: source.base_dn.clone(),
            reason: "the directory's answer could not be parsed".into(),
        }
        .into()),
    }
}

/// The two sync searches of a source (users, and groups: see `GroupEntries`), from
/// connect until either connection ends.
pub(super) async fn stream(
    syncer: &Arc<Syncer>,
    source: &Arc<LdapSource>,
) -> Result<(), SyncError> {
    let name = source.name.as_str();
    let cookie = crate::store::sync::cookie(syncer.store.pool(), name).await?;
    let group_cookie =
        crate::store::sync::cookie(syncer.store.pool(), &format!("{name}#groups")).await?;
    let resumed = cookie.is_some();
    // Without a cookie, the users' refresh already carries every membership: the groups'
    // own catch-up is skipped. With one, group changes missed while away are applied.
    let mut groups_live = group_cookie.is_some();
    let mut group_cookie_pending: Option<Vec<u8>> = None;
    let (mut users, mut user_events) = spawn_search(source, Watch::Users, cookie);
    let (mut groups, mut group_events) = spawn_search(source, Watch::Groups, group_cookie);
    let started = Instant::now();
    let mut refresh = Some(Refresh::default());
    let mut tracked = Some(Tracked::start(&syncer.board, name));
    loop {
        tokio::select! {
            event = user_events.recv() => {
                let Some(event) = event else { break };
                let Some(r) = refresh.as_mut() else {
                    live(syncer, source, event).await?;
                    continue;
                };
                match event {
                    Event::Entry(Ok(p)) => {
                        r.people.push(p);
                        if let Some(t) = &tracked {
                            t.progress.read.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Event::Entry(Err(s)) => r.skipped.push(s),
                    Event::Present(id) => {
                        r.present_phase = true;
                        r.present.insert(id);
                    }
                    Event::Gone(g) => r.gone.push(g),
                    Event::GoneIds(ids) => r.gone.extend(ids.into_iter().map(|id| Gone {
                        dn: None,
                        external_id: Some(id),
                    })),
                    Event::Cookie(c) => r.cookie = Some(c),
                    Event::RefreshDone => {
                        let r = refresh.take().expect("in refresh");
                        finish_refresh(syncer, name, resumed, r, started).await?;
                        tracked = None;
                    }
                    Event::Group { .. } | Event::GroupGone { .. } => {}
                }
            }
            event = group_events.recv() => {
                let Some(event) = event else { break };
                match event {
                    Event::RefreshDone => {
                        groups_live = true;
                        if let Some(c) = group_cookie_pending.take() {
                            save_cookie(syncer, name, Watch::Groups, Some(&c)).await?;
                        }
                    }
                    Event::Cookie(c) if groups_live => {
                        save_cookie(syncer, name, Watch::Groups, Some(&c)).await?;
                    }
                    Event::Cookie(c) => group_cookie_pending = Some(c),
                    Event::Group { dn, members } if groups_live => {
                        group_changed(syncer, source, &dn, &members).await?;
                    }
                    Event::GroupGone { dn } if groups_live => {
                        group_changed(syncer, source, &dn, &[]).await?;
                    }
                    _ => {}
                }
            }
        }
    }
    syncer.board.update(name, |s| s.connected = false);
    // Whichever search ended first says why; the other is dropped (and aborted) with it.
    if users.0.is_finished() {
        ended(syncer, source, Watch::Users, &mut users).await
    } else {
        ended(syncer, source, Watch::Groups, &mut groups).await
    }
}

/// A group entry changed: the people it lists now, and those staffgate has in it, are read
/// afresh and reconciled.
async fn group_changed(
    syncer: &Syncer,
    source: &LdapSource,
    dn: &str,
    members: &[String],
) -> Result<(), SyncError> {
    let mine = origin_name(&source.name);
    let group = first_rdn_value(dn).and_then(|g| GroupName::parse(&g).ok());
    let mut dns: BTreeSet<String> = BTreeSet::new();
    if let Some(g) = &group {
        for (_, d) in
            crate::store::staff::members_of(syncer.store.pool(), &mine, g.as_str()).await?
        {
            dns.extend(d);
        }
    }
    for m in members {
        if m.contains('=') {
            dns.insert(m.clone());
        } else if let Ok(u) = crate::domain::Username::parse(m) {
            // memberUid lists usernames: find their entries.
            let found =
                crate::store::staff::known_for(syncer.store.pool(), &[u.as_str()], &[]).await?;
            dns.extend(found.into_iter().filter_map(|(_, o)| o.dn));
        }
    }
    // One DN may come spelled two ways; read each entry once.
    let mut seen = HashSet::new();
    dns.retain(|d| seen.insert(normalize_dn(d)));
    let dns: Vec<String> = dns.into_iter().collect();
    let fetched = search::fetch(source, &dns).await?;
    let (people, skipped): (Vec<_>, Vec<_>) = fetched.into_iter().partition(Result::is_ok);
    let people = people.into_iter().filter_map(Result::ok).collect();
    let skipped = skipped.into_iter().filter_map(Result::err).collect();
    let _serial = syncer.serialize(&source.name).await;
    let mut answer = Answer::changes(&source.name, people, vec![]);
    answer.skipped = skipped;
    if !syncer
        .take(answer, false, &actor(&source.name))
        .await?
        .plan
        .is_empty()
    {
        note_change(syncer, &source.name);
    }
    Ok(())
}

pub(super) fn note_change(syncer: &Syncer, name: &str) {
    syncer.board.update(name, |s| {
        s.changes_applied += 1;
        s.last_change_at = Some(chrono::Utc::now());
    });
    syncer.board.ok(name);
}

async fn finish_refresh(
    syncer: &Syncer,
    name: &str,
    resumed: bool,
    mut r: Refresh,
    started: Instant,
) -> Result<(), SyncError> {
    let searched = started.elapsed();
    let _serial = syncer.serialize(name).await;
    let known = crate::store::staff::list_with_origin(syncer.store.pool()).await?;
    let coverage = if !resumed {
        Coverage::Full
    } else {
        if r.present_phase {
            // Present phase: whoever the server did not mention as present has gone.
            let mine = origin_name(name);
            let here: HashSet<&str> = r
                .people
                .iter()
                .filter_map(|p| p.external_id.as_deref())
                .chain(r.present.iter().map(String::as_str))
                .collect();
            for (_, origin) in known.iter().filter(|(_, o)| o.source == mine) {
                if let Some(id) = &origin.external_id
                    && !here.contains(id.as_str())
                {
                    r.gone.push(Gone {
                        dn: origin.dn.clone(),
                        external_id: Some(id.clone()),
                    });
                }
            }
        }
        Coverage::Changes(r.gone)
    };
    let answer = Answer {
        kind: crate::directory::reconcile::SourceKind::Ldap,
        source: name.to_owned(),
        people: r.people,
        skipped: r.skipped,
        coverage,
    };
    let outcome = syncer.take(answer, false, &actor(name)).await?;
    syncer.record_run(name, &outcome, searched, started.elapsed());
    syncer.board.update(name, |s| s.connected = true);
    save_cookie(syncer, name, Watch::Users, r.cookie.as_deref()).await
}

/// Applies one live change as soon as it arrives.
async fn live(syncer: &Syncer, source: &LdapSource, event: Event) -> Result<(), SyncError> {
    let name = source.name.as_str();
    let (people, gone) = match event {
        Event::Entry(Ok(p)) => (vec![p], vec![]),
        Event::Entry(Err(s)) => {
            tracing::warn!(source = name, dn = %s.dn, reason = %s.reason, "directory entry skipped");
            return Ok(());
        }
        Event::Gone(g) => (vec![], vec![g]),
        Event::GoneIds(ids) => (
            vec![],
            ids.into_iter()
                .map(|id| Gone {
                    dn: None,
                    external_id: Some(id),
                })
                .collect(),
        ),
        Event::Cookie(c) => return save_cookie(syncer, name, Watch::Users, Some(&c)).await,
        Event::Present(_) | Event::RefreshDone | Event::Group { .. } | Event::GroupGone { .. } => {
            return Ok(());
        }
    };
    let _serial = syncer.serialize(name).await;
    let answer = Answer::changes(name, people, gone);
    let outcome = syncer.take(answer, false, &actor(name)).await?;
    if outcome.plan.is_empty() {
        return Ok(());
    }
    note_change(syncer, name);
    tracing::info!(
        source = name,
        leavers = outcome.plan.leavers.len(),
        movers = outcome.plan.movers.len(),
        joiners = outcome.plan.joiners.len(),
        held = outcome.plan_id.is_some(),
        "directory change applied"
    );
    Ok(())
}
