//! Running a source for as long as the daemon runs: a persist stream where the server
//! offers one, polling otherwise, reconnecting with backoff when the directory goes away.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{SyncError, Syncer};
use crate::audit::Actor;
use crate::directory::ldap::config::Mode;
use crate::directory::ldap::persist::{self, Event};
use crate::directory::ldap::{LdapSource, LdapSyncError, search};
use crate::directory::person::{DirectoryPerson, Gone, Skipped};
use crate::directory::reconcile::{Coverage, origin_name, reconcile};
use crate::domain::time::now_millis;

const MAX_BACKOFF: Duration = Duration::from_secs(60);

fn actor(source: &str) -> Actor {
    Actor(format!("directory:{source}"))
}

/// Runs one source forever.
pub async fn run_source(syncer: Arc<Syncer>, source: Arc<LdapSource>) {
    let mut backoff = Duration::from_secs(1);
    let mut persist_offered: Option<bool> = match source.mode {
        Mode::Persist => Some(true),
        Mode::Poll => Some(false),
        Mode::Auto => None,
    };
    loop {
        let result = match persist_offered {
            None => match search::offers_sync(&source).await {
                Ok(offered) => {
                    persist_offered = Some(offered);
                    syncer.board.update(&source.name, |s| {
                        s.mode = if offered { "persist" } else { "poll" }.into()
                    });
                    continue;
                }
                Err(e) => Err(SyncError::from(e)),
            },
            Some(true) => stream(&syncer, &source).await,
            Some(false) => syncer
                .full_sync(&source.name, false, &actor(&source.name))
                .await
                .map(|_| ()),
        };
        match result {
            Ok(()) if persist_offered == Some(false) => {
                backoff = Duration::from_secs(1);
                tokio::time::sleep(source.poll_interval).await;
            }
            Ok(()) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::warn!(source = %source.name, error = %e, retry_in = ?backoff, "directory sync failed");
                syncer.board.error(&source.name, e.to_string());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
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
    cookie: Option<&[u8]>,
) -> Result<(), SyncError> {
    let mut tx = syncer.store.begin().await?;
    crate::store::sync::save(
        tx.conn(),
        source,
        cookie,
        &syncer.board.json(source),
        now_millis(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One sync search, from connect until the connection ends.
async fn stream(syncer: &Arc<Syncer>, source: &Arc<LdapSource>) -> Result<(), SyncError> {
    let name = source.name.as_str();
    let cookie = crate::store::sync::cookie(syncer.store.pool(), name).await?;
    let resumed = cookie.is_some();
    let (tx, mut rx) = mpsc::channel(1024);
    let search_source = source.clone();
    let search = tokio::spawn(async move { persist::run(&search_source, cookie, tx).await });
    let started = Instant::now();
    let mut refresh = Some(Refresh::default());
    while let Some(event) = rx.recv().await {
        let Some(r) = refresh.as_mut() else {
            live(syncer, name, event).await?;
            continue;
        };
        match event {
            Event::Entry(Ok(p)) => r.people.push(p),
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
            }
        }
    }
    syncer.board.update(name, |s| s.connected = false);
    match search.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(LdapSyncError::RefreshRequired)) => {
            // The cookie is too old: forget it, the next connection reloads everything.
            save_cookie(syncer, name, None).await?;
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

async fn finish_refresh(
    syncer: &Syncer,
    name: &str,
    resumed: bool,
    mut r: Refresh,
    started: Instant,
) -> Result<(), SyncError> {
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
    let full = matches!(coverage, Coverage::Full);
    let plan = reconcile(name, r.people, r.skipped, coverage, &known);
    let outcome = syncer.decide(plan, full, false, &actor(name)).await?;
    syncer.record_run(name, &outcome, started.elapsed());
    syncer.board.update(name, |s| s.connected = true);
    save_cookie(syncer, name, r.cookie.as_deref()).await
}

/// Applies one live change as soon as it arrives.
async fn live(syncer: &Syncer, name: &str, event: Event) -> Result<(), SyncError> {
    let (people, skipped, gone) = match event {
        Event::Entry(Ok(p)) => (vec![p], vec![], vec![]),
        Event::Entry(Err(s)) => {
            tracing::warn!(source = name, dn = %s.dn, reason = %s.reason, "directory entry skipped");
            return Ok(());
        }
        Event::Gone(g) => (vec![], vec![], vec![g]),
        Event::GoneIds(ids) => (
            vec![],
            vec![],
            ids.into_iter()
                .map(|id| Gone {
                    dn: None,
                    external_id: Some(id),
                })
                .collect(),
        ),
        Event::Cookie(c) => return save_cookie(syncer, name, Some(&c)).await,
        Event::Present(_) | Event::RefreshDone => return Ok(()),
    };
    let known = crate::store::staff::list_with_origin(syncer.store.pool()).await?;
    let plan = reconcile(name, people, skipped, Coverage::Changes(gone), &known);
    if plan.is_empty() {
        return Ok(());
    }
    let outcome = syncer.decide(plan, false, false, &actor(name)).await?;
    syncer.board.update(name, |s| {
        s.changes_applied += 1;
        s.last_change_at = Some(chrono::Utc::now());
    });
    syncer.board.ok(name);
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
