//! Leases: one holder per background job, taken over when the holder stops renewing.

use sqlx::AnyConnection;

use super::StoreError;
use crate::domain::time::Millis;

/// Takes or renews lease `name` for `holder` until `until`. True when `holder` has it.
pub async fn acquire(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: Millis,
    until: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
    )
    .bind(name)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Names `holder` as the holder of lease `name`, whoever had it: for a lease proven by a
/// lock file (SQLite), where the row only tells `staffgate status` who runs the job.
pub async fn claim(conn: &mut AnyConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
    )
    .bind(name)
    .bind(holder)
    .bind(HELD_BY_LOCK)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The expiry written for a lease held by a lock file: it never runs out by time.
pub const HELD_BY_LOCK: Millis = i64::MAX / 2;

/// Who holds lease `name`, and until when.
pub async fn find(
    pool: &sqlx::AnyPool,
    name: &str,
) -> Result<Option<(String, Millis)>, StoreError> {
    use sqlx::Row;
    let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.map(|r| Ok((r.try_get("holder")?, r.try_get("expires_at")?)))
        .transpose()
}

/// Gives lease `name` up if `holder` has it, so another replica takes it at once.
pub async fn release(conn: &mut AnyConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Who holds which lease until when.
pub async fn list(pool: &sqlx::AnyPool) -> Result<Vec<(String, String, Millis)>, StoreError> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT name, holder, expires_at FROM leases ORDER BY name")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("name")?,
                r.try_get("holder")?,
                r.try_get("expires_at")?,
            ))
        })
        .collect()
}
