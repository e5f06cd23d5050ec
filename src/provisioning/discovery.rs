//! `/Schemas` (RFC 7643 §7): the attributes staffgate reads and returns, and no others.

use serde_json::{Value, json};

use crate::directory::scim::schemas;

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
        ],
    );
    let enterprise = schema(
        schemas::ENTERPRISE,
        "EnterpriseUser",
        vec![
            attr("employeeNumber", "string", false, "none"),
            attr("department", "string", false, "none"),
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
                ],
                true,
            ),
        ],
    );
    super::list_response(vec![user, enterprise, group], 3, 1)
}
