//! What a hostile or broken client sends: each a SCIM error body with the right status and
//! `scimType`, nothing half-applied, nobody attached across sources.

use super::*;

fn scim_type(v: &Value) -> &str {
    v["scimType"].as_str().unwrap_or("")
}

#[tokio::test]
async fn bad_requests_get_scim_errors_and_change_nothing() {
    let w = world(Db::Sqlite, "[entra]\n[okta]\n").await;
    let support = w.group("support").await;
    let id = w.joiner("victim", &support).await;
    w.app.add_staff("ceo", &["admins"]).await;

    // No token, a malformed one, and another source's.
    let (s, v) = w.scim_as("", Method::GET, "/Users", None).await;
    assert_eq!((s, &v["status"]), (401, &json!("401")), "{v}");
    let (_, other) = w.app.api(Method::POST, "/scim/okta/tokens", None).await;
    let okta = other["token"].as_str().unwrap();
    assert_eq!(w.scim_as(okta, Method::GET, "/Users", None).await.0, 401);
    let (s, _) = w.scim(Method::GET, "/../okta/Users", None).await;
    assert!(s == 404 || s == 401, "{s}");

    // Malformed JSON, an unknown schema, a missing userName.
    let raw = w
        .app
        .http
        .post(format!("{}/scim/v2/entra/Users", w.app.base))
        .bearer_auth(&w.token)
        .body("{\"schemas\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let v: Value = raw.json().await.unwrap();
    assert_eq!(scim_type(&v), "invalidSyntax");
    let (s, v) = w
        .scim(
            Method::POST,
            "/Users",
            Some(json!({ "schemas": ["urn:evil"], "userName": "x" })),
        )
        .await;
    assert_eq!((s, scim_type(&v)), (400, "invalidValue"), "{v}");
    let (s, v) = w
        .scim(Method::POST, "/Users", Some(json!({ "schemas": [USER] })))
        .await;
    assert_eq!((s, scim_type(&v)), (400, "invalidValue"), "{v}");

    // A userName another source's person has: 409, and the other person is untouched.
    let (s, v) = w
        .scim(
            Method::POST,
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "ceo@example.com" })),
        )
        .await;
    assert_eq!((s, scim_type(&v)), (409, "uniqueness"), "{v}");
    let (_, ceo) = w.app.api(Method::GET, "/staff/ceo", None).await;
    assert_eq!(ceo["groups"], json!(["admins"]));
    // The same userName twice in this source.
    let (s, v) = w
        .scim(
            Method::POST,
            "/Users",
            Some(json!({ "schemas": [USER], "userName": "Victim@example.com" })),
        )
        .await;
    assert_eq!((s, scim_type(&v)), (409, "uniqueness"), "{v}");

    // A PATCH path that does not exist, a filter outside the grammar.
    let (s, v) = w
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "favouriteColour", "value": "x" }] })),
        )
        .await;
    assert_eq!((s, scim_type(&v)), (400, "invalidPath"), "{v}");
    // A password is accepted (the schema says so: clients send one) and never kept.
    let (s, v) = w
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "password", "value": "hunter2-never-kept" }] })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!v.to_string().contains("hunter2"));
    let dump = w.app.database_dump().await;
    assert!(!String::from_utf8_lossy(&dump).contains("hunter2-never-kept"));
    let (s, v) = w
        .scim(Method::GET, "/Users?filter=userName%20sw%20%22v%22", None)
        .await;
    assert_eq!((s, scim_type(&v)), (400, "invalidFilter"), "{v}");

    // Deactivate and rename at once: refused whole; the person keeps name and status.
    let (s, v) = w
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({ "schemas": [PATCH], "Operations": [
                { "op": "replace", "path": "userName", "value": "someone-else@example.com" },
                { "op": "replace", "path": "active", "value": false }
            ] })),
        )
        .await;
    assert_eq!((s, scim_type(&v)), (400, "invalidValue"), "{v}");
    assert_eq!(w.status("victim").await, "pending");
    let (_, u) = w.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(
        (&u["userName"], &u["active"]),
        (&json!("victim@example.com"), &json!(true))
    );

    // An oversized body, an unknown resource, an unknown source.
    let big =
        json!({ "schemas": [USER], "userName": "big", "displayName": "x".repeat(2 * 1024 * 1024) });
    let (s, _) = w.scim(Method::POST, "/Users", Some(big)).await;
    assert_eq!(s, 413);
    let (s, v) = w.scim(Method::GET, "/Users/nope", None).await;
    assert_eq!((s, &v["status"]), (404, &json!("404")));
    let r = w
        .app
        .http
        .get(format!("{}/scim/v2/nowhere/Users", w.app.base))
        .bearer_auth(&w.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Nothing leaked the token anywhere an admin reads.
    let (_, audit) = w.app.api(Method::GET, "/audit?limit=1000", None).await;
    assert!(!audit.to_string().contains(&w.token));
    w.app.stop().await;
}
