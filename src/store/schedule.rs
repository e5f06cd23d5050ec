//! Scheduled offboardings: written when HR asks, claimed exactly once when due.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// A scheduled offboarding as listed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ScheduledRow {
    pub id: i64,
    pub staff: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(
        serialize_with = "crate::domain::time::serialize_millis",
        deserialize_with = "crate::domain::time::deserialize_millis"
    )]
    pub at: Millis,
    pub reason: String,
    pub created_by: String,
    pub state: String,
    /// The IANA time zone it was entered in, when it was entered with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

pub async fn insert(
    conn: &mut AnyConnection,
    staff: StaffId,
    at: Millis,
    reason: &str,
    by: &str,
    now: Millis,
    zone: Option<&str>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO scheduled_offboardings (staff_id, at, reason, created_by, created_at, state, zone) \
         VALUES ($1, $2, $3, $4, $5, 'scheduled', $6) RETURNING id",
    )
    .bind(staff)
    .bind(at)
    .bind(reason)
    .bind(by)
    .bind(now)
    .bind(zone)
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.try_get("id")?)
}

/// Pending ones, soonest first.
pub async fn pending(pool: &AnyPool) -> Result<Vec<ScheduledRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT o.id, s.username, o.at, o.reason, o.created_by, o.state, o.zone FROM scheduled_offboardings o \
         JOIN staff s ON s.id = o.staff_id WHERE o.state = 'scheduled' ORDER BY o.at",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ScheduledRow {
                id: r.try_get("id")?,
                staff: r.try_get("username")?,
                at: r.try_get("at")?,
                reason: r.try_get("reason")?,
                created_by: r.try_get("created_by")?,
                state: r.try_get("state")?,
                zone: r.try_get("zone")?,
            })
        })
        .collect()
}

/// Cancels a pending one; `false` if it is not pending (done, cancelled, or unknown).
pub async fn cancel(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE scheduled_offboardings SET state = 'cancelled', decided_by = $2, decided_at = $3 \
         WHERE id = $1 AND state = 'scheduled'",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of pending ones whose moment has come.
pub async fn due(pool: &AnyPool, now: Millis) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM scheduled_offboardings WHERE state = 'scheduled' AND at <= $1 ORDER BY at",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Claims a due one inside the caller's transaction: only one claimer gets the row (the
/// update takes its lock; a second sees it no longer pending). Returns (staff, reason, by).
pub async fn claim(
    conn: &mut AnyConnection,
    id: i64,
    by: &str,
    now: Millis,
) -> Result<Option<(StaffId, String, String)>, StoreError> {
    let row = sqlx::query(
        "UPDATE scheduled_offboardings SET state = 'done', decided_by = $2, decided_at = $3 \
         WHERE id = $1 AND state = 'scheduled' RETURNING staff_id, reason, created_by",
    )
    .bind(id)
    .bind(by)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("staff_id")?,
            r.try_get("reason")?,
            r.try_get("created_by")?,
        ))
    })
    .transpose()
}

/// Cancels the pending ones one creator made for one person (a directory's own expiry
/// schedule, when the directory moves or drops the date); answers their ids.
pub async fn cancel_made_by(
    conn: &mut AnyConnection,
    staff: StaffId,
    created_by: &str,
    now: Millis,
) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "UPDATE scheduled_offboardings SET state = 'cancelled', decided_by = $2, decided_at = $3 \
         WHERE staff_id = $1 AND created_by = $2 AND state = 'scheduled' RETURNING id",
    )
    .bind(staff)
    .bind(created_by)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// The pending moment per staff member, for the access review.
pub async fn pending_by_staff(
    pool: &AnyPool,
) -> Result<std::collections::HashMap<StaffId, Millis>, StoreError> {
    let rows = sqlx::query("SELECT staff_id, MIN(at) AS at FROM scheduled_offboardings WHERE state = 'scheduled' GROUP BY staff_id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("staff_id")?, r.try_get("at")?)))
        .collect()
}
