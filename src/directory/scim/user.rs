//! The SCIM User (core schema and the enterprise extension) as staffgate keeps it, read from
//! a POST or PUT body, written back as a resource, and handed to the directory path as a
//! person. `active: false` is a leaver whose rule names SCIM.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ScimError, schemas};
use crate::directory::person::DirectoryPerson;
use crate::domain::Username;
use crate::domain::names::GroupName;
use crate::domain::staff::Attributes;

/// The leaver rule of a SCIM deactivation.
pub const DEACTIVATED: &str = "SCIM: active is false";

/// One of a user's addresses, kept as the provider sent it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// At most this many addresses per user.
const MAX_EMAILS: usize = 20;

/// A User, as far as staffgate reads one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserDoc {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted: Option<String>,
    pub emails: Vec<Email>,
    pub active: bool,
    pub employee_number: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    #[serde(default)]
    pub division: Option<String>,
    #[serde(default)]
    pub cost_center: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
}

/// Core User attributes staffgate accepts and does not keep (RFC 7643 §4.1): the schema
/// declares them `writeOnly` and never returned, and a PATCH of one changes nothing.
pub mod ignored {
    pub const STRINGS: &[&str] = &[
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "password",
    ];
    pub const LISTS: &[&str] = &[
        "phoneNumbers",
        "ims",
        "photos",
        "entitlements",
        "roles",
        "x509Certificates",
        "addresses",
    ];

    /// Whether a lower-cased PATCH path names one of them (or a part of one).
    pub fn path(lower: &str) -> bool {
        let root = lower.split(['[', '.']).next().unwrap_or(lower);
        let is = |list: &[&str], p: &str| list.iter().any(|a| a.eq_ignore_ascii_case(p));
        is(STRINGS, root) || is(LISTS, root)
    }
}

const MAX_TEXT: usize = 256;

/// A string attribute: at most 256 characters, no control characters.
pub(super) fn text(v: &Value, what: &str) -> Result<Option<String>, ScimError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= MAX_TEXT && !s.chars().any(char::is_control) => {
            Ok((!s.trim().is_empty()).then(|| s.trim().to_owned()))
        }
        _ => Err(ScimError::InvalidValue(what.to_owned())),
    }
}

/// A boolean as clients send it: `false`, or Entra's `"False"`.
pub(super) fn boolean(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::InvalidValue(what.to_owned())),
    }
}

/// An `emails` value: an array of `{value, type?, primary?}` (or one such object).
pub(super) fn emails_of(v: &Value) -> Result<Vec<Email>, ScimError> {
    let bad = || ScimError::InvalidValue("emails".into());
    let items = match v {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(v),
        _ => return Err(bad()),
    };
    if items.len() > MAX_EMAILS {
        return Err(bad());
    }
    items
        .iter()
        .map(|e| {
            Ok(Email {
                value: text(&e["value"], "emails")?.ok_or_else(bad)?,
                kind: text(&e["type"], "emails")?,
                primary: match &e["primary"] {
                    Value::Null => false,
                    p => boolean(p, "emails")?,
                },
            })
        })
        .collect()
}

/// The manager's id: a string, or `{ "value": … }`.
pub(super) fn manager_of(v: &Value) -> Result<Option<String>, ScimError> {
    match v {
        Value::Object(m) => text(m.get("value").unwrap_or(&Value::Null), "manager"),
        other => text(other, "manager"),
    }
}

fn check_schemas(body: &Map<String, Value>) -> Result<(), ScimError> {
    let Some(Value::Array(list)) = body.get("schemas") else {
        return Err(ScimError::InvalidSyntax(
            "schemas must list the User schema".into(),
        ));
    };
    let mut core = false;
    for s in list {
        match s.as_str() {
            Some(schemas::USER) => core = true,
            Some(schemas::ENTERPRISE) => {}
            _ => return Err(ScimError::InvalidValue("schemas".into())),
        }
    }
    if core {
        Ok(())
    } else {
        Err(ScimError::InvalidSyntax(
            "schemas must list the User schema".into(),
        ))
    }
}

