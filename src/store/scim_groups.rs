//! SCIM groups as a provider pushed them, and their members (user ids of the same source).

use std::collections::BTreeSet;

use sqlx::{AnyConnection, AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// A stored group and its members.
#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
    pub members: BTreeSet<String>,
}

/// The id of the group of `source` named `name`, if any.
pub async fn named(
    conn: &mut AnyConnection,
    source: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT id FROM scim_groups WHERE source = $1 AND display_name = $2")
        .bind(source)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(r.try_get("id")?)).transpose()
}

/// Writes a group (new or not) and its members whole.
#[allow(clippy::too_many_arguments)] // the group's columns, one by one
pub async fn put(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
    display_name: &str,
    external_id: Option<&str>,
    members: &BTreeSet<String>,
    new: bool,
    now: Millis,
) -> Result<bool, StoreError> {
    let done = if new {
        sqlx::query(
            "INSERT INTO scim_groups (source, id, display_name, external_id, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $5, 1)",
        )
        .bind(source)
        .bind(id)
        .bind(display_name)
        .bind(external_id)
        .bind(now)
        .execute(&mut *conn)
        .await?
    } else {
        sqlx::query(
            "UPDATE scim_groups SET display_name = $3, external_id = $4, updated_at = $5, \
             version = version + 1 WHERE source = $1 AND id = $2",
        )
        .bind(source)
        .bind(id)
        .bind(display_name)
        .bind(external_id)
        .bind(now)
        .execute(&mut *conn)
        .await?
    };
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM scim_members WHERE source = $1 AND group_id = $2")
        .bind(source)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for user in members {
        sqlx::query("INSERT INTO scim_members (source, group_id, user_id) VALUES ($1, $2, $3)")
            .bind(source)
            .bind(id)
            .bind(user)
            .execute(&mut *conn)
            .await?;
    }
    Ok(true)
}

/// Deletes a group and its memberships; answers its members as they were.
pub async fn delete(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
) -> Result<Option<BTreeSet<String>>, StoreError> {
    let Some(group) = one(conn, source, id).await? else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM scim_members WHERE source = $1 AND group_id = $2")
        .bind(source)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM scim_groups WHERE source = $1 AND id = $2")
        .bind(source)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(group.members))
}

async fn members(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let rows = sqlx::query("SELECT user_id FROM scim_members WHERE source = $1 AND group_id = $2")
        .bind(source)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("user_id")?)).collect()
}

pub async fn one(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
) -> Result<Option<GroupRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, display_name, external_id, created_at, updated_at, version FROM scim_groups \
         WHERE source = $1 AND id = $2",
    )
    .bind(source)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(GroupRow {
        id: r.try_get("id")?,
        display_name: r.try_get("display_name")?,
        external_id: r.try_get("external_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
        members: members(conn, source, id).await?,
    }))
}

/// Every group of `source`, by name.
pub async fn ids(pool: &AnyPool, source: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT id FROM scim_groups WHERE source = $1 ORDER BY display_name")
        .bind(source)
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Which of `ids` are live users of `source`.
pub async fn live_users(
    conn: &mut AnyConnection,
    source: &str,
    ids: &BTreeSet<String>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut live = BTreeSet::new();
    for id in ids {
        let found = sqlx::query(
            "SELECT 1 AS one FROM scim_users WHERE source = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(source)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_some() {
            live.insert(id.clone());
        }
    }
    Ok(live)
}
