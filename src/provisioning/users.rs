//! `/Users`: create, read, list with a filter, replace, patch, delete.

use serde_json::Value;

use super::{Page, Provisioning, ProvisioningError, list_response, meta, new_id};
use crate::audit::Actor;
use crate::directory::scim::filter::{self, Attr};
use crate::directory::scim::user::UserDoc;
use crate::directory::scim::{ScimError, patch};
use crate::domain::names::GroupName;
use crate::domain::time::now_millis;
use crate::principal::HrPermit;
use crate::store::scim::{UserQuery, UserRow, UserWrite};

fn doc_of(row: &UserRow) -> Result<UserDoc, ProvisioningError> {
    serde_json::from_str(&row.doc).map_err(|e| ProvisioningError::Apply(e.to_string()))
}

impl Provisioning {
    fn resource(&self, source: &str, row: &UserRow, doc: &UserDoc) -> Value {
        doc.to_resource(
            &row.id,
            meta(
                "User",
                source,
                &row.id,
                row.created_at,
                row.updated_at,
                row.version,
            ),
        )
    }

    /// The person `doc` describes, with the groups the source has them in.
    pub(super) async fn person_of(
        &self,
        source: &str,
        id: &str,
        doc: &UserDoc,
    ) -> Result<crate::directory::person::DirectoryPerson, ProvisioningError> {
        let mut conn = self.store.conn().await?;
        let groups = crate::store::scim::groups_of(&mut conn, source, id)
            .await?
            .into_iter()
            .filter_map(|(_, name)| GroupName::parse(&name).ok())
            .collect();
        Ok(doc.to_person(id, groups)?)
    }

    /// Refuses a userName that another live user of this source, or a person of another
    /// source, already has: nobody is attached across sources. Answers whether this write
    /// re-activates an offboarded person (a rehire).
    async fn check_unique(
        &self,
        conn: &mut sqlx::AnyConnection,
        source: &str,
        id: Option<&str>,
        doc: &UserDoc,
    ) -> Result<bool, ProvisioningError> {
        let lower = doc.user_name.to_lowercase();
        if let Some(holder) = crate::store::scim::user_named(conn, source, &lower).await?
            && Some(holder.as_str()) != id
        {
            return Err(ScimError::Uniqueness(doc.user_name.clone()).into());
        }
        let username = doc.username()?;
        if let Some(member) = crate::store::staff::find(conn, &username).await? {
            let (_, origin) = crate::store::staff::find_by_id(conn, member.id)
                .await?
                .ok_or(ProvisioningError::NotFound)?;
            let mine = format!("scim:{source}");
            if origin.source != mine || (id.is_some() && origin.external_id.as_deref() != id) {
                return Err(ScimError::Uniqueness(doc.user_name.clone()).into());
            }
            return Ok(
                member.status == crate::domain::staff::StaffStatus::Offboarded && doc.active,
            );
        }
        Ok(false)
    }

    /// A rehire through the source: HR's reinstatement, where the deployment trusts the
    /// source with it; no old token or session revives.
    async fn rehire(&self, source: &str, doc: &UserDoc) -> Result<(), ProvisioningError> {
        let permit = HrPermit::delegated_to_source(Actor(format!("scim:{source}")));
        let reason = format!("re-activated by the identity provider of scim:{source}");
        self.syncer
            .offboarding
            .reinstate(&permit, &doc.username()?, &reason)
            .await
            .map_err(|e| ProvisioningError::Apply(e.to_string()))?;
        Ok(())
    }

    /// Stores `doc` as user `id` (new or not), then converges the person.
    async fn write_user(
        &self,
        source: &str,
        id: &str,
        doc: &UserDoc,
        new: bool,
    ) -> Result<Value, ProvisioningError> {
        let text =
            serde_json::to_string(doc).map_err(|e| ProvisioningError::Apply(e.to_string()))?;
        let lower = doc.user_name.to_lowercase();
        let write = UserWrite {
            source,
            id,
            doc: &text,
            user_name: &lower,
            external_id: doc.external_id.as_deref(),
            active: doc.active,
            now: now_millis(),
        };
        let mut tx = self.store.begin().await?;
        let rehire = self
            .check_unique(tx.conn(), source, (!new).then_some(id), doc)
            .await?;
        if rehire && !self.source(source)?.reinstate {
            return Err(ProvisioningError::Offboarded(doc.user_name.clone()));
        }
        if new {
            crate::store::scim::insert_user(tx.conn(), &write).await?;
        } else if !crate::store::scim::update_user(tx.conn(), &write).await? {
            return Err(ProvisioningError::NotFound);
        }
        tx.commit().await?;
        if rehire {
            self.rehire(source, doc).await?;
        }
        let person = self.person_of(source, id, doc).await?;
        self.converge(source, vec![person]).await?;
        self.get_user(source, id).await
    }