impl UserDoc {
    /// Reads a POST or PUT body. Attributes staffgate does not keep are ignored; unknown
    /// schemas and malformed values are refused.
    pub fn from_resource(body: &Value) -> Result<UserDoc, ScimError> {
        let Value::Object(body) = body else {
            return Err(ScimError::InvalidSyntax("a User is a JSON object".into()));
        };
        check_schemas(body)?;
        let get = |k: &str| body.get(k).unwrap_or(&Value::Null);
        let user_name = text(get("userName"), "userName")?
            .ok_or_else(|| ScimError::InvalidValue("userName".into()))?;
        let name = get("name");
        let ext = get(schemas::ENTERPRISE);
        let active = match get("active") {
            Value::Null => true,
            v => boolean(v, "active")?,
        };
        Ok(UserDoc {
            user_name,
            external_id: text(get("externalId"), "externalId")?,
            display_name: text(get("displayName"), "displayName")?,
            given_name: text(&name["givenName"], "name.givenName")?,
            family_name: text(&name["familyName"], "name.familyName")?,
            formatted: text(&name["formatted"], "name.formatted")?,
            emails: match get("emails") {
                Value::Null => Vec::new(),
                v => emails_of(v)?,
            },
            active,
            employee_number: text(&ext["employeeNumber"], "employeeNumber")?,
            organization: text(&ext["organization"], "organization")?,
            division: text(&ext["division"], "division")?,
            cost_center: text(&ext["costCenter"], "costCenter")?,
            department: text(&ext["department"], "department")?,
            manager: manager_of(&ext["manager"])?,
        })
    }

    /// The address staffgate mails: the primary one, else the work one, else the first.
    pub fn email(&self) -> Option<&str> {
        let e = &self.emails;
        e.iter()
            .find(|e| e.primary)
            .or_else(|| e.iter().find(|e| e.kind.as_deref() == Some("work")))
            .or_else(|| e.first())
            .map(|e| e.value.as_str())
    }

    /// The staffgate username: the part of `userName` before any `@`, lower-cased.
    pub fn username(&self) -> Result<Username, ScimError> {
        let local = self
            .user_name
            .split('@')
            .next()
            .unwrap_or("")
            .to_lowercase();
        Username::parse(&local).map_err(|_| ScimError::InvalidValue("userName".into()))
    }

