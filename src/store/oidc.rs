//! OpenID Connect rows: sign-ins in flight, provider sessions, logout tokens seen.

use sqlx::{AnyConnection, AnyPool, Row};

use super::StoreError;
use crate::domain::staff::StaffId;
use crate::domain::time::Millis;

/// A sign-in waiting for the browser to come back from the provider.
pub struct Started<'a> {
    pub state_hash: &'a [u8],
    pub source: &'a str,
    pub browser_hash: &'a [u8],
    pub sealed: &'a [u8],
    pub now: Millis,
    pub expires_at: Millis,
    /// Started by an API client: the answer is picked up with a code, not by a cookie.
    pub for_api: bool,
}

/// Keeps a started sign-in unless `limit` are already waiting for this source; `false`
/// then. Anyone may start a sign-in, so the rows they make are bounded.
pub async fn save_login(pool: &AnyPool, s: &Started<'_>, limit: u32) -> Result<bool, StoreError> {
    // Abandoned sign-ins go as new ones arrive.
    sqlx::query("DELETE FROM oidc_logins WHERE expires_at <= $1")
        .bind(s.now)
        .execute(pool)
        .await?;
    let waiting: i64 = sqlx::query("SELECT COUNT(*) AS n FROM oidc_logins WHERE source = $1")
        .bind(s.source)
        .fetch_one(pool)
        .await?
        .try_get("n")?;
    if waiting >= i64::from(limit) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO oidc_logins (state_hash, source, browser_hash, sealed, created_at, expires_at, for_api) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(s.state_hash.to_vec())
    .bind(s.source)
    .bind(s.browser_hash.to_vec())
    .bind(s.sealed.to_vec())
    .bind(s.now)
    .bind(s.expires_at)
    .bind(i64::from(s.for_api))
    .execute(pool)
    .await?;
    Ok(true)
}

/// A started sign-in as it was kept: its source, browser binding and sealed secrets.
pub struct Kept {
    pub source: String,
    /// The hash of the browser cookie, or of the API client's handle.
    pub browser_hash: Vec<u8>,
    pub sealed: Vec<u8>,
    pub for_api: bool,
}

/// Takes a started sign-in by its state, once: a second callback with the same state finds
/// nothing. Expired ones are not answered.
pub async fn take_login(
    pool: &AnyPool,
    state_hash: &[u8],
    now: Millis,
) -> Result<Option<Kept>, StoreError> {
    let row = sqlx::query(
        "DELETE FROM oidc_logins WHERE state_hash = $1 \
         RETURNING source, browser_hash, sealed, expires_at, for_api",
    )
    .bind(state_hash.to_vec())
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: i64 = row.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(Kept {
        source: row.try_get("source")?,
        browser_hash: row.try_get("browser_hash")?,
        sealed: row.try_get("sealed")?,
        for_api: row.try_get::<i64, _>("for_api")? != 0,
    }))
}

/// Records where a new session came from and which factor met the second-factor rule.
pub async fn mark_session(
    conn: &mut AnyConnection,
    session: i64,
    source: &str,
    sub: &str,
    sid: Option<&str>,
    factor: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET idp_source = $2, idp_sub = $3, idp_sid = $4, factor = $5 WHERE id = $1",
    )
    .bind(session)
    .bind(source)
    .bind(sub)
    .bind(sid)
    .bind(factor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends the live sessions a provider logout names (by `sid` when it has one, else every
/// session of `sub`); answers (session, staff) of each ended.
pub async fn end_sessions(
    conn: &mut AnyConnection,
    source: &str,
    sub: Option<&str>,
    sid: Option<&str>,
    now: Millis,
) -> Result<Vec<(i64, StaffId)>, StoreError> {
    let rows = sqlx::query(
        "UPDATE sessions SET revoked_at = $4 WHERE idp_source = $1 AND revoked_at IS NULL \
         AND ($2 IS NULL OR idp_sub = $2) AND ($3 IS NULL OR idp_sid = $3) \
         RETURNING id, staff_id",
    )
    .bind(source)
    .bind(sub)
    .bind(sid)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("staff_id")?)))
        .collect()
}

