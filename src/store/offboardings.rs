//! Offboarding receipts, kept as the JSON that was returned.

use sqlx::AnyConnection;
use sqlx::Row;

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

pub async fn insert(
    conn: &mut AnyConnection,
    staff: StaffId,
    at: Millis,
    receipt: &str,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO offboardings (staff_id, at, receipt) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(staff)
    .bind(at)
    .bind(receipt)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// The newest receipt for a staff member.
pub async fn latest(
    conn: &mut AnyConnection,
    staff: StaffId,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT receipt FROM offboardings WHERE staff_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(staff)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("receipt")).transpose()?)
}

/// Receipts newest first (id, JSON), narrowed to people whose username or name contains
/// `text`, older than `before`.
pub async fn page(
    pool: &sqlx::AnyPool,
    text: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<(i64, String)>, StoreError> {
    let pattern = text.map(|t| {
        let escaped = t
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT o.id, o.receipt FROM offboardings o JOIN staff s ON s.id = o.staff_id \
         WHERE (CAST($1 AS TEXT) IS NULL OR LOWER(s.username) LIKE $1 ESCAPE '\\' OR LOWER(s.display_name) LIKE $1 ESCAPE '\\') \
         AND o.id < $2 ORDER BY o.id DESC LIMIT {}",
        limit.clamp(1, 500)
    )))
    .bind(pattern)
    .bind(before.unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("receipt")?)))
        .collect()
}
