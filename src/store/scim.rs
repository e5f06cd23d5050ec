//! SCIM rows: the users and groups a provider pushed, as it sent them, and its tokens
//! (hashes only). The people themselves are staff rows, written by the directory's apply.

use sqlx::{AnyConnection, AnyPool, Row};

use super::StoreError;
use crate::domain::credential::CredentialHash;
use crate::domain::time::Millis;

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub doc: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
    pub deleted: bool,
}

/// What a user write stores.
pub struct UserWrite<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub doc: &'a str,
    /// `userName` lower-cased: unique within the source among users not deleted.
    pub user_name: &'a str,
    pub external_id: Option<&'a str>,
    pub active: bool,
    pub now: Millis,
}

const USER_COLUMNS: &str = "id, doc, created_at, updated_at, version, deleted_at";

fn user_row(r: &sqlx::any::AnyRow) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: r.try_get("id")?,
        doc: r.try_get("doc")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
        deleted: r.try_get::<Option<Millis>, _>("deleted_at")?.is_some(),
    })
}

/// The id of the live user of `source` named `user_name` (lower-cased), if any.
pub async fn user_named(
    conn: &mut AnyConnection,
    source: &str,
    user_name: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT id FROM scim_users WHERE source = $1 AND user_name = $2 AND deleted_at IS NULL",
    )
    .bind(source)
    .bind(user_name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok(r.try_get("id")?)).transpose()
}

pub async fn insert_user(conn: &mut AnyConnection, w: &UserWrite<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scim_users (source, id, doc, user_name, external_id, active, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1)",
    )
    .bind(w.source)
    .bind(w.id)
    .bind(w.doc)
    .bind(w.user_name)
    .bind(w.external_id)
    .bind(i64::from(w.active))
    .bind(w.now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rewrites a live user; `false` when there is none.
pub async fn update_user(conn: &mut AnyConnection, w: &UserWrite<'_>) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE scim_users SET doc = $3, user_name = $4, external_id = $5, active = $6, \
         updated_at = $7, version = version + 1 WHERE source = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(w.source)
    .bind(w.id)
    .bind(w.doc)
    .bind(w.user_name)
    .bind(w.external_id)
    .bind(i64::from(w.active))
    .bind(w.now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a live user deleted and drops their memberships; `false` when there is none.
pub async fn delete_user(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE scim_users SET deleted_at = $3, active = 0 WHERE source = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(source)
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM scim_members WHERE source = $1 AND user_id = $2")
        .bind(source)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One user, deleted ones included (the caller decides what a deleted one answers).
pub async fn user(
    conn: &mut AnyConnection,
    source: &str,
    id: &str,
) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM scim_users WHERE source = $1 AND id = $2"
    )))
    .bind(source)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(user_row).transpose()
}

/// A page of live users, optionally narrowed by lower-cased userName, externalId or id.
pub struct UserQuery<'a> {
    pub source: &'a str,
    pub user_name: Option<&'a str>,
    pub external_id: Option<&'a str>,
    pub id: Option<&'a str>,
    pub offset: i64,
    pub limit: i64,
}

/// The matching users (a page) and how many match in all.
pub async fn users(pool: &AnyPool, q: &UserQuery<'_>) -> Result<(Vec<UserRow>, i64), StoreError> {
    let filter = "source = $1 AND deleted_at IS NULL AND ($2 IS NULL OR user_name = $2) \
                  AND ($3 IS NULL OR external_id = $3) AND ($4 IS NULL OR id = $4)";
    let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM scim_users WHERE {filter}"
    )))
    .bind(q.source)
    .bind(q.user_name)
    .bind(q.external_id)
    .bind(q.id)
    .fetch_one(pool)
    .await?
    .try_get("n")?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM scim_users WHERE {filter} ORDER BY created_at, id LIMIT $5 OFFSET $6"
    )))
    .bind(q.source)
    .bind(q.user_name)
    .bind(q.external_id)
    .bind(q.id)
    .bind(q.limit)
    .bind(q.offset)
    .fetch_all(pool)
    .await?;
    Ok((rows.iter().map(user_row).collect::<Result<_, _>>()?, total))
}

/// Every user of `source`, deleted ones included, oldest first: what a pull merges into.
pub async fn every_user(pool: &AnyPool, source: &str) -> Result<Vec<UserRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM scim_users WHERE source = $1 ORDER BY created_at, id"
    )))
    .bind(source)
    .fetch_all(pool)
    .await?;
    rows.iter().map(user_row).collect()
}

/// The users of `source` a provider deactivated or deleted, whose person has not left yet.
pub async fn leaving(pool: &AnyPool, source: &str) -> Result<Vec<UserRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM scim_users u WHERE u.source = $1 AND u.active = 0 \
         AND EXISTS (SELECT 1 FROM staff s WHERE s.source = $2 AND s.external_id = u.id \
         AND s.status <> 'offboarded')"
    )))
    .bind(source)
    .bind(format!("scim:{source}"))
    .fetch_all(pool)
    .await?;
    rows.iter().map(user_row).collect()
}

/// The display names of the groups a user is a member of.
pub async fn groups_of(
    conn: &mut AnyConnection,
    source: &str,
    user: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.display_name FROM scim_members m JOIN scim_groups g \
         ON g.source = m.source AND g.id = m.group_id WHERE m.source = $1 AND m.user_id = $2 \
         ORDER BY g.display_name",
    )
    .bind(source)
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("display_name")?)))
        .collect()
}

// Tokens.

pub async fn insert_token(
    conn: &mut AnyConnection,
    source: &str,
    hash: CredentialHash,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO scim_tokens (source, hash, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(source)
    .bind(hash.to_vec())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The source a live token belongs to.
pub async fn token_source(
    pool: &AnyPool,
    hash: CredentialHash,
) -> Result<Option<(i64, String)>, StoreError> {
    let row =
        sqlx::query("SELECT id, source FROM scim_tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(hash.to_vec())
            .fetch_optional(pool)
            .await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("source")?)))
        .transpose()
}

/// A token as `scim token list` shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub source: String,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

pub async fn tokens(pool: &AnyPool) -> Result<Vec<TokenView>, StoreError> {
    let rows =
        sqlx::query("SELECT id, source, created_at, revoked_at FROM scim_tokens ORDER BY id")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenView {
                id: r.try_get("id")?,
                source: r.try_get("source")?,
                created_at: r.try_get("created_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes a live token; `false` when there is none.
pub async fn revoke_token(
    conn: &mut AnyConnection,
    id: i64,
    now: Millis,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE scim_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}
