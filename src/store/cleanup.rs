//! Housekeeping: rows that served their purpose and only grow the database.

use sqlx::AnyConnection;

use super::StoreError;
use crate::domain::time::Millis;

/// Deletes what is older than its retention; returns rows deleted per table.
pub async fn prune(
    conn: &mut AnyConnection,
    now: Millis,
    token_retention: Millis,
) -> Result<Vec<(&'static str, u64)>, StoreError> {
    const DAY: Millis = 24 * 60 * 60 * 1000;
    // Tokens are kept a while after expiry for the access review; the audit log keeps
    // their issuance and revocation for good.
    let statements: [(&str, &str, Millis); 6] = [
        (
            "tokens",
            "DELETE FROM tokens WHERE expires_at < $1",
            now - token_retention,
        ),
        (
            "sessions",
            "DELETE FROM sessions WHERE expires_at < $1",
            now - DAY,
        ),
        (
            "login_failures",
            "DELETE FROM login_failures WHERE at < $1",
            now - DAY,
        ),
        (
            "totp_failures",
            "DELETE FROM totp_failures WHERE at < $1",
            now - DAY,
        ),
        (
            "replica_acks",
            "DELETE FROM replica_acks WHERE applied_at < $1",
            now - 7 * DAY,
        ),
        (
            "replicas",
            "DELETE FROM replicas WHERE heartbeat_at < $1",
            now - 7 * DAY,
        ),
    ];
    let mut done = Vec::new();
    for (table, sql, before) in statements {
        let n = sqlx::query(sql)
            .bind(before)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n > 0 {
            done.push((table, n));
        }
    }
    Ok(done)
}
