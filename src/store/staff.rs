//! Staff rows and their groups.

use std::collections::HashMap;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::staff::{Attributes, StaffId, StaffMember, StaffStatus};
use crate::domain::time::Millis;
use crate::domain::{GroupName, Username};

pub(super) const COLUMNS: &str = "id, username, email, display_name, status, epoch, attributes, source, external_dn, external_id, expires_at";

pub(super) fn from_row(row: &AnyRow, groups: Vec<GroupName>) -> Result<StaffMember, StoreError> {
    let username: String = row.try_get("username")?;
    let status: String = row.try_get("status")?;
    let attributes: String = row.try_get("attributes")?;
    Ok(StaffMember {
        id: row.try_get("id")?,
        username: Username::parse(&username).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        email: row.try_get("email")?,
        name: row.try_get("display_name")?,
        status: StaffStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("staff status {status}")))?,
        groups,
        attributes: serde_json::from_str(&attributes)
            .map_err(|_| StoreError::Corrupt("staff attributes".into()))?,
        epoch: row.try_get("epoch")?,
    })
}

/// Where a staff member came from: `manual`, or `ldap:<source>` with their entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: String,
    pub dn: Option<String>,
    pub external_id: Option<String>,
    /// When the directory says the account ends by itself (Unix ms).
    pub expires_at: Option<Millis>,
}

fn origin_of(row: &AnyRow) -> Result<Origin, StoreError> {
    Ok(Origin {
        source: row.try_get("source")?,
        dn: row.try_get("external_dn")?,
        external_id: row.try_get("external_id")?,
        expires_at: row.try_get("expires_at")?,
    })
}

pub(super) fn group_names(
    rows: Vec<AnyRow>,
) -> Result<HashMap<StaffId, Vec<GroupName>>, StoreError> {
    let mut map: HashMap<StaffId, Vec<GroupName>> = HashMap::new();
    for row in rows {
        let name: String = row.try_get("group_name")?;
        let group = GroupName::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        map.entry(row.try_get("staff_id")?).or_default().push(group);
    }
    Ok(map)
}

/// The fields a directory source sets.
pub struct StaffFields<'a> {
    pub username: &'a Username,
    pub email: &'a str,
    pub name: &'a str,
    pub status: StaffStatus,
    pub groups: &'a [GroupName],
    pub attributes: &'a Attributes,
    pub origin: &'a Origin,
}

/// Creates or updates a staff member and replaces their groups.
pub async fn upsert(
    conn: &mut AnyConnection,
    f: &StaffFields<'_>,
    now: Millis,
) -> Result<StaffMember, StoreError> {
    let row = write(conn, f, now, "DO UPDATE SET email = excluded.email, display_name = excluded.display_name, \
         status = excluded.status, source = excluded.source, updated_at = excluded.updated_at, \
         attributes = excluded.attributes, external_dn = excluded.external_dn, external_id = excluded.external_id")
        .await?
        .ok_or_else(|| StoreError::Corrupt("upsert returned no row".into()))?;
    set_groups(conn, row, f.groups, true).await
}

/// Rows per multi-row INSERT: 500 × 9 parameters stays far below both databases' limits.
const CHUNK: usize = 500;

/// Creates many staff members at once (a first import), skipping usernames already taken.
/// Multi-row inserts: one round trip per 500 people instead of one per person.
pub async fn insert_many_new(
    conn: &mut AnyConnection,
    all: &[StaffFields<'_>],
    now: Millis,
) -> Result<Vec<StaffMember>, StoreError> {
    let mut out = Vec::with_capacity(all.len());
    for chunk in all.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO staff (username, email, display_name, status, source, created_at, updated_at, \
             attributes, external_dn, external_id) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        sql.push_str(" ON CONFLICT (username) DO NOTHING RETURNING id, username, email, display_name, status, epoch, attributes");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for f in chunk {
            query = query
                .bind(f.username.as_str())
                .bind(f.email)
                .bind(f.name)
                .bind(f.status.as_str())
                .bind(&f.origin.source)
                .bind(now)
                .bind(
                    serde_json::to_string(f.attributes)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                )
                .bind(f.origin.dn.as_deref())
                .bind(f.origin.external_id.as_deref());
        }
        let rows = query.fetch_all(&mut *conn).await?;
        let by_name: HashMap<&str, &StaffFields<'_>> =
            chunk.iter().map(|f| (f.username.as_str(), f)).collect();
        let mut pairs: Vec<(StaffId, &str)> = Vec::new();
        for row in &rows {
            let id: StaffId = row.try_get("id")?;
            let username: String = row.try_get("username")?;
            let f = by_name
                .get(username.as_str())
                .ok_or_else(|| StoreError::Corrupt("insert returned an unknown row".into()))?;
            let mut groups = f.groups.to_vec();
            groups.sort();
            groups.dedup();
            for g in f.groups {
                pairs.push((id, g.as_str()));
            }
            out.push(from_row(row, groups)?);
        }
        for part in pairs.chunks(CHUNK) {
            let mut sql = String::from("INSERT INTO staff_groups (staff_id, group_name) VALUES ");
            for i in 0..part.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${})", i * 2 + 1, i * 2 + 2));
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, g) in part {
                query = query.bind(*id).bind(*g);
            }
            query.execute(&mut *conn).await?;
        }
    }
    Ok(out)
}

