//! Active Directory change tracking by update sequence number.
//!
//! Every write on a domain controller takes the next USN and stamps it on the entry it
//! changed (`uSNChanged`), including the group entry when a membership changes, and the
//! tombstone when an entry is deleted. A poll reads the root DSE's `highestCommittedUSN`:
//! unchanged means nothing happened (a few hundred bytes on the wire). Otherwise it reads
//! the users, groups and tombstones stamped above the last mark. `whenChanged` cannot do
//! this: AD leaves it alone on membership changes and on an `accountExpires` that passes.
//!
//! USNs belong to one domain controller: a mark carries the DC's `dsServiceName`, and a
//! different DC behind the same name (fail-over, DNS round robin) means a full sync.

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::controls::RawControl;
use ldap3::{Ldap, Scope, SearchEntry};

use super::config::{GroupSource, LdapSource};
use super::conn::{LdapSyncError, connect};
use super::entry::{external_id, normalize_dn};
use super::search;
use crate::directory::person::Gone;

/// LDAP_SERVER_SHOW_DELETED_OID: tombstones become visible to a search.
const SHOW_DELETED_OID: &str = "1.2.840.113556.1.4.417";

/// Where a domain controller's change log stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsnMark {
    /// The DC's `dsServiceName`: USNs from another DC do not compare.
    pub dc: String,
    pub usn: u64,
}

/// What changed on the DC since a mark.
#[derive(Debug, Default)]
pub struct UsnChanges {
    /// DNs of user entries in scope whose own entry changed.
    pub users: Vec<String>,
    /// The groups that changed, with their current members: the caller reads those who
    /// joined or left each, against the people it has in it.
    pub groups: Vec<ChangedGroup>,
    /// Users deleted, or moved out of `base_dn`.
    pub gone: Vec<Gone>,
}

/// A group whose entry changed, and the DNs of the users in it now (through nesting when
/// the source nests).
#[derive(Debug)]
pub struct ChangedGroup {
    pub name: String,
    pub members: Vec<String>,
}

/// The root DSE facts a poll needs.
pub struct RootDse {
    pub mark: UsnMark,
    pub naming_context: String,
}

fn dse_error(e: impl std::fmt::Display) -> LdapSyncError {
    LdapSyncError::search("(root DSE)", e)
}

/// Reads the DC's identity and highest committed USN.
pub async fn root_dse(ldap: &mut Ldap, source: &LdapSource) -> Result<RootDse, LdapSyncError> {
    let attrs = vec![
        "highestCommittedUSN",
        "dsServiceName",
        "defaultNamingContext",
    ];
    let (entries, _) = ldap
        .with_timeout(source.timeout)
        .search("", Scope::Base, "(objectClass=*)", attrs)
        .await
        .map_err(dse_error)?
        .success()
        .map_err(dse_error)?;
    let entry = entries
        .into_iter()
        .next()
        .map(SearchEntry::construct)
        .ok_or_else(|| dse_error("no root DSE"))?;
    let get = |name: &str| {
        entry
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.first().cloned())
    };
    let usn = get("highestCommittedUSN")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            dse_error(
                "the server has no highestCommittedUSN: not Active Directory; \
                 set change_attribute = \"modifyTimestamp\"",
            )
        })?;
    Ok(RootDse {
        mark: UsnMark {
            dc: get("dsServiceName").unwrap_or_default(),
            usn,
        },
        naming_context: get("defaultNamingContext").unwrap_or_else(|| source.base_dn.clone()),
    })
}

/// The mark where a full sync starts: read before the full search, so that a change made
/// during it is read again by the next poll rather than lost.
pub async fn mark(source: &LdapSource) -> Result<UsnMark, LdapSyncError> {
    let mut ldap = connect(source).await?;
    let dse = root_dse(&mut ldap, source).await?;
    let _ = ldap.unbind().await;
    Ok(dse.mark)
}

/// `true` when `dn` is `base` or below it.
pub fn under(dn: &str, base: &str) -> bool {
    let (dn, base) = (normalize_dn(dn), normalize_dn(base));
    dn == base || dn.ends_with(&format!(",{base}"))
}

