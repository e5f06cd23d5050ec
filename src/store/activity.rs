//! Per-call broker activity, written in batches.

use std::collections::HashMap;

use sqlx::{AnyPool, Row};

use super::{Store, StoreError};
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// One brokered call.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub at: Millis,
    pub token_id: i64,
    pub staff_id: StaffId,
    pub channel_id: String,
    pub action: &'static str,
    pub status: u16,
    pub latency_us: i64,
    pub bytes_in: i64,
    pub bytes_out: i64,
}

/// Writes a batch in one transaction and moves each token's `last_used_at` forward.
pub async fn write_batch(store: &Store, calls: &[CallRecord]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    let mut last_use: HashMap<i64, Millis> = HashMap::new();
    for c in calls {
        sqlx::query(
            "INSERT INTO activity (at, token_id, staff_id, channel_id, action, status, latency_us, bytes_in, bytes_out) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.at)
        .bind(c.token_id)
        .bind(c.staff_id)
        .bind(c.channel_id.as_str())
        .bind(c.action)
        .bind(i32::from(c.status))
        .bind(c.latency_us)
        .bind(c.bytes_in)
        .bind(c.bytes_out)
        .execute(tx.conn())
        .await?;
        let at = last_use.entry(c.token_id).or_insert(c.at);
        *at = (*at).max(c.at);
    }
    for (token, at) in last_use {
        sqlx::query("UPDATE tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)")
            .bind(token)
            .bind(at)
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await
}

/// Last use per (staff, channel).
pub async fn last_use(pool: &AnyPool) -> Result<HashMap<(StaffId, String), Millis>, StoreError> {
    let rows = sqlx::query(
        "SELECT staff_id, channel_id, MAX(at) AS last FROM activity GROUP BY staff_id, channel_id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                (r.try_get("staff_id")?, r.try_get("channel_id")?),
                r.try_get("last")?,
            ))
        })
        .collect()
}

/// Last use per channel for one staff member.
pub async fn last_use_of(
    conn: &mut sqlx::AnyConnection,
    staff: StaffId,
) -> Result<Vec<(String, Millis)>, StoreError> {
    let rows = sqlx::query(
        "SELECT channel_id, MAX(at) AS last FROM activity WHERE staff_id = $1 GROUP BY channel_id",
    )
    .bind(staff)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("channel_id")?, r.try_get("last")?)))
        .collect()
}

/// The last brokered call per channel.
pub async fn last_use_by_channel(pool: &AnyPool) -> Result<HashMap<String, Millis>, StoreError> {
    let rows = sqlx::query("SELECT channel_id, MAX(at) AS last FROM activity GROUP BY channel_id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("channel_id")?, r.try_get("last")?)))
        .collect()
}