    pub async fn create_user(
        &self,
        source: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let doc = UserDoc::from_resource(body)?;
        let id = new_id()?;
        self.write_user(source, &id, &doc, true).await
    }

    pub async fn get_user(&self, source: &str, id: &str) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let mut conn = self.store.conn().await?;
        let row = crate::store::scim::user(&mut conn, source, id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or(ProvisioningError::NotFound)?;
        Ok(self.resource(source, &row, &doc_of(&row)?))
    }

    pub async fn list_users(
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
        let mut q = UserQuery {
            source,
            user_name: None,
            external_id: None,
            id: None,
            offset: page.start_index.max(1) - 1,
            limit: page.count.clamp(0, 1000),
        };
        let lowered: Vec<(Attr, String)> = terms
            .into_iter()
            .map(|(a, v)| {
                if a == Attr::UserName {
                    (a, v.to_lowercase())
                } else {
                    (a, v)
                }
            })
            .collect();
        let mut display = None;
        for (attr, value) in &lowered {
            match attr {
                Attr::UserName => q.user_name = Some(value),
                Attr::ExternalId => q.external_id = Some(value),
                Attr::Id => q.id = Some(value),
                Attr::DisplayName => display = Some(value.as_str()),
            }
        }
        let (rows, total) = crate::store::scim::users(self.store.pool(), &q).await?;
        let mut resources = Vec::with_capacity(rows.len());
        for row in &rows {
            let doc = doc_of(row)?;
            if display.is_none_or(|d| doc.display_name.as_deref() == Some(d)) {
                resources.push(self.resource(source, row, &doc));
            }
        }
        let total = if display.is_some() {
            resources.len() as i64
        } else {
            total
        };
        Ok(list_response(resources, total, page.start_index.max(1)))
    }

    pub async fn replace_user(
        &self,
        source: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let before = self.current(source, id).await?;
        let doc = UserDoc::from_resource(body)?;
        if before.active
            && !doc.active
            && (UserDoc {
                active: true,
                ..doc.clone()
            }) != before
        {
            // A PUT that deactivates carries the whole user: only what staffgate keeps
            // counts, and a deactivation is still applied alone.
            self.write_user(
                source,
                id,
                &UserDoc {
                    active: false,
                    ..before
                },
                false,
            )
            .await?;
        }
        self.write_user(source, id, &doc, false).await
    }

    async fn current(&self, source: &str, id: &str) -> Result<UserDoc, ProvisioningError> {
        let mut conn = self.store.conn().await?;
        let row = crate::store::scim::user(&mut conn, source, id)
            .await?
            .filter(|r| !r.deleted)
            .ok_or(ProvisioningError::NotFound)?;
        doc_of(&row)
    }

    pub async fn patch_user(
        &self,
        source: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, ProvisioningError> {
        self.source(source)?;
        let ops = patch::parse(body)?;
        let before = self.current(source, id).await?;
        let doc = patch::apply_user(&before, &ops)?;
        self.write_user(source, id, &doc, false).await
    }

    pub async fn delete_user(&self, source: &str, id: &str) -> Result<(), ProvisioningError> {
        self.source(source)?;
        let before = self.current(source, id).await?;
        let mut tx = self.store.begin().await?;
        if !crate::store::scim::delete_user(tx.conn(), source, id, now_millis()).await? {
            return Err(ProvisioningError::NotFound);
        }
        tx.commit().await?;
        let mut person = before.to_person(id, Vec::new())?;
        person.disabled = Some(crate::directory::scim::leavers::DELETED.to_owned());
        self.converge(source, vec![person]).await
    }
}