async fn entries(
    ldap: &mut Ldap,
    source: &LdapSource,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
    show_deleted: bool,
) -> Result<Vec<SearchEntry>, LdapSyncError> {
    let adapters: Vec<Box<dyn Adapter<String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(source.page_size)),
    ];
    let mut ldap = ldap.with_timeout(source.timeout);
    if show_deleted {
        ldap = ldap.with_controls(RawControl {
            ctype: SHOW_DELETED_OID.into(),
            crit: true,
            val: None,
        });
    }
    let mut stream = ldap
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await
        .map_err(|e| LdapSyncError::search(base, e))?;
    let mut out = Vec::new();
    while let Some(e) = stream
        .next()
        .await
        .map_err(|e| LdapSyncError::search(base, e))?
    {
        out.push(SearchEntry::construct(e));
    }
    let done = stream.finish().await;
    if done.rc != 0 {
        return Err(LdapSyncError::search(
            base,
            format!("result code {} {}", done.rc, done.text),
        ));
    }
    Ok(out)
}

/// Answers `None` when nothing changed since `since` on the same DC, or the changes and the
/// new mark. `Err` with a DC change is not an error: the caller sees `mark.dc` differ.
pub async fn changes(
    source: &LdapSource,
    since: &UsnMark,
) -> Result<(UsnMark, Option<UsnChanges>), LdapSyncError> {
    let mut ldap = connect(source).await?;
    let dse = root_dse(&mut ldap, source).await?;
    if dse.mark.dc != since.dc || dse.mark.usn <= since.usn {
        let _ = ldap.unbind().await;
        return Ok((dse.mark, None));
    }
    let above = format!("(uSNChanged>={})", since.usn + 1);
    let root = &dse.naming_context;
    let id = source.attributes.id.clone();
    let mut found = UsnChanges::default();
    // Users changed anywhere in the domain: those under base_dn are read afresh, those that
    // moved out of it have left its scope.
    for e in entries(
        &mut ldap,
        source,
        root,
        &format!("(&{}{above})", source.user_filter),
        vec![id.clone()],
        false,
    )
    .await?
    {
        if under(&e.dn, &source.base_dn) {
            found.users.push(e.dn);
        } else if let Some(ext) = external_id(&e, &id) {
            found.gone.push(Gone {
                dn: Some(e.dn),
                external_id: Some(ext),
            });
        }
    }
    for e in entries(
        &mut ldap,
        source,
        root,
        &format!("(&(isDeleted=TRUE)(objectClass=user){above})"),
        vec![id.clone()],
        true,
    )
    .await?
    {
        if let Some(ext) = external_id(&e, &id) {
            found.gone.push(Gone {
                dn: None,
                external_id: Some(ext),
            });
        }
    }
    let g = &source.group_entries;
    let changed_groups = entries(
        &mut ldap,
        source,
        &g.base_dn,
        &format!("(&{}{above})", g.filter),
        vec![g.name_attribute.clone()],
        false,
    )
    .await?;
    if !changed_groups.is_empty() {
        group_members(&mut ldap, source, &changed_groups, &mut found).await?;
    }
    let _ = ldap.unbind().await;
    Ok((dse.mark, Some(found)))
}

/// The current members of each changed group: transitive ones when groups nest.
async fn group_members(
    ldap: &mut Ldap,
    source: &LdapSource,
    changed: &[SearchEntry],
    found: &mut UsnChanges,
) -> Result<(), LdapSyncError> {
    let g = &source.group_entries;
    for e in changed {
        let Some(name) = e
            .attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&g.name_attribute))
            .and_then(|(_, v)| v.first())
        else {
            continue;
        };
        let members = match &source.groups {
            GroupSource::Entries { nested } => {
                super::walk::members(ldap, source, &e.dn, *nested).await?
            }
            GroupSource::MemberOf => search::members(ldap, source, &e.dn).await?,
        };
        found.groups.push(ChangedGroup {
            name: name.clone(),
            members,
        });
    }
    Ok(())
}
