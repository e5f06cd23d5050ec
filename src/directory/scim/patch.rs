//! PATCH (RFC 7644 §3.5.2) as clients really send it: `op` in any case (Entra's `Replace`),
//! booleans as strings (Entra's `"False"`), a path-less `replace` whose value is an object
//! of attributes (Okta's `{"active": false}`), attributes qualified with their schema URN,
//! and group membership by `members[value eq "…"]`. A path staffgate does not know is
//! `invalidPath`; a deactivation that changes anything else at once is refused whole, so a
//! person is never offboarded under a name they were renamed from in the same request.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::user::{Email, UserDoc, boolean, emails_of, manager_of, text};
use super::{ScimError, schemas};

/// At most this many operations in one PATCH.
const MAX_OPERATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Reads a PatchOp body.
pub fn parse(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let lists_patch = body["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x == schemas::PATCH_OP));
    if !lists_patch {
        return Err(ScimError::InvalidSyntax(
            "schemas must list the PatchOp schema".into(),
        ));
    }
    let Some(ops) = body["Operations"].as_array().filter(|o| !o.is_empty()) else {
        return Err(ScimError::InvalidSyntax(
            "Operations must be a non-empty array".into(),
        ));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::InvalidSyntax("at most 100 operations".into()));
    }
    ops.iter()
        .map(|o| {
            let op = match o["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("add") => Op::Add,
                Some("replace") => Op::Replace,
                Some("remove") => Op::Remove,
                _ => {
                    return Err(ScimError::InvalidSyntax(
                        "op must be add, replace or remove".into(),
                    ));
                }
            };
            let path = match &o["path"] {
                Value::Null => None,
                Value::String(p) if p.len() <= 256 => Some(p.clone()),
                _ => return Err(ScimError::InvalidPath("path must be a string".into())),
            };
            let value = o.get("value").filter(|v| !v.is_null()).cloned();
            if op != Op::Remove && value.is_none() {
                return Err(ScimError::InvalidValue(
                    "an add or replace needs a value".into(),
                ));
            }
            if path.is_none() && op == Op::Remove {
                return Err(ScimError::InvalidPath("a remove needs a path".into()));
            }
            Ok(Operation { op, path, value })
        })
        .collect()
}

/// The enterprise extension's URN as [`user_attribute`] answers it: the whole extension.
const ENTERPRISE_LC: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user";

/// The attribute a path names, without the core or enterprise schema's URN.
fn user_attribute(path: &str) -> String {
    let p = path.trim();
    let p = p
        .strip_prefix(schemas::ENTERPRISE)
        .and_then(|r| r.strip_prefix(':'))
        .or_else(|| {
            p.strip_prefix(schemas::USER)
                .and_then(|r| r.strip_prefix(':'))
        })
        .unwrap_or(p);
    p.to_ascii_lowercase()
}

