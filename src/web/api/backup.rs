//! `POST /backup`: an online copy of the embedded SQLite database, streamed to the admin.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::audit;
use crate::store::BackupError;
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;

#[utoipa::path(
    post,
    path = "/api/v1/backup",
    tag = "backup",
    responses((status = 200, description = "the database file", content_type = "application/vnd.sqlite3"), (status = "default", description = "an error", body = crate::web::answers::ErrorBody))
)]
pub async fn backup(State(s): State<Arc<AppState>>, caller: Caller) -> Result<Response, ApiError> {
    let permit = caller.admin()?;
    let dir = tempfile::tempdir().map_err(|e| ApiError::from(BackupError::File(e)))?;
    let file = dir.path().join("staffgate-backup.db");
    s.store.backup_to(&file).await?;
    let opened = tokio::fs::File::open(&file)
        .await
        .map_err(|e| ApiError::from(BackupError::File(e)))?;
    let bytes = opened
        .metadata()
        .await
        .map_err(|e| ApiError::from(BackupError::File(e)))?
        .len();
    let change = audit::Change::DatabaseBackedUp {
        backend: "sqlite".into(),
        bytes,
    };
    audit::record_alone(&s.store, permit.actor(), &change).await?;
    // Streamed, not read into memory; the temporary directory goes when the stream ends.
    let stream = tokio_util::io::ReaderStream::new(opened).map(move |chunk| {
        let _keep = &dir;
        chunk
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/vnd.sqlite3"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
