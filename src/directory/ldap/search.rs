//! Full sync: paged searches on one connection, entries mapped as they stream in.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapError, Scope, SearchEntry};

use super::config::{Flavour, GroupSource, LdapSource};
use super::conn::{LdapSyncError, connect};
use super::entry::{GroupIndex, MapContext, normalize_dn, person, user_attributes};
use crate::directory::person::{DirectoryPerson, Skipped};

/// RFC 4533's Sync Request control, as listed in the root DSE's supportedControl.
const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";

/// Everything a full search returned.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub people: Vec<DirectoryPerson>,
    pub skipped: Vec<Skipped>,
}

fn stream_error(source: &LdapSource, base: &str, e: LdapError) -> LdapSyncError {
    match e {
        LdapError::Timeout { .. } => LdapSyncError::Timeout(source.timeout),
        other => LdapSyncError::search(base, other),
    }
}

/// Runs one paged search, handing each entry to `each`. A search that ends in an error
/// (time limit, server gone mid-page) is an error: a partial answer is never a snapshot.
async fn paged(
    ldap: &mut Ldap,
    source: &LdapSource,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    mut each: impl FnMut(SearchEntry),
) -> Result<(), LdapSyncError> {
    let adapters: Vec<Box<dyn Adapter<String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(source.page_size)),
    ];
    let mut search = ldap
        .with_timeout(source.timeout)
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await
        .map_err(|e| stream_error(source, base, e))?;
    loop {
        match search.next().await {
            Ok(Some(entry)) => each(SearchEntry::construct(entry)),
            Ok(None) => break,
            Err(e) => return Err(stream_error(source, base, e)),
        }
    }
    let done = search.finish().await;
    if done.rc != 0 {
        return Err(LdapSyncError::search(
            base,
            format!("result code {} {}", done.rc, done.text),
        ));
    }
    Ok(())
}

/// Active Directory answers a large multi-valued attribute in slices (`member;range=0-1499`,
/// then `member;range=1500-*`); a reader that asks for plain `member` sees a group of 5,000
/// as empty. AD sources ask for slices themselves, so the path is the same on every server.
const RANGE_STEP: usize = 1500;

/// The attribute name to request for a group's members.
fn member_request(source: &LdapSource) -> String {
    let attr = &source.group_entries.member_attribute;
    if source.flavour == Flavour::ActiveDirectory && attr.eq_ignore_ascii_case("member") {
        format!("{attr};range=0-{}", RANGE_STEP - 1)
    } else {
        attr.clone()
    }
}

/// The values of `attr` in `entry`, plain or as one slice; with the start of the next slice
/// when the server has more.
fn ranged_values(entry: &SearchEntry, attr: &str) -> (Vec<String>, Option<usize>) {
    let mut values = Vec::new();
    let mut next = None;
    for (key, v) in &entry.attrs {
        let (name, option) = key.split_once(';').unwrap_or((key, ""));
        if !name.eq_ignore_ascii_case(attr) {
            continue;
        }
        values.extend(v.iter().cloned());
        if let Some((_, end)) = option
            .strip_prefix("range=")
            .and_then(|r| r.split_once('-'))
            && let Ok(end) = end.parse::<usize>()
        {
            next = Some(end + 1);
        }
    }
    (values, next)
}

