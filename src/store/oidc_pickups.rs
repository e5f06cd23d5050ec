//! Sessions waiting for the API client that started their sign-in: kept by the hash of the
//! client's handle, released once for the hash of the code the person saw.

use sqlx::{AnyConnection, AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// A session waiting to be picked up.
pub struct NewPickup<'a> {
    pub handle_hash: &'a [u8],
    pub source: &'a str,
    pub code_hash: &'a [u8],
    pub session_id: i64,
    pub sealed: &'a [u8],
    pub expires_at: Millis,
}

pub async fn save(conn: &mut AnyConnection, p: &NewPickup<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_pickups (handle_hash, source, code_hash, session_id, sealed, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.handle_hash.to_vec())
    .bind(p.source)
    .bind(p.code_hash.to_vec())
    .bind(p.session_id)
    .bind(p.sealed.to_vec())
    .bind(p.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a pickup attempt found.
pub enum Attempt {
    /// Handle and code match: the row is gone, this is the sealed session.
    Taken { session_id: i64, sealed: Vec<u8> },
    /// The handle is known but the code is wrong; `tries` so far, this one included.
    WrongCode { session_id: i64, tries: i64 },
    /// No live pickup for this handle (never, used, expired, or another source's).
    Unknown,
}

/// Tries a pickup: the row goes when the code matches (once; a race is won by one caller),
/// else its tries go up.
pub async fn attempt(
    conn: &mut AnyConnection,
    handle_hash: &[u8],
    source: &str,
    code_hash: &[u8],
    now: Millis,
) -> Result<Attempt, StoreError> {
    let taken = sqlx::query(
        "DELETE FROM oidc_pickups WHERE handle_hash = $1 AND source = $2 AND code_hash = $3 \
         AND expires_at > $4 RETURNING session_id, sealed",
    )
    .bind(handle_hash.to_vec())
    .bind(source)
    .bind(code_hash.to_vec())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(r) = taken {
        return Ok(Attempt::Taken {
            session_id: r.try_get("session_id")?,
            sealed: r.try_get("sealed")?,
        });
    }
    let wrong = sqlx::query(
        "UPDATE oidc_pickups SET tries = tries + 1 WHERE handle_hash = $1 AND source = $2 \
         AND expires_at > $3 RETURNING session_id, tries",
    )
    .bind(handle_hash.to_vec())
    .bind(source)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match wrong {
        Some(r) => Attempt::WrongCode {
            session_id: r.try_get("session_id")?,
            tries: r.try_get("tries")?,
        },
        None => Attempt::Unknown,
    })
}

/// Drops one pickup (too many wrong codes).
pub async fn drop_one(conn: &mut AnyConnection, handle_hash: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM oidc_pickups WHERE handle_hash = $1")
        .bind(handle_hash.to_vec())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Drops the pickups nobody came for; answers their sessions, which are to end.
pub async fn expire(pool: &AnyPool, now: Millis) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query("DELETE FROM oidc_pickups WHERE expires_at <= $1 RETURNING session_id")
        .bind(now)
        .fetch_all(pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("session_id")?)).collect()
}