async fn write(
    conn: &mut AnyConnection,
    f: &StaffFields<'_>,
    now: Millis,
    on_conflict: &str,
) -> Result<Option<AnyRow>, StoreError> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO staff (username, email, display_name, status, source, created_at, updated_at, \
         attributes, external_dn, external_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9) \
         ON CONFLICT (username) {on_conflict} \
         RETURNING id, username, email, display_name, status, epoch, attributes"
    )))
    .bind(f.username.as_str())
    .bind(f.email)
    .bind(f.name)
    .bind(f.status.as_str())
    .bind(&f.origin.source)
    .bind(now)
    .bind(serde_json::to_string(f.attributes).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    .bind(f.origin.dn.as_deref())
    .bind(f.origin.external_id.as_deref())
    .fetch_optional(&mut *conn)
    .await?)
}

async fn set_groups(
    conn: &mut AnyConnection,
    row: AnyRow,
    groups: &[GroupName],
    replace: bool,
) -> Result<StaffMember, StoreError> {
    let id: StaffId = row.try_get("id")?;
    if replace {
        sqlx::query("DELETE FROM staff_groups WHERE staff_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    for group in groups {
        sqlx::query("INSERT INTO staff_groups (staff_id, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(group.as_str())
            .execute(&mut *conn)
            .await?;
    }
    let mut groups = groups.to_vec();
    groups.sort();
    groups.dedup();
    from_row(&row, groups)
}

pub async fn find(
    conn: &mut AnyConnection,
    username: &Username,
) -> Result<Option<StaffMember>, StoreError> {
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE username = $1"
    )))
    .bind(username.as_str())
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let id: StaffId = row.try_get("id")?;
    let groups = groups_of(conn, id).await?;
    from_row(&row, groups).map(Some)
}

async fn groups_of(conn: &mut AnyConnection, id: StaffId) -> Result<Vec<GroupName>, StoreError> {
    let rows = sqlx::query(
        "SELECT staff_id, group_name FROM staff_groups WHERE staff_id = $1 ORDER BY group_name",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(group_names(rows)?.remove(&id).unwrap_or_default())
}

/// A staff member by id, with where they came from.
/// The one person whose username is `username` in another case; `None` when none or several.
pub async fn find_case_insensitive(
    conn: &mut AnyConnection,
    username: &Username,
) -> Result<Option<StaffMember>, StoreError> {
    let rows = sqlx::query("SELECT id FROM staff WHERE lower(username) = lower($1) LIMIT 2")
        .bind(username.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let [row] = rows.as_slice() else {
        return Ok(None);
    };
    let id: StaffId = row.try_get("id")?;
    Ok(find_by_id(conn, id).await?.map(|(m, _)| m))
}

pub async fn find_by_id(
    conn: &mut AnyConnection,
    id: StaffId,
) -> Result<Option<(StaffMember, Origin)>, StoreError> {
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let groups = groups_of(conn, id).await?;
    Ok(Some((from_row(&row, groups)?, origin_of(&row)?)))
}

/// Every staff member with groups, ordered by username.
pub async fn list(pool: &AnyPool) -> Result<Vec<StaffMember>, StoreError> {
    Ok(list_with_origin(pool)
        .await?
        .into_iter()
        .map(|(m, _)| m)
        .collect())
}

/// Every staff member with groups and where they came from, ordered by username.
pub async fn list_with_origin(pool: &AnyPool) -> Result<Vec<(StaffMember, Origin)>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff ORDER BY username"
    )))
    .fetch_all(pool)
    .await?;
    let groups = sqlx::query("SELECT staff_id, group_name FROM staff_groups ORDER BY group_name")
        .fetch_all(pool)
        .await?;
    let mut groups = group_names(groups)?;
    rows.iter()
        .map(|row| {
            let id: StaffId = row.try_get("id")?;
            Ok((
                from_row(row, groups.remove(&id).unwrap_or_default())?,
                origin_of(row)?,
            ))
        })
        .collect()
}

