//! What a sign-in meets besides forged tokens: a provider that is down at discovery or at
//! the code exchange, and an e-mail another person already has — each a clear refusal (or a
//! person of their own), never an attachment to someone else.

use super::*;

#[tokio::test]
async fn a_provider_that_is_down_is_a_clear_refusal_and_nothing_is_created() {
    // Nothing listens where this source's provider should be.
    let app = app_on(Db::Sqlite, "sg-down", true, |c| {
        let closed = free_port();
        c.oidc[0].issuer = format!("http://127.0.0.1:{closed}");
    })
    .await;
    let b = browser();
    let r = b
        .get(format!("{}/oidc/idp/start", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("does not answer"));
    let (s, v) = post(&app.http, &app, "/oidc/idp/start", json!({})).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (503, &json!("oidc_provider_unavailable")),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_endpoint_that_fails_mid_sign_in_is_a_clear_refusal() {
    let app = app_with("sg-exchange-down", true).await;
    idp()
        .account("acct-kira", json!({ "preferred_username": "kira" }))
        .await;
    idp().tamper("sg-exchange-down", Some("unavailable")).await;
    let (status, body) = sign_in(&browser(), &app.base, "idp", "acct-kira").await;
    idp().tamper("sg-exchange-down", None).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("could not be completed safely"), "{body}");
    assert!(!body.contains(SECRET));
    assert_eq!(staff(&app, "kira").await.0, 404, "nothing created");
    app.stop().await;
}

#[tokio::test]
async fn an_e_mail_someone_else_has_makes_a_person_of_their_own() {
    let app = app_with("sg-email", true).await;
    app.add_staff("alice", &["admins"]).await;
    let (_, alice) = staff(&app, "alice").await;
    let email = alice["email"].as_str().unwrap().to_owned();
    idp()
        .account(
            "acct-alicia",
            json!({ "preferred_username": "alicia", "email": email, "groups": ["support"] }),
        )
        .await;
    let (status, body) = sign_in(&browser(), &app.base, "idp", "acct-alicia").await;
    assert_eq!(status, 200, "{body}");
    let (_, alicia) = staff(&app, "alicia").await;
    assert_eq!(alicia["status"], "pending", "{alicia}");
    let (_, alice) = staff(&app, "alice").await;
    assert_eq!(
        alice["groups"],
        json!(["admins"]),
        "alice is not attached to by e-mail: {alice}"
    );
    app.stop().await;
}
