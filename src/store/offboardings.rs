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
