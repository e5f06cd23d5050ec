//! Admin API key rows, stored as hashes.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::Role;
use crate::domain::credential::CredentialHash;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// A live key as the API's authentication sees it.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub staff_id: Option<StaffId>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<KeyRow, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(KeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        staff_id: row.try_get("staff_id")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

const COLUMNS: &str = "id, name, role, staff_id, created_at, revoked_at, last_used_at";

pub async fn count(pool: &AnyPool) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
        .fetch_one(pool)
        .await?
        .try_get("n")?)
}

pub async fn insert(
    conn: &mut AnyConnection,
    hash: CredentialHash,
    name: &str,
    role: Role,
    staff_id: Option<StaffId>,
    created_by: &str,
    now: Millis,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO api_keys (hash, name, role, staff_id, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(hash.to_vec())
    .bind(name)
    .bind(role.as_str())
    .bind(staff_id)
    .bind(now)
    .bind(created_by)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Finds an unrevoked key by hash.
pub async fn find_live(pool: &AnyPool, hash: CredentialHash) -> Result<Option<KeyRow>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"
    )))
    .bind(hash.to_vec())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Records a use without making the caller wait (see `Store::write_behind`).
pub fn touch_behind(store: &super::Store, id: i64, now: Millis) {
    store.write_behind(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1",
        id,
        now,
    );
}

pub async fn list(pool: &AnyPool) -> Result<Vec<KeyRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_keys ORDER BY id"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Revokes one key; returns whether a live key was revoked.
pub async fn revoke(conn: &mut AnyConnection, id: i64, now: Millis) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every key a staff member owns; returns how many.
pub async fn revoke_for_staff(
    conn: &mut AnyConnection,
    staff: StaffId,
    now: Millis,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL",
    )
    .bind(staff)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
