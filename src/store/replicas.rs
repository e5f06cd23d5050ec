//! Replica heartbeats and their acknowledgements of access-removing changes.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::time::Millis;

/// One replica as it last reported itself.
#[derive(Debug, Clone)]
pub struct ReplicaRow {
    pub id: String,
    pub name: String,
    pub started_at: Millis,
    pub heartbeat_at: Millis,
    pub caught_up_at: Millis,
    pub applied_seq: i64,
    pub stopped_at: Option<Millis>,
}

/// Writes this replica's row (first call inserts it).
pub async fn heartbeat(conn: &mut AnyConnection, row: &ReplicaRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO replicas (id, name, started_at, heartbeat_at, caught_up_at, applied_seq, stopped_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
         heartbeat_at = excluded.heartbeat_at, caught_up_at = excluded.caught_up_at, \
         applied_seq = excluded.applied_seq, stopped_at = excluded.stopped_at",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(row.started_at)
    .bind(row.heartbeat_at)
    .bind(row.caught_up_at)
    .bind(row.applied_seq)
    .bind(row.stopped_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replicas that heartbeated since `since` or never stopped cleanly after it.
pub async fn list(pool: &AnyPool, since: Millis) -> Result<Vec<ReplicaRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, started_at, heartbeat_at, caught_up_at, applied_seq, stopped_at \
         FROM replicas WHERE heartbeat_at >= $1 ORDER BY name, started_at",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ReplicaRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                started_at: r.try_get("started_at")?,
                heartbeat_at: r.try_get("heartbeat_at")?,
                caught_up_at: r.try_get("caught_up_at")?,
                applied_seq: r.try_get("applied_seq")?,
                stopped_at: r.try_get("stopped_at")?,
            })
        })
        .collect()
}

/// Records that `replica` applied each of `seqs` at `at`. Repeats are ignored.
pub async fn ack(
    conn: &mut AnyConnection,
    replica: &str,
    seqs: &[i64],
    at: Millis,
) -> Result<(), StoreError> {
    for chunk in seqs.chunks(300) {
        let mut sql =
            String::from("INSERT INTO replica_acks (seq, replica_id, applied_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = i * 3;
            sql.push_str(&format!("(${}, ${}, ${})", b + 1, b + 2, b + 3));
        }
        sql.push_str(" ON CONFLICT (seq, replica_id) DO NOTHING");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            q = q.bind(*s).bind(replica).bind(at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Who acknowledged entry `seq`, and when.
pub async fn acks_of(pool: &AnyPool, seq: i64) -> Result<Vec<(String, Millis)>, StoreError> {
    let rows = sqlx::query("SELECT replica_id, applied_at FROM replica_acks WHERE seq = $1")
        .bind(seq)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("replica_id")?, r.try_get("applied_at")?)))
        .collect()
}

/// When entry `seq` was written (its audit time).
pub async fn entry_time(pool: &AnyPool, seq: i64) -> Result<Option<Millis>, StoreError> {
    let row = sqlx::query("SELECT at FROM audit_log WHERE seq = $1")
        .bind(seq)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get("at")).transpose()?)
}