/// Remembers a logout token's `jti`; `false` when it was seen before.
pub async fn remember_jti(
    conn: &mut AnyConnection,
    source: &str,
    jti: &str,
    now: Millis,
    keep_until: Millis,
) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM oidc_logout_jtis WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(
        "INSERT INTO oidc_logout_jtis (source, jti, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (source, jti) DO NOTHING",
    )
    .bind(source)
    .bind(jti)
    .bind(keep_until)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The staff member a provider knows as `sub`, if staffgate has them.
pub async fn staff_by_subject(
    conn: &mut AnyConnection,
    origin: &str,
    sub: &str,
) -> Result<Option<StaffId>, StoreError> {
    let row = sqlx::query("SELECT id FROM staff WHERE source = $1 AND external_id = $2")
        .bind(origin)
        .bind(sub)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(r.try_get("id")?)).transpose()
}

/// Keeps a session's provider refresh token (sealed) and when it was last used.
pub async fn save_refresh(
    conn: &mut AnyConnection,
    session: i64,
    sealed: &[u8],
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET idp_refresh = $2, idp_refreshed_at = $3 WHERE id = $1")
        .bind(session)
        .bind(sealed.to_vec())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A live provider session due for a refresh.
pub struct Due {
    pub session: i64,
    pub staff: StaffId,
    pub sub: String,
    pub sealed: Vec<u8>,
}

/// The live sessions of `source` with a refresh token last refreshed before `before`.
pub async fn due_refreshes(
    pool: &AnyPool,
    source: &str,
    before: Millis,
    now: Millis,
) -> Result<Vec<Due>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, staff_id, idp_sub, idp_refresh FROM sessions WHERE idp_source = $1 \
         AND revoked_at IS NULL AND expires_at > $3 AND idp_refresh IS NOT NULL \
         AND idp_refreshed_at < $2 ORDER BY idp_refreshed_at LIMIT 500",
    )
    .bind(source)
    .bind(before)
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Due {
                session: r.try_get("id")?,
                staff: r.try_get("staff_id")?,
                sub: r.try_get("idp_sub")?,
                sealed: r.try_get("idp_refresh")?,
            })
        })
        .collect()
}

/// Ends these sessions of `source`; answers (session, staff) of those that were live.
pub async fn end_these(
    conn: &mut AnyConnection,
    sessions: &[i64],
    now: Millis,
) -> Result<Vec<(i64, StaffId)>, StoreError> {
    let mut ended = Vec::new();
    for id in sessions {
        let row = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL \
             RETURNING id, staff_id",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            ended.push((r.try_get("id")?, r.try_get("staff_id")?));
        }
    }
    Ok(ended)
}

/// The provider a session came from, if any.
pub async fn session_source(pool: &AnyPool, session: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT idp_source FROM sessions WHERE id = $1")
        .bind(session)
        .fetch_optional(pool)
        .await?;
    Ok(row.and_then(|r| r.try_get::<Option<String>, _>("idp_source").ok().flatten()))
}

/// Notes that the provider refused a refresh of `staff`'s session; the first refusal since
/// the last success stands.
pub async fn note_refusal(
    conn: &mut AnyConnection,
    staff: StaffId,
    source: &str,
    reason: &str,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO oidc_refusals (staff_id, source, since, reason) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (staff_id) DO NOTHING",
    )
    .bind(staff)
    .bind(source)
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A sign-in or a refresh of `staff` succeeded: the provider still knows them.
pub async fn clear_refusal(conn: &mut AnyConnection, staff: StaffId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM oidc_refusals WHERE staff_id = $1")
        .bind(staff)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A person the provider has refused since `since`, with nothing succeeding after.
pub struct Unrefreshable {
    pub staff: StaffId,
    pub since: Millis,
    pub reason: String,
}

/// The people of `source` (not offboarded) refused since `before` or earlier.
pub async fn unrefreshable(
    pool: &AnyPool,
    source: &str,
    before: Millis,
) -> Result<Vec<Unrefreshable>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.staff_id, r.since, r.reason FROM oidc_refusals r JOIN staff s ON s.id = r.staff_id \
         WHERE r.source = $1 AND r.since <= $2 AND s.status <> 'offboarded' ORDER BY r.since",
    )
    .bind(source)
    .bind(before)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Unrefreshable {
                staff: r.try_get("staff_id")?,
                since: r.try_get("since")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}
