//! Channel rows. The secret column holds only sealed bytes.

use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::StoreError;
use crate::domain::ChannelId;
use crate::domain::channel::{ChannelInput, ChannelKind, ChannelSpec};
use crate::domain::time::Millis;

/// A stored channel: its spec and, if set, its sealed secret.
pub struct ChannelRecord {
    pub spec: ChannelSpec,
    pub secret_sealed: Option<Vec<u8>>,
    pub secret_set_at: Option<Millis>,
    pub updated_at: Millis,
}

#[derive(Serialize, Deserialize, Default)]
struct StoredConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    param: Option<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    insecure_upstream: bool,
}

fn config_of(spec: &ChannelSpec) -> String {
    let (header, param) = match &spec.kind {
        ChannelKind::Header { header } => (Some(header.clone()), None),
        ChannelKind::Query { param } => (None, Some(param.clone())),
        _ => (None, None),
    };
    let config = StoredConfig {
        header,
        param,
        rules: spec.rules.iter().map(|r| r.to_text()).collect(),
        preset: spec.preset.map(|p| p.name().to_owned()),
        tags: spec.tags.iter().map(|t| t.to_string()).collect(),
        insecure_upstream: spec.insecure_upstream,
    };
    serde_json::to_string(&config).expect("channel config serialises")
}

fn from_row(row: &AnyRow) -> Result<ChannelRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let id: String = row.try_get("id")?;
    let kind: String = row.try_get("kind")?;
    let upstream: String = row.try_get("upstream")?;
    let config: String = row.try_get("config")?;
    let config: StoredConfig = serde_json::from_str(&config).map_err(|e| corrupt(e.to_string()))?;
    let id = ChannelId::parse(&id).map_err(|e| corrupt(e.to_string()))?;
    let spec = ChannelSpec::parse(
        id,
        ChannelInput {
            kind: Some(&kind),
            preset: config.preset.as_deref(),
            header: config.header.as_deref(),
            param: config.param.as_deref(),
            upstream: &upstream,
            rules: &config.rules,
            tags: &config.tags,
            insecure_upstream: config.insecure_upstream,
        },
    )
    .map_err(|e| corrupt(e.to_string()))?;
    Ok(ChannelRecord {
        spec,
        secret_sealed: row.try_get("secret_sealed")?,
        secret_set_at: row.try_get("secret_set_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const COLUMNS: &str = "id, kind, upstream, config, secret_sealed, secret_set_at, updated_at";

pub async fn upsert(
    conn: &mut AnyConnection,
    spec: &ChannelSpec,
    now: Millis,
) -> Result<ChannelRecord, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO channels (id, kind, upstream, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, upstream = excluded.upstream, \
         config = excluded.config, updated_at = excluded.updated_at RETURNING {COLUMNS}"
    )))
    .bind(spec.id.as_str())
    .bind(spec.kind.name())
    .bind(spec.upstream.as_str())
    .bind(config_of(spec))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    from_row(&row)
}

/// Forgets a channel's secret (its destination changed).
pub async fn clear_secret(
    conn: &mut AnyConnection,
    id: &ChannelId,
    now: Millis,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE channels SET secret_sealed = NULL, secret_set_at = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The channel as it is now, inside a transaction.
pub async fn find_in(
    conn: &mut AnyConnection,
    id: &ChannelId,
) -> Result<Option<ChannelRecord>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM channels WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Stores a sealed secret; returns false when the channel does not exist.
pub async fn set_secret(
    conn: &mut AnyConnection,
    id: &ChannelId,
    sealed: &[u8],
    now: Millis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE channels SET secret_sealed = $2, secret_set_at = $3, updated_at = $3 WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(sealed)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(pool: &AnyPool, id: &ChannelId) -> Result<Option<ChannelRecord>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM channels WHERE id = $1"
    )))
    .bind(id.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(pool: &AnyPool) -> Result<Vec<ChannelRecord>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM channels ORDER BY id"
    )))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}
