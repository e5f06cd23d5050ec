//! A provider's list answers (RFC 7644 §3.4.2), read as hostile input: each page's users and
//! groups, what could not be used and why, and where the next page starts.

use serde_json::Value;

use super::user::{UserDoc, text};
use super::{ScimError, schemas};
use crate::directory::person::Skipped;
use crate::domain::names::GroupName;

/// A user as the provider lists it: the provider's id and what staffgate keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledUser {
    pub id: String,
    pub doc: UserDoc,
}

/// A group as the provider lists it: its name and its members' provider ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledGroup {
    pub name: GroupName,
    pub members: Vec<String>,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub skipped: Vec<Skipped>,
    /// How many resources this page held, used or not.
    pub returned: usize,
    pub total: u64,
}

impl<T> Page<T> {
    /// The `startIndex` of the next page, or none when this was the last.
    pub fn next(&self, start: u64) -> Option<u64> {
        let next = start + self.returned as u64;
        (self.returned > 0 && next <= self.total).then_some(next)
    }
}

fn resources(body: &Value) -> Result<(&[Value], u64), ScimError> {
    let bad = |why: &str| ScimError::InvalidSyntax(why.to_owned());
    let listed = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == schemas::LIST));
    if !listed {
        return Err(bad("the answer is not a SCIM ListResponse"));
    }
    let total = body["totalResults"]
        .as_u64()
        .ok_or_else(|| bad("totalResults is missing"))?;
    match &body["Resources"] {
        Value::Null => Ok((&[], total)),
        Value::Array(items) => Ok((items.as_slice(), total)),
        _ => Err(bad("Resources is not a list")),
    }
}

fn skipped(item: &Value, index: usize, e: &ScimError) -> Skipped {
    let dn = match text(&item["id"], "id") {
        Ok(Some(id)) => format!("scim:{id}"),
        _ => format!("entry {index} of the page"),
    };
    Skipped {
        dn,
        reason: e.to_string(),
    }
}

fn page<T>(
    body: &Value,
    read: impl Fn(&Value) -> Result<T, ScimError>,
) -> Result<Page<T>, ScimError> {
    let (items, total) = resources(body)?;
    let mut page = Page {
        items: Vec::new(),
        skipped: Vec::new(),
        returned: items.len(),
        total,
    };
    for (i, item) in items.iter().enumerate() {
        match read(item) {
            Ok(v) => page.items.push(v),
            Err(e) => page.skipped.push(skipped(item, i, &e)),
        }
    }
    Ok(page)
}

/// A User resource from a provider: extension schemas staffgate does not read are left
/// out rather than refused (a provider lists its own), everything else is read as a push.
pub fn user(item: &Value) -> Result<PulledUser, ScimError> {
    let id = text(&item["id"], "id")?.ok_or_else(|| ScimError::InvalidValue("id".into()))?;
    let mut item = item.clone();
    if let Some(list) = item["schemas"].as_array_mut() {
        list.retain(|s| s == schemas::USER || s == schemas::ENTERPRISE);
    }
    Ok(PulledUser {
        id,
        doc: UserDoc::from_resource(&item)?,
    })
}

/// A Group resource: its displayName and the ids of its user members.
pub fn group(item: &Value) -> Result<PulledGroup, ScimError> {
    let display = text(&item["displayName"], "displayName")?
        .ok_or_else(|| ScimError::InvalidValue("displayName".into()))?;
    let name =
        GroupName::parse(&display).map_err(|_| ScimError::InvalidValue("displayName".into()))?;
    let members = match &item["members"] {
        Value::Null => Vec::new(),
        Value::Array(list) => list
            .iter()
            .filter(|m| m["type"].is_null() || m["type"] == "User")
            .map(|m| text(&m["value"], "members"))
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?,
        _ => return Err(ScimError::InvalidValue("members".into())),
    };
    Ok(PulledGroup { name, members })
}

pub fn users_page(body: &Value) -> Result<Page<PulledUser>, ScimError> {
    page(body, user)
}

pub fn groups_page(body: &Value) -> Result<Page<PulledGroup>, ScimError> {
    page(body, group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(resources: Value, total: u64) -> Value {
        json!({ "schemas": [schemas::LIST], "totalResults": total, "Resources": resources })
    }

    #[test]
    fn a_page_keeps_good_users_and_says_why_the_others_were_skipped() {
        let body = list(
            json!([
                { "schemas": [schemas::USER, "urn:okta:custom:1.0"], "id": "u1", "userName": "alice@example.com", "active": false },
                { "schemas": [schemas::USER], "id": "u2", "userName": "bad name\u{0007}" },
                { "schemas": [schemas::USER], "userName": "no-id" },
            ]),
            3,
        );
        let page = users_page(&body).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].id, "u1");
        assert!(!page.items[0].doc.active);
        let dns: Vec<&str> = page.skipped.iter().map(|s| s.dn.as_str()).collect();
        assert_eq!(dns, ["scim:u2", "entry 2 of the page"]);
        assert_eq!(page.next(1), None);
    }

    #[test]
    fn paging_stops_at_the_total_or_at_an_empty_page() {
        let page = users_page(&list(
            json!([{ "schemas": [schemas::USER], "id": "a", "userName": "a" }]),
            5,
        ))
        .unwrap();
        assert_eq!(page.next(1), Some(2));
        assert_eq!(page.next(5), None);
        let empty = users_page(&list(Value::Null, 9)).unwrap();
        assert_eq!(empty.next(1), None);
    }

    #[test]
    fn an_answer_that_is_not_a_list_is_refused() {
        assert!(users_page(&json!({ "Resources": [] })).is_err());
        assert!(users_page(&json!({ "schemas": [schemas::LIST], "Resources": [] })).is_err());
        assert!(
            users_page(&json!({ "schemas": [schemas::LIST], "totalResults": 1, "Resources": {} }))
                .is_err()
        );
    }

    #[test]
    fn groups_keep_user_members_only() {
        let g = group(&json!({
            "displayName": "support",
            "members": [{ "value": "u1" }, { "value": "g9", "type": "Group" }, { "value": "u2", "type": "User" }]
        }))
        .unwrap();
        assert_eq!(g.members, ["u1", "u2"]);
        assert!(group(&json!({ "displayName": "x", "members": "u1" })).is_err());
    }
}