fn set_user(doc: &mut UserDoc, op: Op, path: &str, v: &Value) -> Result<(), ScimError> {
    match user_attribute(path).as_str() {
        "active" => doc.active = boolean(v, "active")?,
        "username" => {
            doc.user_name =
                text(v, "userName")?.ok_or_else(|| ScimError::InvalidValue("userName".into()))?
        }
        "externalid" => doc.external_id = text(v, "externalId")?,
        "displayname" => doc.display_name = text(v, "displayName")?,
        "name.givenname" => doc.given_name = text(v, "name.givenName")?,
        "name.familyname" => doc.family_name = text(v, "name.familyName")?,
        "name.formatted" => doc.formatted = text(v, "name.formatted")?,
        "name" => {
            let Value::Object(m) = v else {
                return Err(ScimError::InvalidValue("name".into()));
            };
            for (k, x) in m {
                set_user(doc, op, &format!("name.{k}"), x)?;
            }
        }
        "emails" if op == Op::Add => doc.emails.extend(emails_of(v)?),
        "emails" => doc.emails = emails_of(v)?,
        "emails[type eq \"work\"].value" => {
            let value =
                text(v, "emails")?.ok_or_else(|| ScimError::InvalidValue("emails".into()))?;
            match doc
                .emails
                .iter_mut()
                .find(|e| e.kind.as_deref() == Some("work"))
            {
                Some(e) => e.value = value,
                None => doc.emails.push(Email {
                    value,
                    kind: Some("work".into()),
                    primary: doc.emails.is_empty(),
                }),
            }
        }
        "emails[primary eq true].value" => {
            let value =
                text(v, "emails")?.ok_or_else(|| ScimError::InvalidValue("emails".into()))?;
            match doc.emails.iter_mut().find(|e| e.primary) {
                Some(e) => e.value = value,
                None => doc.emails.push(Email {
                    value,
                    kind: None,
                    primary: true,
                }),
            }
        }
        ENTERPRISE_LC => {
            let Value::Object(m) = v else {
                return Err(ScimError::InvalidValue(path.chars().take(64).collect()));
            };
            // A client may send the extension's object with its own `schemas` in it.
            for (k, x) in m.iter().filter(|(k, _)| k.as_str() != "schemas") {
                set_user(doc, op, k, x)?;
            }
        }
        "employeenumber" => doc.employee_number = text(v, "employeeNumber")?,
        "organization" => doc.organization = text(v, "organization")?,
        "division" => doc.division = text(v, "division")?,
        "costcenter" => doc.cost_center = text(v, "costCenter")?,
        "department" => doc.department = text(v, "department")?,
        "manager" | "manager.value" => doc.manager = manager_of(v)?,
        p if super::user::ignored::path(p) => {}
        _ => return Err(ScimError::InvalidPath(path.chars().take(64).collect())),
    }
    Ok(())
}

fn remove_user(doc: &mut UserDoc, path: &str) -> Result<(), ScimError> {
    match user_attribute(path).as_str() {
        "username" | "active" => {
            return Err(ScimError::Mutability(path.chars().take(64).collect()));
        }
        "externalid" => doc.external_id = None,
        "displayname" => doc.display_name = None,
        "name.givenname" => doc.given_name = None,
        "name.familyname" => doc.family_name = None,
        "name.formatted" => doc.formatted = None,
        "name" => (doc.given_name, doc.family_name, doc.formatted) = (None, None, None),
        "emails" => doc.emails.clear(),
        "emails[type eq \"work\"].value" | "emails[type eq \"work\"]" => {
            doc.emails.retain(|e| e.kind.as_deref() != Some("work"))
        }
        ENTERPRISE_LC => {
            (doc.employee_number, doc.department, doc.manager) = (None, None, None);
            (doc.organization, doc.division, doc.cost_center) = (None, None, None);
        }
        "employeenumber" => doc.employee_number = None,
        "organization" => doc.organization = None,
        "division" => doc.division = None,
        "costcenter" => doc.cost_center = None,
        "department" => doc.department = None,
        "manager" | "manager.value" => doc.manager = None,
        p if super::user::ignored::path(p) => {}
        _ => return Err(ScimError::InvalidPath(path.chars().take(64).collect())),
    }
    Ok(())
}

/// A path-less add or replace: each key of the object is a path (Okta's `{"active": false}`;
/// an enterprise extension's object spreads into its attributes).
fn each_attribute(value: &Value) -> Result<Vec<(String, &Value)>, ScimError> {
    let Value::Object(m) = value else {
        return Err(ScimError::InvalidValue(
            "a path-less operation needs an object".into(),
        ));
    };
    let mut out = Vec::new();
    for (k, v) in m {
        match (k.as_str(), v) {
            (schemas::ENTERPRISE, Value::Object(inner)) => {
                out.extend(inner.iter().map(|(ik, iv)| (ik.clone(), iv)));
            }
            _ => out.push((k.clone(), v)),
        }
    }
    Ok(out)
}