/// Reads the slices of `attr` on `dn` from `start` on.
async fn rest_of_range(
    ldap: &mut Ldap,
    source: &LdapSource,
    dn: &str,
    attr: &str,
    mut start: usize,
) -> Result<Vec<String>, LdapSyncError> {
    let mut all = Vec::new();
    loop {
        let request = format!("{attr};range={start}-{}", start + RANGE_STEP - 1);
        let (entries, _) = ldap
            .with_timeout(source.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", vec![request])
            .await
            .map_err(|e| stream_error(source, dn, e))?
            .success()
            .map_err(|e| stream_error(source, dn, e))?;
        let Some(entry) = entries.into_iter().next().map(SearchEntry::construct) else {
            return Ok(all);
        };
        let (values, next) = ranged_values(&entry, attr);
        let empty = values.is_empty();
        all.extend(values);
        match next {
            Some(n) if !empty && n > start => start = n,
            _ => return Ok(all),
        }
    }
}

/// The member values of one group entry, every slice of them.
pub async fn members(
    ldap: &mut Ldap,
    source: &LdapSource,
    dn: &str,
) -> Result<Vec<String>, LdapSyncError> {
    let attr = source.group_entries.member_attribute.clone();
    if member_request(source) != attr {
        return rest_of_range(ldap, source, dn, &attr, 0).await;
    }
    let (entries, _) = ldap
        .with_timeout(source.timeout)
        .search(dn, Scope::Base, "(objectClass=*)", vec![attr.clone()])
        .await
        .map_err(|e| stream_error(source, dn, e))?
        .success()
        .map_err(|e| stream_error(source, dn, e))?;
    Ok(entries
        .into_iter()
        .next()
        .map(|e| ranged_values(&SearchEntry::construct(e), &attr).0)
        .unwrap_or_default())
}

pub(super) fn first_value(e: &SearchEntry, attr: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
}

/// Reads group entries into an index of memberships.
pub async fn groups(
    ldap: &mut Ldap,
    source: &LdapSource,
) -> Result<Option<GroupIndex>, LdapSyncError> {
    let GroupSource::Entries { nested } = &source.groups else {
        return Ok(None);
    };
    let g = &source.group_entries;
    let mut found = Vec::new();
    let mut unfinished = Vec::new();
    paged(
        ldap,
        source,
        &g.base_dn,
        &g.filter,
        vec![g.name_attribute.clone(), member_request(source)],
        |e| {
            let name = first_value(&e, &g.name_attribute).unwrap_or_default();
            let (members, next) = ranged_values(&e, &g.member_attribute);
            if let Some(start) = next {
                unfinished.push((found.len(), start));
            }
            found.push((e.dn, name, members));
        },
    )
    .await?;
    for (i, start) in unfinished {
        let more = rest_of_range(
            ldap,
            source,
            &found[i].0.clone(),
            &g.member_attribute,
            start,
        )
        .await?;
        found[i].2.extend(more);
    }
    Ok(Some(GroupIndex::build(found, *nested)))
}

/// Normalized DNs of users the source's `disabled_filter` matches.
pub async fn disabled(
    ldap: &mut Ldap,
    source: &LdapSource,
) -> Result<HashSet<String>, LdapSyncError> {
    let Some(extra) = &source.disabled_filter else {
        return Ok(HashSet::new());
    };
    let filter = format!("(&{}{extra})", source.user_filter);
    let mut dns = HashSet::new();
    paged(
        ldap,
        source,
        &source.base_dn,
        &filter,
        vec!["1.1".into()],
        |e| {
            dns.insert(normalize_dn(&e.dn));
        },
    )
    .await?;
    Ok(dns)
}

/// A full sync's search. `progress` counts user entries as they arrive.
pub async fn full(source: &LdapSource, progress: &AtomicUsize) -> Result<Snapshot, LdapSyncError> {
    users(source, &source.user_filter, progress).await
}

/// The users changed at or after `since` (GeneralizedTime), for polling.
pub async fn changed_since(source: &LdapSource, since: &str) -> Result<Snapshot, LdapSyncError> {
    let filter = format!(
        "(&{}({}>={since}))",
        source.user_filter, source.change_attribute
    );
    users(source, &filter, &AtomicUsize::new(0)).await
}

async fn users(
    source: &LdapSource,
    filter: &str,
    progress: &AtomicUsize,
) -> Result<Snapshot, LdapSyncError> {
    let mut ldap = connect(source).await?;
    let groups = groups(&mut ldap, source).await?;
    let disabled = disabled(&mut ldap, source).await?;
    let cx = MapContext {
        source,
        groups: groups.as_ref(),
        disabled: &disabled,
        now: chrono::Utc::now().timestamp(),
    };
    let mut snapshot = Snapshot::default();
    if let Some(g) = &groups {
        snapshot.skipped.extend(g.skipped.iter().cloned());
    }
    paged(
        &mut ldap,
        source,
        &source.base_dn,
        filter,
        user_attributes(source),
        |entry| {
            progress.fetch_add(1, Ordering::Relaxed);
            match person(&cx, &entry) {
                Ok(p) => snapshot.people.push(p),
                Err(s) => snapshot.skipped.push(s),
            }
        },
    )
    .await?;
    let _ = ldap.unbind().await;
    Ok(snapshot)
}

/// Whether the server offers RFC 4533 content synchronisation.
pub async fn offers_sync(source: &LdapSource) -> Result<bool, LdapSyncError> {
    let mut ldap = connect(source).await?;
    let result = ldap
        .with_timeout(source.timeout)
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
        .map_err(|e| stream_error(source, "(root DSE)", e))?;
    let (entries, _) = result
        .success()
        .map_err(|e| stream_error(source, "(root DSE)", e))?;
    let _ = ldap.unbind().await;
    Ok(entries.into_iter().any(|e| {
        SearchEntry::construct(e)
            .attrs
            .get("supportedControl")
            .is_some_and(|v| v.iter().any(|c| c == SYNC_REQUEST_OID))
    }))
}

/// Reads the given user entries afresh (after a group change touched them). Entries that no
/// longer exist or no longer match the user filter are left out: deletions arrive on their own.
pub async fn fetch(
    source: &LdapSource,
    dns: &[String],
) -> Result<Vec<Result<DirectoryPerson, Skipped>>, LdapSyncError> {
    let mut ldap = connect(source).await?;
    // On AD, a few people's groups cost a search each instead of the whole group index.
    let per_person = match source.groups {
        GroupSource::Entries { nested } if source.flavour == Flavour::ActiveDirectory => {
            Some(nested)
        }
        _ => None,
    };
    let index = match per_person {
        Some(_) => None,
        None => groups(&mut ldap, source).await?,
    };
    let mut out = Vec::new();
    for dn in dns {
        let own = match per_person {
            Some(nested) => Some(super::walk::groups_of(&mut ldap, source, dn, nested).await?),
            None => None,
        };
        let groups = own.as_ref().or(index.as_ref());
        let found = ldap
            .with_timeout(source.timeout)
            .search(
                dn,
                Scope::Base,
                &source.user_filter,
                user_attributes(source),
            )
            .await
            .map_err(|e| stream_error(source, dn, e))?;
        // 32 noSuchObject: deleted meanwhile.
        if found.1.rc == 32 {
            continue;
        }
        let (entries, _) = found.success().map_err(|e| stream_error(source, dn, e))?;
        for entry in entries {
            let entry = SearchEntry::construct(entry);
            let disabled = match &source.disabled_filter {
                None => HashSet::new(),
                Some(extra) => {
                    let filter = format!("(&{}{extra})", source.user_filter);
                    let hit = ldap
                        .with_timeout(source.timeout)
                        .search(dn, Scope::Base, &filter, vec!["1.1"])
                        .await
                        .map_err(|e| stream_error(source, dn, e))?;
                    if hit.0.is_empty() {
                        HashSet::new()
                    } else {
                        HashSet::from([normalize_dn(dn)])
                    }
                }
            };
            let cx = MapContext {
                source,
                groups,
                disabled: &disabled,
                now: chrono::Utc::now().timestamp(),
            };
            out.push(person(&cx, &entry));
        }
    }
    let _ = ldap.unbind().await;
    Ok(out)
}
