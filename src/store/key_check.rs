//! The deployment's key check value, and whether anything sealed exists without one.

use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// The sealed constant, if the deployment has one.
pub async fn get(pool: &AnyPool) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT sealed FROM key_check WHERE id = 1")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("sealed")).transpose()?)
}

/// Stores `sealed` unless a check value exists already (another replica's, at the same
/// first start): the caller reads back whichever won.
pub async fn put_if_absent(pool: &AnyPool, sealed: &[u8], now: Millis) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO key_check (id, sealed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(sealed)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// One value sealed under the master key, with the context it was sealed for: a database
/// from before key checks existed is checked against it.
pub async fn any_sealed(pool: &AnyPool) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let channel = sqlx::query(
        "SELECT id, secret_sealed FROM channels WHERE secret_sealed IS NOT NULL LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    if let Some(r) = channel {
        let id: String = r.try_get("id")?;
        return Ok(Some((format!("channel:{id}"), r.try_get("secret_sealed")?)));
    }
    let totp = sqlx::query("SELECT staff_id, seed_sealed FROM totp LIMIT 1")
        .fetch_optional(pool)
        .await?;
    if let Some(r) = totp {
        let id: i64 = r.try_get("staff_id")?;
        return Ok(Some((format!("totp:{id}"), r.try_get("seed_sealed")?)));
    }
    Ok(None)
}
