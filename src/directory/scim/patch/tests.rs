//! The bodies Entra ID and Okta document for their provisioning, and the RFC's own.

use serde_json::json;

use super::*;

fn alice() -> UserDoc {
    UserDoc {
        user_name: "alice@example.com".into(),
        display_name: Some("Alice".into()),
        active: true,
        ..UserDoc::default()
    }
}

fn patch(ops: Value) -> Vec<Operation> {
    parse(&json!({ "schemas": [schemas::PATCH_OP], "Operations": ops })).unwrap()
}

#[test]
fn every_deactivation_shape_clients_send_deactivates() {
    for ops in [
        // RFC 7644: replace of active with a boolean.
        json!([{ "op": "replace", "path": "active", "value": false }]),
        // Entra's default: capitalised op, a string boolean.
        json!([{ "op": "Replace", "path": "active", "value": "False" }]),
        // Okta: a path-less replace whose value holds the attribute.
        json!([{ "op": "replace", "value": { "active": false } }]),
        // The attribute qualified with its schema.
        json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": false }]),
    ] {
        let next = apply_user(&alice(), &patch(ops.clone())).unwrap();
        assert!(!next.active, "{ops}");
        assert_eq!(next.user_name, "alice@example.com");
    }
}

#[test]
fn entras_attribute_updates_apply() {
    let ops = patch(json!([
        { "op": "Replace", "path": "displayName", "value": "Alice Liddell" },
        { "op": "Add", "path": "emails[type eq \"work\"].value", "value": "alice@new.example.com" },
        { "op": "Replace", "path": "name.familyName", "value": "Liddell" },
        { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Care" },
        { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "boss-id" },
        { "op": "Remove", "path": "externalId" }
    ]));
    let next = apply_user(&alice(), &ops).unwrap();
    assert_eq!(next.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(next.email(), Some("alice@new.example.com"));
    assert_eq!(next.family_name.as_deref(), Some("Liddell"));
    assert_eq!(next.department.as_deref(), Some("Care"));
    assert_eq!(next.manager.as_deref(), Some("boss-id"));
    assert!(next.active);
    // Okta's path-less replace of several attributes, the extension's object spread.
    let ops = patch(json!([{ "op": "replace", "value": {
        "displayName": "A. L.", "name": { "givenName": "Alice" },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "7" }
    } }]));
    let next = apply_user(&alice(), &ops).unwrap();
    assert_eq!(next.given_name.as_deref(), Some("Alice"));
    assert_eq!(next.employee_number.as_deref(), Some("7"));
}

#[test]
fn a_deactivation_with_anything_else_is_refused_whole() {
    let ops = patch(json!([
        { "op": "replace", "path": "userName", "value": "mallory@example.com" },
        { "op": "replace", "path": "active", "value": false }
    ]));
    assert_eq!(apply_user(&alice(), &ops), Err(ScimError::DeactivateAlone));
    let ops = patch(json!([{ "op": "replace", "value": { "active": false, "displayName": "x" } }]));
    assert_eq!(apply_user(&alice(), &ops), Err(ScimError::DeactivateAlone));
    // Re-activation with other changes is not a deactivation.
    let inactive = UserDoc {
        active: false,
        ..alice()
    };
    let ops =
        patch(json!([{ "op": "replace", "value": { "active": "True", "displayName": "Back" } }]));
    assert!(apply_user(&inactive, &ops).unwrap().active);
}

#[test]
fn emails_are_kept_as_sent_and_the_extension_patched_whole() {
    let ops = patch(json!([
        { "op": "add", "path": "emails", "value": [{ "value": "a@home.example", "type": "home" }] },
        { "op": "add", "path": "emails", "value": [{ "value": "a@work.example", "type": "work", "primary": true }] },
        { "op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
          "value": { "schemas": ["x"], "department": "Care", "employeeNumber": "9" } }
    ]));
    let next = apply_user(&alice(), &ops).unwrap();
    assert_eq!(
        next.emails.len(),
        2,
        "add appends to a multi-valued attribute"
    );
    assert_eq!(
        next.email(),
        Some("a@work.example"),
        "the primary one is mailed"
    );
    assert_eq!(next.department.as_deref(), Some("Care"));
    let ops = patch(json!([
        { "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" },
        { "op": "replace", "path": "emails", "value": [{ "value": "only@example.com" }] }
    ]));
    let next = apply_user(&next, &ops).unwrap();
    assert_eq!(next.email(), Some("only@example.com"));
    assert_eq!((next.department, next.employee_number), (None, None));
}

#[test]
fn unknown_paths_bad_values_and_bad_bodies_are_refused() {
    let refused = |ops: Value| apply_user(&alice(), &patch(ops)).unwrap_err();
    assert!(matches!(
        refused(json!([{ "op": "replace", "path": "favouriteColour", "value": "x" }])),
        ScimError::InvalidPath(_)
    ));
    // Declared as accepted and not kept: a password (Canaille sends its hash) changes nothing.
    let kept = apply_user(
        &alice(),
        &patch(json!([{ "op": "replace", "path": "password", "value": "x" }])),
    )
    .unwrap();
    assert_eq!(kept, alice());
    assert!(matches!(
        refused(
            json!([{ "op": "replace", "path": "emails[type eq \"home\"].value", "value": "x" }])
        ),
        ScimError::InvalidPath(_)
    ));
    assert!(matches!(
        refused(json!([{ "op": "replace", "path": "active", "value": "nope" }])),
        ScimError::InvalidValue(_)
    ));
    assert!(matches!(
        refused(json!([{ "op": "replace", "path": "userName", "value": "" }])),
        ScimError::InvalidValue(_)
    ));
    assert!(matches!(
        refused(json!([{ "op": "remove", "path": "userName" }])),
        ScimError::Mutability(_)
    ));
    assert!(matches!(
        refused(json!([{ "op": "replace", "value": "active" }])),
        ScimError::InvalidValue(_)
    ));
    for body in [
        json!({ "Operations": [{ "op": "replace", "path": "active", "value": false }] }),
        json!({ "schemas": [schemas::PATCH_OP], "Operations": [] }),
        json!({ "schemas": [schemas::PATCH_OP], "Operations": [{ "op": "move", "path": "active" }] }),
        json!({ "schemas": [schemas::PATCH_OP], "Operations": [{ "op": "remove" }] }),
        json!({ "schemas": [schemas::PATCH_OP], "Operations": [{ "op": "add", "path": "displayName" }] }),
        json!({ "schemas": [schemas::PATCH_OP], "Operations": vec![json!({ "op": "remove", "path": "displayName" }); 101] }),
    ] {
        assert!(parse(&body).is_err(), "{body}");
    }
}

#[test]
fn group_membership_by_filter_by_value_and_by_replace() {
    let group = GroupDoc {
        display_name: "support".into(),
        members: ["u1", "u2", "u3"].map(String::from).into(),
        ..GroupDoc::default()
    };
    // Okta and Entra remove one member by a filter in the path.
    let next = apply_group(
        &group,
        &patch(json!([{ "op": "remove", "path": "members[value eq \"u2\"]" }])),
    )
    .unwrap();
    assert_eq!(next.members, ["u1", "u3"].map(String::from).into());
    // Entra removes by value, adds by value.
    let ops = patch(json!([
        { "op": "Remove", "path": "members", "value": [{ "value": "u1" }] },
        { "op": "Add", "path": "members", "value": [{ "value": "u9" }] }
    ]));
    let next = apply_group(&group, &ops).unwrap();
    assert_eq!(next.members, ["u2", "u3", "u9"].map(String::from).into());
    // Replace of the whole list, and of the name, path-less.
    let ops = patch(
        json!([{ "op": "replace", "value": { "displayName": "care", "members": [{ "value": "u7" }] } }]),
    );
    let next = apply_group(&group, &ops).unwrap();
    assert_eq!(
        (next.display_name.as_str(), next.members.len()),
        ("care", 1)
    );
    for bad in [
        json!([{ "op": "remove", "path": "members[display eq \"x\"]" }]),
        json!([{ "op": "remove", "path": "members[value sw \"u\"]" }]),
        json!([{ "op": "add", "path": "members", "value": [{ "display": "no value" }] }]),
        json!([{ "op": "replace", "path": "owners", "value": "x" }]),
    ] {
        assert!(apply_group(&group, &patch(bad.clone())).is_err(), "{bad}");
    }
}