    /// The name people read: displayName, else the formatted name, else given and family.
    pub fn shown_name(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.formatted.clone())
            .or_else(|| {
                let parts: Vec<&str> = [&self.given_name, &self.family_name]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                (!parts.is_empty()).then(|| parts.join(" "))
            })
            .unwrap_or_else(|| self.user_name.clone())
    }

    /// The person the directory path sees. `id` is staffgate's id of the resource (stable
    /// across renames); `groups` are the names of the SCIM groups the user is a member of.
    pub fn to_person(
        &self,
        id: &str,
        groups: Vec<GroupName>,
    ) -> Result<DirectoryPerson, ScimError> {
        let mut attributes = Attributes::new();
        for (tag, value) in [
            ("department", &self.department),
            ("employee_number", &self.employee_number),
            ("organization", &self.organization),
            ("division", &self.division),
            ("cost_center", &self.cost_center),
            ("manager", &self.manager),
        ] {
            if let Some(v) = value {
                attributes.insert(tag.to_owned(), vec![v.clone()]);
            }
        }
        Ok(DirectoryPerson {
            username: self.username()?,
            email: self.email().unwrap_or_default().to_owned(),
            name: self.shown_name(),
            groups,
            attributes,
            dn: format!("scim:{id}"),
            external_id: Some(id.to_owned()),
            disabled: (!self.active).then(|| DEACTIVATED.to_owned()),
            expires_at: None,
        })
    }

    /// The resource as the client reads it back.
    pub fn to_resource(&self, id: &str, meta: Value) -> Value {
        let mut v = json!({
            "schemas": [schemas::USER, schemas::ENTERPRISE],
            "id": id,
            "userName": self.user_name,
            "active": self.active,
            "name": {},
            schemas::ENTERPRISE: {},
            "meta": meta,
        });
        let set = |v: &mut Value, k: &str, x: &Option<String>| {
            if let Some(x) = x {
                v[k] = json!(x);
            }
        };
        set(&mut v, "externalId", &self.external_id);
        set(&mut v, "displayName", &self.display_name);
        set(&mut v["name"], "givenName", &self.given_name);
        set(&mut v["name"], "familyName", &self.family_name);
        set(&mut v["name"], "formatted", &self.formatted);
        if !self.emails.is_empty() {
            v["emails"] = self
                .emails
                .iter()
                .map(|e| {
                    let mut m = json!({ "value": e.value, "primary": e.primary });
                    if let Some(k) = &e.kind {
                        m["type"] = json!(k);
                    }
                    m
                })
                .collect();
        }
        let ext = &mut v[schemas::ENTERPRISE];
        set(ext, "employeeNumber", &self.employee_number);
        set(ext, "organization", &self.organization);
        set(ext, "division", &self.division);
        set(ext, "costCenter", &self.cost_center);
        set(ext, "department", &self.department);
        if let Some(m) = &self.manager {
            ext["manager"] = json!({ "value": m });
        }
        // An attribute with no value is left out, not sent as `{}`.
        if let Value::Object(m) = &mut v {
            m.retain(|_, x| x.as_object().is_none_or(|o| !o.is_empty()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra_create() -> Value {
        // Entra's documented create request, as its provisioning service sends it.
        json!({
            "schemas": [schemas::USER, schemas::ENTERPRISE],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@example.com",
            "active": true,
            "emails": [{ "primary": true, "type": "work", "value": "Test_User_fd0ea19b@example.com" }],
            "meta": { "resourceType": "User" },
            "name": { "formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName" },
            "roles": [],
            schemas::ENTERPRISE: { "department": "Support", "employeeNumber": "1042", "manager": { "value": "boss" } }
        })
    }

    #[test]
    fn entras_create_is_read_and_becomes_a_person() {
        let doc = UserDoc::from_resource(&entra_create()).unwrap();
        assert!(doc.active);
        assert_eq!(doc.email(), Some("Test_User_fd0ea19b@example.com"));
        assert_eq!(doc.manager.as_deref(), Some("boss"));
        let p = doc.to_person("u-1", vec![]).unwrap();
        assert_eq!(
            p.username.as_str(),
            "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
        );
        assert_eq!(p.name, "givenName familyName");
        assert_eq!(p.external_id.as_deref(), Some("u-1"));
        assert_eq!(p.attributes["department"], vec!["Support".to_owned()]);
        assert_eq!(p.disabled, None);
        let back = doc.to_resource("u-1", json!({}));
        assert_eq!(UserDoc::from_resource(&back).unwrap(), doc, "{back}");
    }

    #[test]
    fn inactive_is_a_leaver_and_bad_bodies_are_refused() {
        let mut body = entra_create();
        body["active"] = json!("False");
        let doc = UserDoc::from_resource(&body).unwrap();
        assert_eq!(
            doc.to_person("u", vec![]).unwrap().disabled.as_deref(),
            Some(DEACTIVATED)
        );
        let refused = |f: &dyn Fn(&mut Value)| {
            let mut b = entra_create();
            f(&mut b);
            UserDoc::from_resource(&b).unwrap_err()
        };
        assert!(matches!(
            refused(&|b| b["schemas"] = json!(["urn:evil"])),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| b["schemas"] = json!([schemas::GROUP])),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| {
                b.as_object_mut().unwrap().remove("schemas");
            }),
            ScimError::InvalidSyntax(_)
        ));
        assert!(matches!(
            refused(&|b| b["userName"] = json!("")),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| b["userName"] = json!(7)),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| b["active"] = json!("maybe")),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| b["displayName"] = json!("x".repeat(300))),
            ScimError::InvalidValue(_)
        ));
        assert!(matches!(
            refused(&|b| b["displayName"] = json!("a\u{0}b")),
            ScimError::InvalidValue(_)
        ));
        let doc = UserDoc {
            user_name: "../etc".into(),
            ..UserDoc::default()
        };
        assert!(doc.to_person("u", vec![]).is_err());
    }
}
