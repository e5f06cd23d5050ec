//! `/scim/v2/<source>/…`: SCIM 2.0 for a source's identity provider. Every request presents
//! one of the source's tokens; answers are `application/scim+json`; refusals are SCIM error
//! bodies with a `scimType` where RFC 7644 names one — never a 500.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::AppState;
use crate::directory::scim::{ScimError, schemas};
use crate::provisioning::{Page, ProvisioningError};

/// A refusal, as a SCIM error body.
pub struct Refusal(ProvisioningError);

impl From<ProvisioningError> for Refusal {
    fn from(e: ProvisioningError) -> Self {
        Refusal(e)
    }
}

impl From<ScimError> for Refusal {
    fn from(e: ScimError) -> Self {
        Refusal(e.into())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        use ProvisioningError as P;
        let e = &self.0;
        let (status, scim_type): (u16, Option<&str>) = match e {
            P::Scim(s) => s.status_and_type(),
            P::UnknownSource(_) | P::NotFound => (404, None),
            P::Unauthorized => (401, None),
            P::Held { .. } => (503, None),
            P::Offboarded(_) => (400, Some("mutability")),
            P::Refused(_) => (409, Some("uniqueness")),
            P::Random | P::Apply(_) | P::Store(_) => {
                tracing::error!(error = %e, "a SCIM request could not be served");
                (503, None)
            }
        };
        let detail = match e {
            P::Random | P::Apply(_) | P::Store(_) => {
                "staffgate could not serve this now; retry".to_owned()
            }
            _ => e.to_string(),
        };
        let mut body =
            json!({ "schemas": [schemas::ERROR], "status": status.to_string(), "detail": detail });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = scim(code, body);
        let headers = response.headers_mut();
        if matches!(e, P::Unauthorized) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                "Bearer".parse().expect("static header"),
            );
        }
        if matches!(e, P::Held { .. } | P::Store(_) | P::Apply(_)) {
            headers.insert(header::RETRY_AFTER, "60".parse().expect("static header"));
        }
        response
    }
}

fn scim(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/scim+json")],
        body.to_string(),
    )
        .into_response()
}

type Answer = Result<Response, Refusal>;

async fn auth(s: &AppState, source: &str, headers: &HeaderMap) -> Result<(), Refusal> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    Ok(s.provisioning.authenticate(source, presented).await?)
}

fn json_body(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|_| Refusal::from(ScimError::InvalidSyntax("not JSON".into())))
}

fn page(q: &HashMap<String, String>) -> Result<Page, Refusal> {
    let number = |k: &str, default: i64| match q.get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| Refusal::from(ScimError::InvalidValue(k.to_owned()))),
    };
    Ok(Page {
        start_index: number("startIndex", 1)?,
        count: number("count", 100)?,
    })
}

/// `attributes` / `excludedAttributes`: top-level names kept or left out (`id` and
/// `schemas` always stay).
fn select(mut v: Value, q: &HashMap<String, String>) -> Value {
    let names = |k: &str| -> Option<Vec<String>> {
        q.get(k).map(|s| {
            s.split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .collect()
        })
    };
    let (keep, drop) = (names("attributes"), names("excludedAttributes"));
    let trim = |r: &mut Value| {
        if let Value::Object(m) = r {
            m.retain(|k, _| {
                let k = k.to_ascii_lowercase();
                k == "id"
                    || k == "schemas"
                    || (keep.as_ref().is_none_or(|a| a.contains(&k))
                        && drop.as_ref().is_none_or(|d| !d.contains(&k)))
            });
        }
    };
    match v.get_mut("Resources") {
        Some(Value::Array(items)) => items.iter_mut().for_each(trim),
        _ => trim(&mut v),
    }
    v
}

async fn config(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    Ok(scim(
        StatusCode::OK,
        s.provisioning.service_provider_config(),
    ))
}

async fn resource_types(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    Ok(scim(StatusCode::OK, s.provisioning.resource_types(&source)))
}

async fn schemas_doc(
    State(s): State<Arc<AppState>>,
    Path(source): Path<String>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    Ok(scim(
        StatusCode::OK,
        crate::provisioning::schemas_document(),
    ))
}

/// The resource a path names.
#[derive(Clone, Copy)]
enum Kind {
    Users,
    Groups,
}

fn kind(segment: &str) -> Result<Kind, Refusal> {
    match segment {
        "Users" => Ok(Kind::Users),
        "Groups" => Ok(Kind::Groups),
        _ => Err(ProvisioningError::NotFound.into()),
    }
}

/// One entry of a discovery list by its `id`.
fn entry(list: Value, id: &str) -> Answer {
    let found = list["Resources"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == id))
        .cloned()
        .ok_or(ProvisioningError::NotFound)?;
    Ok(scim(StatusCode::OK, found))
}

