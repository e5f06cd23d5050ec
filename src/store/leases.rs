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