/// Marks a staff member offboarded and bumps their epoch; returns the new epoch.
pub async fn mark_offboarded(
    conn: &mut AnyConnection,
    id: StaffId,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE staff SET status_before_offboarding = CASE WHEN status = 'offboarded' \
         THEN status_before_offboarding ELSE status END, status = 'offboarded', epoch = epoch + 1, \
         updated_at = $2 WHERE id = $1 RETURNING epoch",
    )
    .bind(id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("epoch")?)
}

/// Marks a person active (first login done, or an admin's activation).
pub async fn mark_active(
    conn: &mut AnyConnection,
    id: StaffId,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE staff SET status = 'active', updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Makes an offboarded person what they were before: active, or pending if they never
/// completed first login (so offboarding and reinstating is no way around it). The epoch
/// is left bumped: nothing old revives. Answers the status they now have.
pub async fn reinstate(
    conn: &mut AnyConnection,
    id: StaffId,
    now: Millis,
) -> Result<StaffStatus, StoreError> {
    let row = sqlx::query(
        "UPDATE staff SET status = CASE WHEN status_before_offboarding = 'pending' THEN 'pending' ELSE 'active' END, \
         status_before_offboarding = NULL, updated_at = $2 WHERE id = $1 RETURNING status",
    )
    .bind(id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let status: String = row.try_get("status")?;
    StaffStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("staff status {status}")))
}

/// Reads status and epoch while taking the row's write lock (a no-op update works on both
/// backends), so a concurrent offboarding is ordered before or after, never interleaved.
pub async fn lock_state(
    conn: &mut AnyConnection,
    id: StaffId,
) -> Result<(StaffStatus, i64), StoreError> {
    let row = sqlx::query("UPDATE staff SET epoch = epoch WHERE id = $1 RETURNING status, epoch")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let status: String = row.try_get("status")?;
    let status = StaffStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt(format!("staff status {status}")))?;
    Ok((status, row.try_get("epoch")?))
}

/// Where one staff member came from.
pub async fn origin(conn: &mut AnyConnection, id: StaffId) -> Result<Origin, StoreError> {
    let row =
        sqlx::query("SELECT source, external_dn, external_id, expires_at FROM staff WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    origin_of(&row)
}

/// The staff members a set of directory changes is about: by username, by entry id or by
/// DN. Changes are few, so one small query per key beats reading everyone.
pub async fn known_for(
    pool: &AnyPool,
    usernames: &[&str],
    entries: &[(Option<&str>, Option<&str>)],
) -> Result<Vec<(StaffMember, Origin)>, StoreError> {
    let mut conn = pool.acquire().await?;
    let mut ids: Vec<StaffId> = Vec::new();
    for name in usernames {
        if let Some(r) = sqlx::query("SELECT id FROM staff WHERE username = $1")
            .bind(*name)
            .fetch_optional(&mut *conn)
            .await?
        {
            ids.push(r.try_get("id")?);
        }
    }
    for (external_id, dn) in entries {
        let rows = sqlx::query("SELECT id FROM staff WHERE external_id = $1 OR external_dn = $2")
            .bind(*external_id)
            .bind(*dn)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            ids.push(r.try_get("id")?);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(find_by_id(&mut conn, id).await?);
    }
    Ok(out)
}

/// Records when the directory says the account ends.
pub async fn set_expiry(
    conn: &mut AnyConnection,
    id: StaffId,
    expires_at: Option<Millis>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE staff SET expires_at = $2 WHERE id = $1")
        .bind(id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Gives a person a new username (a directory rename): tokens, sessions and first-login
/// state hang on the id and stay.
pub async fn rename(
    conn: &mut AnyConnection,
    id: StaffId,
    username: &Username,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE staff SET username = $2 WHERE id = $1")
        .bind(id)
        .bind(username.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How many of a source's people are not offboarded (the guard's base).
pub async fn count_not_offboarded(pool: &AnyPool, source: &str) -> Result<usize, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM staff WHERE source = $1 AND status <> 'offboarded'")
            .bind(source)
            .fetch_one(pool)
            .await?;
    let n: i64 = row.try_get("n")?;
    Ok(n as usize)
}

/// Usernames of a source's people who are in `group`, with their DNs.
pub async fn members_of(
    pool: &AnyPool,
    source: &str,
    group: &str,
) -> Result<Vec<(String, Option<String>)>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.username, s.external_dn FROM staff s JOIN staff_groups g ON g.staff_id = s.id \
         WHERE s.source = $1 AND g.group_name = $2",
    )
    .bind(source)
    .bind(group)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("username")?, r.try_get("external_dn")?)))
        .collect()
}
