use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::parse;
use crate::access::{self, AccessRow, Filter};
use crate::apikeys::{self, KeyView, NewKey};
use crate::audit::{self, Actor};
use crate::domain::chain::Entry;
use crate::domain::{ChannelId, Role, Username};
use crate::web::AppState;
use crate::web::auth::Caller;
use crate::web::error::ApiError;
use crate::web::json::ApiJson;

#[derive(Deserialize)]
pub struct AccessQuery {
    staff: Option<String>,
    channel: Option<String>,
}

pub async fn access(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<AccessQuery>,
) -> Result<Json<Vec<AccessRow>>, ApiError> {
    caller.reader()?;
    let filter = Filter {
        staff: q
            .staff
            .as_deref()
            .map(Username::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("staff", e))?,
        channel: q
            .channel
            .as_deref()
            .map(ChannelId::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("channel", e))?,
    };
    Ok(Json(
        access::review(&s.store, &s.engine, &s.registry, &filter).await?,
    ))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

pub async fn audit(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    caller.auditor()?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        crate::store::audit::page(s.store.pool(), q.after, limit).await?,
    ))
}

pub async fn audit_verify(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<audit::Verification>, ApiError> {
    caller.auditor()?;
    Ok(Json(audit::verify(&s.store).await?))
}

pub async fn reload_policies(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let permit = caller.admin()?;
    reload(&s, &permit.actor).await.map(Json)
}

/// Loads the policy directory again, with its NDA texts; a bad set keeps the old one and
/// says why.
pub async fn reload(s: &AppState, actor: &Actor) -> Result<Value, ApiError> {
    if let Err(e) = s.compliance.reload_nda() {
        let mut problems = serde_json::Map::new();
        problems.insert("problem".into(), json!(e.to_string()));
        let change = audit::Change::PolicyReloadRefused {
            what: "nda".into(),
            problems,
        };
        audit::record_alone(&s.store, actor, &change).await?;
        tracing::warn!(error = %e, "NDA texts refused; keeping the previous ones");
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "nda_invalid",
            format!("{e}; the previous NDA texts stay in force"),
        ));
    }
    s.compliance.refresh_gate().await?;
    match crate::policy::load_dir(&s.policies_dir) {
        Ok(bundle) => {
            let count = bundle.origin.len();
            s.engine.replace(bundle);
            let nda = s.compliance.nda().versions().len();
            let change = audit::Change::PoliciesReloaded {
                what: "policies".into(),
                policies: count,
                nda_versions: nda,
            };
            audit::record_alone(&s.store, actor, &change).await?;
            tracing::info!(policies = count, nda_versions = nda, "policies reloaded");
            Ok(json!({ "reloaded": true, "policies": count, "nda_versions": nda }))
        }
        Err(e) => {
            let mut problems = serde_json::Map::new();
            problems.insert("problems".into(), json!(e.0));
            let change = audit::Change::PolicyReloadRefused {
                what: "policies".into(),
                problems,
            };
            audit::record_alone(&s.store, actor, &change).await?;
            tracing::warn!(error = %e, "policy reload refused; keeping the previous policies");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "policy_invalid",
                format!("{e}; the previous policies stay in force"),
            ))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    name: String,
    role: String,
    staff: Option<String>,
}

pub async fn create_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(b): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<NewKey>), ApiError> {
    let permit = caller.admin()?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| ApiError::bad_request("role", "must be admin, hr or auditor"))?;
    let staff = match b.staff {
        Some(u) => Some(
            s.directory
                .get(&parse("staff", Username::parse(&u))?)
                .await?
                .id,
        ),
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        Json(apikeys::create(&s.store, &permit.actor, &b.name, role, staff).await?),
    ))
}

pub async fn list_keys(
    State(s): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    caller.admin()?;
    Ok(Json(apikeys::list(&s.store).await?))
}

pub async fn revoke_key(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let permit = caller.admin()?;
    let id: i64 = parse("id", id.parse::<i64>())?;
    apikeys::revoke(&s.store, &permit.actor, id).await?;
    Ok(Json(json!({ "revoked": true })))
}
