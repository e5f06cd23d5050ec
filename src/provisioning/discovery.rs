//! `/Schemas` (RFC 7643 §7): the attributes staffgate reads and returns, and the rest of the
//! core User attributes as accepted but not kept (`writeOnly`, `returned: never`): clients
//! that build their models from this document (scim2-client, Canaille) send them.

use serde_json::{Value, json};

use crate::directory::scim::schemas;
use crate::directory::scim::user::ignored;

fn attr(name: &str, kind: &str, required: bool, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": "readWrite", "returned": "default",
        "uniqueness": uniqueness, "description": name,
    })
}

fn complex(name: &str, sub: Vec<Value>, multi: bool) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": multi, "required": false,
        "mutability": "readWrite", "returned": "default", "subAttributes": sub, "description": name,
    })
}

/// An attribute staffgate accepts in a request and ignores.
fn ignored(name: &str, kind: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": false,
        "caseExact": false, "mutability": "writeOnly", "returned": "never",
        "uniqueness": "none", "description": format!("{name}: accepted, not kept"),
    })
}

/// A multi-valued complex attribute staffgate accepts and ignores.
fn ignored_list(name: &str, sub: &[&str]) -> Value {
    json!({
        "name": name, "type": "complex", "multiValued": true, "required": false,
        "mutability": "writeOnly", "returned": "never", "description": format!("{name}: accepted, not kept"),
        "subAttributes": sub.iter().map(|s| match *s {
            "primary" => ignored(s, "boolean"),
            _ => ignored(s, "string"),
        }).collect::<Vec<_>>(),
    })
}

/// The core User attributes (RFC 7643 §4.1) staffgate does not keep.
fn ignored_user_attributes() -> Vec<Value> {
    let mut all: Vec<Value> = ignored::STRINGS
        .iter()
        .map(|n| ignored(n, "string"))
        .collect();
    for list in ignored::LISTS {
        let sub: &[&str] = match *list {
            "addresses" => &[
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary",
            ],
            _ => &["value", "display", "type", "primary"],
        };
        all.push(ignored_list(list, sub));
    }
    let group_refs: Vec<Value> = ["value", "$ref", "display", "type"]
        .iter()
        .map(|s| ignored(s, "string"))
        .collect();
    all.push(json!({
        "name": "groups", "type": "complex", "multiValued": true, "required": false,
        "mutability": "readOnly", "returned": "never",
        "description": "groups: set through Groups, not returned on the user",
        "subAttributes": group_refs,
    }));
    all
}

fn schema(id: &str, name: &str, attributes: Vec<Value>) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id, "name": name, "description": name, "attributes": attributes,
        "meta": { "resourceType": "Schema", "location": format!("/Schemas/{id}") },
    })
}

/// The list of schemas, as a ListResponse.
pub fn schemas_document() -> Value {
    let user = schema(
        schemas::USER,
        "User",
        vec![
            attr("userName", "string", true, "server"),
            attr("externalId", "string", false, "none"),
            attr("displayName", "string", false, "none"),
            attr("active", "boolean", false, "none"),
            complex(
                "name",
                vec![
                    attr("givenName", "string", false, "none"),
                    attr("familyName", "string", false, "none"),
                    attr("formatted", "string", false, "none"),
                ],
                false,
            ),
            complex(
                "emails",
                vec![
                    attr("value", "string", false, "none"),
                    attr("type", "string", false, "none"),
                    attr("primary", "boolean", false, "none"),
                ],
                true,
            ),
        ]
        .into_iter()
        .chain(ignored_user_attributes())
        .collect(),
    );
    let enterprise = schema(
        schemas::ENTERPRISE,
        "EnterpriseUser",
        vec![
            attr("employeeNumber", "string", false, "none"),
            attr("department", "string", false, "none"),
            attr("organization", "string", false, "none"),
            attr("division", "string", false, "none"),
            attr("costCenter", "string", false, "none"),
            complex(
                "manager",
                vec![attr("value", "string", false, "none")],
                false,
            ),
        ],
    );
    let group = schema(
        schemas::GROUP,
        "Group",
        vec![
            attr("displayName", "string", true, "server"),
            attr("externalId", "string", false, "none"),
            complex(
                "members",
                vec![
                    attr("value", "string", false, "none"),
                    attr("type", "string", false, "none"),
                    ignored("display", "string"),
                    ignored("$ref", "string"),
                ],
                true,
            ),
        ],
    );
    super::list_response(vec![user, enterprise, group], 3, 1)
}
