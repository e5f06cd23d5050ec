//! `/Groups`: a group's members are people of the same source; a membership change is a
//! move for each person it touches (tokens policy no longer permits are revoked at once).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Page, Provisioning, ProvisioningError, list_response, meta, new_id};
use crate::directory::scim::filter::{self, Attr};
use crate::directory::scim::patch::{self, GroupDoc};
use crate::directory::scim::{ScimError, schemas};
use crate::domain::names::GroupName;
use crate::domain::time::now_millis;
use crate::store::scim_groups::GroupRow;

/// Reads a POST or PUT body.
fn group_of(body: &Value) -> Result<GroupDoc, ScimError> {
    let lists_group = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x == schemas::GROUP));
    if !lists_group {
        return Err(ScimError::InvalidSyntax(
            "schemas must list the Group schema".into(),
        ));
    }
    let display_name = match &body["displayName"] {
        Value::String(s) if !s.trim().is_empty() && s.len() <= 256 => s.trim().to_owned(),
        _ => return Err(ScimError::InvalidValue("displayName".into())),
    };
    let external_id = match &body["externalId"] {
        Value::Null => None,
        Value::String(s) if s.len() <= 256 => Some(s.clone()),
        _ => return Err(ScimError::InvalidValue("externalId".into())),
    };
    let members = match &body["members"] {
        Value::Null => BTreeSet::new(),
        Value::Array(items) => items
            .iter()
            .map(|m| m["value"].as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| ScimError::InvalidValue("members".into()))?,
        _ => return Err(ScimError::InvalidValue("members".into())),
    };
    Ok(GroupDoc {
        display_name,
        external_id,
        members,
    })
}

fn resource(source: &str, g: &GroupRow) -> Value {
    let mut v = json!({
        "schemas": [schemas::GROUP],
        "id": g.id,
        "displayName": g.display_name,
        "members": g.members.iter().map(|m| json!({ "value": m, "type": "User" })).collect::<Vec<_>>(),
        "meta": meta("Group", source, &g.id, g.created_at, g.updated_at, g.version),
    });
    if let Some(e) = &g.external_id {
        v["externalId"] = json!(e);
    }
    v
}

impl Provisioning {
    /// Stores `doc` as group `id`, then moves every person whose groups it changed.
    async fn write_group(
        &self,
        source: &str,
        id: &str,
        doc: &GroupDoc,
        new: bool,
    ) -> Result<Value, ProvisioningError> {
        // Policies see the group's name; one that cannot be a group name is refused.
        GroupName::parse(&doc.display_name)
            .map_err(|_| ScimError::InvalidValue("displayName".into()))?;
        let mut tx = self.store.begin().await?;
        if let Some(holder) =
            crate::store::scim_groups::named(tx.conn(), source, &doc.display_name).await?
            && holder != id
        {
            return Err(ScimError::Uniqueness(doc.display_name.clone()).into());
        }
        let live = crate::store::scim_groups::live_users(tx.conn(), source, &doc.members).await?;
        if live.len() != doc.members.len() {
            return Err(ScimError::InvalidValue("members: not users of this source".into()).into());
        }
        let before = if new {
            BTreeSet::new()
        } else {
            crate::store::scim_groups::one(tx.conn(), source, id)
                .await?
                .ok_or(ProvisioningError::NotFound)?
                .members
        };
        let stored = crate::store::scim_groups::put(
            tx.conn(),
            source,
            id,
            &doc.display_name,
            doc.external_id.as_deref(),
            &doc.members,
            new,
            now_millis(),
        )
        .await?;
        if !stored {
            return Err(ProvisioningError::NotFound);
        }
        tx.commit().await?;
        let touched: BTreeSet<String> = before.union(&doc.members).cloned().collect();
        self.move_members(source, &touched).await?;
        self.get_group(source, id).await
    }

    /// Converges each of these users as they now are (their groups read again).
    async fn move_members(
        &self,
        source: &str,
        users: &BTreeSet<String>,
    ) -> Result<(), ProvisioningError> {
        let mut people = Vec::new();
        for id in users {
            let mut conn = self.store.conn().await?;
            let Some(row) = crate::store::scim::user(&mut conn, source, id).await? else {
                continue;
            };
            drop(conn);
            if row.deleted {
                continue;
            }
            let doc = serde_json::from_str(&row.doc)
                .map_err(|e| ProvisioningError::Apply(format!("{e}")))?;
            people.push(self.person_of(source, id, &doc).await?);
        }
        self.converge(source, people).await
    }

    pub async fn create_group(
        &self,
        source: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let doc = group_of(body)?;
        self.write_group(source, &new_id()?, &doc, true).await
    }

    pub async fn get_group(&self, source: &str, id: &str) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let mut conn = self.store.conn().await?;
        let g = crate::store::scim_groups::one(&mut conn, source, id)
            .await?
            .ok_or(ProvisioningError::NotFound)?;
        Ok(resource(source, &g))
    }

    pub async fn list_groups(
        &self,
        source: &str,
        filter_text: Option<&str>,
        page: Page,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let terms = filter_text
            .map(filter::parse)
            .transpose()?
            .unwrap_or_default();
        if terms.iter().any(|(a, _)| *a == Attr::UserName) {
            return Err(ScimError::InvalidFilter("groups have no userName".into()).into());
        }
        let mut all = Vec::new();
        let mut conn = self.store.conn().await?;
        for id in crate::store::scim_groups::ids(self.store.pool(), source).await? {
            if let Some(g) = crate::store::scim_groups::one(&mut conn, source, &id).await? {
                let hit = terms.iter().all(|(a, v)| match a {
                    Attr::DisplayName => &g.display_name == v,
                    Attr::Id => &g.id == v,
                    Attr::ExternalId => g.external_id.as_ref() == Some(v),
                    Attr::UserName => false,
                });
                if hit {
                    all.push(g);
                }
            }
        }
        let total = all.len() as i64;
        let start = page.start_index.max(1);
        let resources = all
            .iter()
            .skip(usize::try_from(start - 1).unwrap_or(0))
            .take(usize::try_from(page.count.clamp(0, 1000)).unwrap_or(0))
            .map(|g| resource(source, g))
            .collect();
        Ok(list_response(resources, total, start))
    }

    pub async fn replace_group(
        &self,
        source: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let doc = group_of(body)?;
        self.write_group(source, id, &doc, false).await
    }

    pub async fn patch_group(
        &self,
        source: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let ops = patch::parse(body)?;
        let before = {
            let mut conn = self.store.conn().await?;
            crate::store::scim_groups::one(&mut conn, source, id)
                .await?
                .ok_or(ProvisioningError::NotFound)?
        };
        let doc = patch::apply_group(
            &GroupDoc {
                display_name: before.display_name,
                external_id: before.external_id,
                members: before.members,
            },
            &ops,
        )?;
        self.write_group(source, id, &doc, false).await
    }

    pub async fn delete_group(&self, source: &str, id: &str) -> Result<(), ProvisioningError> {
        self.source(source)?;
        let mut tx = self.store.begin().await?;
        let members = crate::store::scim_groups::delete(tx.conn(), source, id)
            .await?
            .ok_or(ProvisioningError::NotFound)?;
        tx.commit().await?;
        self.move_members(source, &members).await
    }
}