async fn resource_type(
    State(s): State<Arc<AppState>>,
    Path((source, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    entry(s.provisioning.resource_types(&source), &id)
}

async fn schema(
    State(s): State<Arc<AppState>>,
    Path((source, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    entry(crate::provisioning::schemas_document(), &id)
}

/// `POST /<resource>/.search` (RFC 7644 §3.4.3): the query in the body.
async fn search(
    State(s): State<Arc<AppState>>,
    Path((source, res, dot)): Path<(String, String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Answer {
    auth(&s, &source, &h).await?;
    if dot != ".search" {
        return Err(ProvisioningError::NotFound.into());
    }
    let q = search_query(&json_body(&body)?);
    let (filter, p) = (q.get("filter").map(String::as_str), page(&q)?);
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.list_users(&source, filter, p).await?,
        Kind::Groups => s.provisioning.list_groups(&source, filter, p).await?,
    };
    Ok(scim(StatusCode::OK, select(v, &q)))
}

/// `POST /.search` at the base: users and groups in one list (a filter on `userName`
/// finds users only).
async fn search_all(s: &AppState, source: &str, body: &Bytes) -> Answer {
    let q = search_query(&json_body(body)?);
    let filter = q.get("filter").map(String::as_str);
    let all = Page {
        start_index: 1,
        count: 1000,
    };
    let users = s.provisioning.list_users(source, filter, all).await?;
    let names_users = filter.is_some_and(|f| f.to_ascii_lowercase().contains("username"));
    let groups = if names_users {
        json!({ "Resources": [] })
    } else {
        s.provisioning
            .list_groups(
                source,
                filter,
                Page {
                    start_index: 1,
                    count: 1000,
                },
            )
            .await?
    };
    let p = page(&q)?;
    let found: Vec<Value> = [users, groups]
        .iter()
        .flat_map(|l| l["Resources"].as_array().cloned().unwrap_or_default())
        .collect();
    let total = found.len();
    let start = p.start_index.max(1);
    let resources: Vec<Value> = found
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(0))
        .take(usize::try_from(p.count.clamp(0, 1000)).unwrap_or(0))
        .collect();
    let v = json!({ "schemas": [schemas::LIST], "totalResults": total, "startIndex": start,
                    "itemsPerPage": resources.len(), "Resources": resources });
    Ok(scim(StatusCode::OK, select(v, &q)))
}

/// A SearchRequest body as the query parameters a GET would carry.
fn search_query(body: &Value) -> HashMap<String, String> {
    let mut q = HashMap::new();
    for (k, v) in body.as_object().into_iter().flatten() {
        let text = match v {
            Value::String(t) => t.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        q.insert(k.clone(), text);
    }
    q
}

async fn list(
    State(s): State<Arc<AppState>>,
    Path((source, res)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    let (filter, p) = (q.get("filter").map(String::as_str), page(&q)?);
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.list_users(&source, filter, p).await?,
        Kind::Groups => s.provisioning.list_groups(&source, filter, p).await?,
    };
    Ok(scim(StatusCode::OK, select(v, &q)))
}

async fn create(
    State(s): State<Arc<AppState>>,
    Path((source, res)): Path<(String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Answer {
    auth(&s, &source, &h).await?;
    if res == ".search" {
        return search_all(&s, &source, &body).await;
    }
    let body = json_body(&body)?;
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.create_user(&source, &body).await?,
        Kind::Groups => s.provisioning.create_group(&source, &body).await?,
    };
    Ok(scim(StatusCode::CREATED, v))
}

async fn read(
    State(s): State<Arc<AppState>>,
    Path((source, res, id)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.get_user(&source, &id).await?,
        Kind::Groups => s.provisioning.get_group(&source, &id).await?,
    };
    Ok(scim(StatusCode::OK, select(v, &q)))
}

async fn replace(
    State(s): State<Arc<AppState>>,
    Path((source, res, id)): Path<(String, String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Answer {
    auth(&s, &source, &h).await?;
    let body = json_body(&body)?;
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.replace_user(&source, &id, &body).await?,
        Kind::Groups => s.provisioning.replace_group(&source, &id, &body).await?,
    };
    Ok(scim(StatusCode::OK, v))
}

async fn patch(
    State(s): State<Arc<AppState>>,
    Path((source, res, id)): Path<(String, String, String)>,
    h: HeaderMap,
    body: Bytes,
) -> Answer {
    auth(&s, &source, &h).await?;
    let body = json_body(&body)?;
    let v = match kind(&res)? {
        Kind::Users => s.provisioning.patch_user(&source, &id, &body).await?,
        Kind::Groups => s.provisioning.patch_group(&source, &id, &body).await?,
    };
    Ok(scim(StatusCode::OK, v))
}

async fn delete(
    State(s): State<Arc<AppState>>,
    Path((source, res, id)): Path<(String, String, String)>,
    h: HeaderMap,
) -> Answer {
    auth(&s, &source, &h).await?;
    match kind(&res)? {
        Kind::Users => s.provisioning.delete_user(&source, &id).await?,
        Kind::Groups => s.provisioning.delete_group(&source, &id).await?,
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/scim/v2/{source}/ServiceProviderConfig", get(config))
        .route("/scim/v2/{source}/ResourceTypes", get(resource_types))
        .route("/scim/v2/{source}/Schemas", get(schemas_doc))
        .route("/scim/v2/{source}/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/{source}/Schemas/{id}", get(schema))
        .route("/scim/v2/{source}/{resource}", get(list).post(create))
        .route(
            "/scim/v2/{source}/{resource}/{id}",
            get(read)
                .put(replace)
                .patch(patch)
                .delete(delete)
                .post(search),
        )
        .layer(DefaultBodyLimit::max(1024 * 1024))
}
