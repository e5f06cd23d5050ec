//! The provider's own MFA standing in for staffgate's TOTP, only where the source accepts it
//! (`accept_idp_mfa` against `amr`, `accept_acr` against `acr`), and recorded as the factor
//! that met the gate.

use super::*;

async fn audit_details(app: &TestApp, event: &str, who: &str) -> Vec<Value> {
    events(app, event)
        .await
        .into_iter()
        .filter(|e| e["subject"] == who)
        .map(|e| serde_json::from_str(e["details"].as_str().unwrap()).unwrap())
        .collect()
}

async fn me(b: &reqwest::Client, app: &TestApp) -> Value {
    let r = b
        .get(format!("{}/api/v1/me", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Where `/me` takes a person who just signed in: the first-login step they are at.
async fn landing(b: &reqwest::Client, app: &TestApp) -> String {
    let r = b.get(format!("{}/me", app.base)).send().await.unwrap();
    let path = r.url().path().to_owned();
    format!("{path} {}", r.text().await.unwrap())
}

/// Reads the NDA in force and acknowledges it in `b`'s session.
async fn acknowledge(b: &reqwest::Client, app: &TestApp) -> (u16, Value) {
    let nda: Value = b
        .get(format!("{}/api/v1/me/nda?lang=en", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ack =
        json!({ "version": nda["version"], "sha256": nda["sha256"], "language": nda["language"] });
    post(b, app, "/me/nda", ack).await
}

#[tokio::test]
async fn the_providers_mfa_stands_in_for_totp_only_where_the_source_accepts_it() {
    let client = "sg-idp-mfa";
    let app = app_on(Db::Sqlite, client, true, |c| {
        c.compliance.require_totp = true;
        c.compliance.require_nda = true;
        c.oidc[0].accept_idp_mfa = vec!["mfa".into(), "hwk".into()];
        c.oidc[0].accept_acr = vec!["urn:example:gold".into()];
    })
    .await;
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;
    let person = |name: &str| json!({ "preferred_username": name, "email": format!("{name}@example.com"), "groups": ["support"] });
    let with = |name: &str, key: &str, v: Value| {
        let mut p = person(name);
        p[key] = v;
        p
    };
    idp()
        .account("acct-mira", with("mira", "amr", json!(["pwd", "mfa"])))
        .await;
    idp()
        .account("acct-gleb", with("gleb", "acr", json!("urn:example:gold")))
        .await;
    idp()
        .account("acct-pavel", with("pavel", "amr", json!(["pwd"])))
        .await;

    // Mira's provider says she passed MFA: first login asks for the NDA, not for TOTP.
    let mira = browser();
    let (s, page) = sign_in(&mira, &app.base, "idp", "acct-mira").await;
    assert_eq!(s, 200, "{page}");
    let page = landing(&mira, &app).await;
    assert!(page.starts_with("/nda "), "lands on the NDA: {page}");
    let first = me(&mira, &app).await["first_login"].clone();
    assert_eq!(first["second_factor"], "idp:amr:mfa", "{first}");
    assert_eq!(first["totp_enrolled"], false);
    assert_eq!(first["totp_verified_in_session"], false);
    let (s, v) = acknowledge(&mira, &app).await;
    assert_eq!((s, &v["status"]), (200, &json!("active")), "{v}");
    let (s, issued) = post(&mira, &app, "/me/tokens", json!({ "channel": "desk" })).await;
    assert_eq!(s, 201, "{issued}");
    let token = issued["token"].as_str().unwrap();
    assert_eq!(app.call(Method::GET, "desk", "x", token).await.0, 200);
    let done = audit_details(&app, "staff.first_login_done", "mira").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["factor"], "idp:amr:mfa");
    let issues = audit_details(&app, "token.issue", "mira").await;
    assert_eq!(issues[0]["factor"], "idp:amr:mfa", "{issues:?}");

    // An accepted `acr` is as good, and named as such.
    let gleb = browser();
    assert_eq!(sign_in(&gleb, &app.base, "idp", "acct-gleb").await.0, 200);
    assert_eq!(acknowledge(&gleb, &app).await.0, 200);
    let (s, issued) = post(&gleb, &app, "/me/tokens", json!({ "channel": "desk" })).await;
    assert_eq!(s, 201, "{issued}");
    let issues = audit_details(&app, "token.issue", "gleb").await;
    assert_eq!(issues[0]["factor"], "idp:acr:urn:example:gold");

    // Pavel signed in with a password only: staffgate's TOTP is still asked for, and
    // nothing he does in this session gets a token or activates him.
    let pavel = browser();
    let (s, page) = sign_in(&pavel, &app.base, "idp", "acct-pavel").await;
    assert_eq!(s, 200, "{page}");
    let page = landing(&pavel, &app).await;
    assert!(
        page.starts_with("/enrol "),
        "lands on TOTP enrolment: {page}"
    );
    let first = me(&pavel, &app).await["first_login"].clone();
    assert_eq!(first["second_factor"], Value::Null, "{first}");
    let (s, v) = acknowledge(&pavel, &app).await;
    assert_eq!(
        s, 403,
        "no NDA acknowledgement before the second factor: {v}"
    );
    let (s, v) = post(&pavel, &app, "/me/tokens", json!({ "channel": "desk" })).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (409, &json!("staff_not_active")),
        "{v}"
    );
    assert_eq!(staff(&app, "pavel").await.1["status"], "pending");
}

#[tokio::test]
async fn without_accept_idp_mfa_the_providers_mfa_does_not_count() {
    let client = "sg-idp-mfa-off";
    let app = app_on(Db::Sqlite, client, true, |c| {
        c.compliance.require_totp = true;
        c.compliance.require_nda = false;
    })
    .await;
    idp()
        .account(
            "acct-vera",
            json!({ "preferred_username": "vera", "groups": ["support"], "amr": ["pwd", "mfa", "hwk"], "acr": "urn:example:gold" }),
        )
        .await;
    let vera = browser();
    let (s, page) = sign_in(&vera, &app.base, "idp", "acct-vera").await;
    assert_eq!(s, 200, "{page}");
    let page = landing(&vera, &app).await;
    assert!(
        page.starts_with("/enrol "),
        "TOTP is still asked for: {page}"
    );
    assert_eq!(
        me(&vera, &app).await["first_login"]["second_factor"],
        Value::Null
    );
    assert_eq!(staff(&app, "vera").await.1["status"], "pending");
}