/// Applies a PATCH to a User; the result, or why nothing at all is applied.
pub fn apply_user(doc: &UserDoc, ops: &[Operation]) -> Result<UserDoc, ScimError> {
    let mut next = doc.clone();
    for o in ops {
        match (o.op, &o.path, &o.value) {
            (Op::Remove, Some(p), _) => remove_user(&mut next, p)?,
            (op, Some(p), Some(v)) => set_user(&mut next, op, p, v)?,
            (op, None, Some(v)) => {
                for (k, x) in each_attribute(v)? {
                    set_user(&mut next, op, &k, x)?;
                }
            }
            _ => {
                return Err(ScimError::InvalidSyntax(
                    "operation without a target".into(),
                ));
            }
        }
    }
    if doc.active
        && !next.active
        && (UserDoc {
            active: true,
            ..next.clone()
        }) != *doc
    {
        return Err(ScimError::DeactivateAlone);
    }
    Ok(next)
}

/// A Group, as far as staffgate reads one: its name and its members' ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupDoc {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: BTreeSet<String>,
}

/// The member ids of a `members` value: `[{"value": "id"}, …]`.
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let items = match v {
        Value::Array(a) => a.as_slice(),
        Value::Object(_) => std::slice::from_ref(v),
        _ => return Err(ScimError::InvalidValue("members".into())),
    };
    items
        .iter()
        .map(|m| match &m["value"] {
            Value::String(s) if !s.is_empty() && s.len() <= 128 => Ok(s.clone()),
            _ => Err(ScimError::InvalidValue("members".into())),
        })
        .collect()
}

/// `members[value eq "<id>"]`, as Entra and Okta remove one member.
fn member_filter(path: &str) -> Option<Result<String, ScimError>> {
    let inner = path.trim().strip_prefix("members[")?.strip_suffix(']')?;
    let (attr, rest) = inner.trim().split_once(char::is_whitespace)?;
    if !attr.eq_ignore_ascii_case("value") {
        return Some(Err(ScimError::InvalidPath(
            "members[value eq \"…\"] only".into(),
        )));
    }
    // The filter grammar reads `id eq "…"`: the member's value is its id.
    let parsed = super::filter::parse(&format!("id {rest}"));
    Some(match parsed.as_deref() {
        Ok([(super::filter::Attr::Id, id)]) => Ok(id.clone()),
        _ => Err(ScimError::InvalidPath(
            "members[value eq \"…\"] only".into(),
        )),
    })
}

fn set_group(doc: &mut GroupDoc, op: Op, path: &str, v: &Value) -> Result<(), ScimError> {
    match path.trim().to_ascii_lowercase().as_str() {
        "displayname" => {
            doc.display_name = text(v, "displayName")?
                .ok_or_else(|| ScimError::InvalidValue("displayName".into()))?
        }
        "externalid" => doc.external_id = text(v, "externalId")?,
        "members" => {
            let ids = member_ids(v)?;
            if op == Op::Replace {
                doc.members.clear();
            }
            doc.members.extend(ids);
        }
        _ => return Err(ScimError::InvalidPath(path.chars().take(64).collect())),
    }
    Ok(())
}

/// Applies a PATCH to a Group.
pub fn apply_group(doc: &GroupDoc, ops: &[Operation]) -> Result<GroupDoc, ScimError> {
    let mut next = doc.clone();
    for o in ops {
        match (o.op, o.path.as_deref(), &o.value) {
            (Op::Remove, Some(p), value) => {
                if let Some(one) = member_filter(p) {
                    next.members.remove(&one?);
                } else if p.trim().eq_ignore_ascii_case("members") {
                    // Entra removes members by value; no value removes them all.
                    match value {
                        Some(v) => member_ids(v)?.iter().for_each(|id| {
                            next.members.remove(id);
                        }),
                        None => next.members.clear(),
                    }
                } else {
                    return Err(ScimError::InvalidPath(p.chars().take(64).collect()));
                }
            }
            (op, Some(p), Some(v)) => set_group(&mut next, op, p, v)?,
            (op, None, Some(Value::Object(m))) => {
                for (k, x) in m as &Map<String, Value> {
                    set_group(&mut next, op, k, x)?;
                }
            }
            _ => {
                return Err(ScimError::InvalidValue(
                    "a path-less operation needs an object".into(),
                ));
            }
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests;
