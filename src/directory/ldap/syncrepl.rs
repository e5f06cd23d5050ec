//! RFC 4533 content synchronisation in refreshAndPersist mode: one long search that first
//! catches up from a cookie, then streams each change as it happens.

use std::collections::HashSet;

use ldap3::controls::{
    ControlType, EntryState, RefreshMode, SyncDone, SyncInfo, SyncRequest, SyncState,
    parse_syncinfo,
};
use ldap3::{Ldap, Scope, SearchEntry};
use tokio::sync::mpsc;

use super::config::LdapSource;
use super::conn::{LdapSyncError, connect};
use super::entry::{GroupIndex, MapContext, normalize_dn, person, user_attributes};
use super::search;
use crate::directory::person::{DirectoryPerson, Gone, Skipped};

/// OpenLDAP's e-syncRefreshRequired result code: the cookie is too old, reload everything.
const REFRESH_REQUIRED: u32 = 4096;

/// What the sync search reports, in order.
#[derive(Debug)]
pub enum Event {
    /// An entry was added or changed (during refresh: present with its attributes).
    Entry(Result<DirectoryPerson, Skipped>),
    /// During a resumed refresh: an unchanged entry is still there (its entryUUID).
    Present(String),
    /// An entry was deleted, or left the search's scope.
    Gone(Gone),
    /// Entries are deleted, by entryUUID (a sync id set).
    GoneIds(Vec<String>),
    /// The catch-up is over; from now on every event is a live change.
    RefreshDone,
    /// A new cookie: store it once everything before it is applied.
    Cookie(Vec<u8>),
    /// A group entry was added or changed: its DN and its member values now.
    Group { dn: String, members: Vec<String> },
    /// A group entry was deleted.
    GroupGone { dn: String },
}

/// Which entries a sync search follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    Users,
    Groups,
}

/// entryUUID as the directory prints it, from the 16 raw bytes the sync control carries.
pub fn uuid_text(raw: &[u8]) -> String {
    let h = hex::encode(raw);
    if h.len() != 32 {
        return h;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

async fn disabled_now(ldap: &mut Ldap, source: &LdapSource, dn: &str) -> HashSet<String> {
    let Some(extra) = &source.disabled_filter else {
        return HashSet::new();
    };
    let filter = format!("(&{}{extra})", source.user_filter);
    match ldap
        .with_timeout(source.timeout)
        .search(dn, Scope::Base, &filter, vec!["1.1"])
        .await
    {
        Ok(r) if !r.0.is_empty() => HashSet::from([normalize_dn(dn)]),
        _ => HashSet::new(),
    }
}

/// Runs the sync search until the connection ends. Returns `Ok` only if the server ended
/// the search cleanly (it should not in persist mode), so the caller reconnects either way.
pub async fn run(
    source: &LdapSource,
    watch: Watch,
    cookie: Option<Vec<u8>>,
    events: mpsc::Sender<Event>,
) -> Result<(), LdapSyncError> {
    let mut ldap = connect(source).await?;
    let groups: Option<GroupIndex> = match watch {
        Watch::Users => search::groups(&mut ldap, source).await?,
        Watch::Groups => None,
    };
    let mut lookups = ldap.clone();
    let request = SyncRequest {
        mode: RefreshMode::RefreshAndPersist,
        cookie,
        reload_hint: false,
    };
    let g = &source.group_entries;
    let (base, filter, attrs) = match watch {
        Watch::Users => (
            &source.base_dn,
            &source.user_filter,
            user_attributes(source),
        ),
        Watch::Groups => (
            &g.base_dn,
            &g.filter,
            vec![g.name_attribute.clone(), g.member_attribute.clone()],
        ),
    };
    let mut stream = ldap
        .with_controls(request)
        .streaming_search(base, Scope::Subtree, filter, attrs)
        .await
        .map_err(|e| LdapSyncError::search(base, e))?;
    let send = |event: Event| {
        let events = events.clone();
        async move { events.send(event).await.is_ok() }
    };
    loop {
        let item = stream
            .next()
            .await
            .map_err(|e| LdapSyncError::search(base, e))?;
        let Some(entry) = item else { break };
        if entry.is_intermediate() {
            let ok = match parse_syncinfo(entry) {
                SyncInfo::NewCookie(c) => send(Event::Cookie(c)).await,
                SyncInfo::RefreshDelete {
                    cookie,
                    refresh_done,
                }
                | SyncInfo::RefreshPresent {
                    cookie,
                    refresh_done,
                } => {
                    let mut ok = true;
                    if refresh_done {
                        ok &= send(Event::RefreshDone).await;
                    }
                    if let Some(c) = cookie {
                        ok &= send(Event::Cookie(c)).await;
                    }
                    ok
                }
                SyncInfo::SyncIdSet {
                    cookie,
                    refresh_deletes,
                    sync_uuids,
                } => {
                    let ids: Vec<String> = sync_uuids.iter().map(|u| uuid_text(u)).collect();
                    let mut ok = if refresh_deletes {
                        send(Event::GoneIds(ids)).await
                    } else {
                        let mut ok = true;
                        for id in ids {
                            ok &= send(Event::Present(id)).await;
                        }
                        ok
                    };
                    if let Some(c) = cookie {
                        ok &= send(Event::Cookie(c)).await;
                    }
                    ok
                }
            };
            if !ok {
                break;
            }
            continue;
        }
        let state = entry.1.iter().find_map(|c| match c.0 {
            Some(ControlType::SyncState) => Some(c.1.parse::<SyncState>()),
            _ => None,
        });
        let entry = SearchEntry::construct(entry);
        let Some(state) = state else { continue };
        let id = uuid_text(&state.entry_uuid);
        let event = match (watch, state.state) {
            (Watch::Groups, EntryState::Delete) => Event::GroupGone { dn: entry.dn },
            (Watch::Groups, _) if entry.attrs.is_empty() => continue,
            (Watch::Groups, _) => Event::Group {
                members: entry
                    .attrs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&g.member_attribute))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
                dn: entry.dn,
            },
            (Watch::Users, EntryState::Delete) => Event::Gone(Gone {
                dn: Some(entry.dn.clone()),
                external_id: Some(id),
            }),
            (Watch::Users, EntryState::Present) if entry.attrs.is_empty() => Event::Present(id),
            (Watch::Users, _) => {
                let disabled = disabled_now(&mut lookups, source, &entry.dn).await;
                let cx = MapContext {
                    source,
                    groups: groups.as_ref(),
                    disabled: &disabled,
                    now: chrono::Utc::now().timestamp(),
                };
                Event::Entry(person(&cx, &entry))
            }
        };
        if !send(event).await {
            break;
        }
        if let Some(c) = state.cookie
            && !send(Event::Cookie(c)).await
        {
            break;
        }
    }
    let done = stream.finish().await;
    if done.rc == REFRESH_REQUIRED {
        return Err(LdapSyncError::RefreshRequired);
    }
    if let Some(c) = done
        .ctrls
        .iter()
        .find(|c| matches!(c.0, Some(ControlType::SyncDone)))
        .and_then(|c| c.1.parse::<SyncDone>().cookie)
    {
        let _ = events.send(Event::Cookie(c)).await;
    }
    if done.rc != 0 {
        return Err(LdapSyncError::search(
            &source.base_dn,
            format!("result code {} {}", done.rc, done.text),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_print_like_entry_uuid() {
        let raw = [
            0x0b, 0x5e, 0x8c, 0x1a, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 1,
        ];
        assert_eq!(
            super::uuid_text(&raw),
            "0b5e8c1a-0000-4000-8000-000000000001"
        );
    }
}
