//! Logout: hostile back-channel logout tokens refused with a reason, and signing out of
//! staffgate ending the provider's session too (RP-initiated logout).

use super::*;

async fn hostile_logout_tokens_are_refused_with_a_reason(db: Db) {
    let client = format!("sg-logout-{db:?}");
    let app = app_on(db, &client, true, |_| {}).await;
    let now = chrono::Utc::now().timestamp();
    let good = json!({
        "iss": idp().issuer, "aud": client, "iat": now, "jti": "j-1", "sub": "acct-x",
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} }
    });
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let typ = json!({ "typ": "logout+jwt" });
    let cases = [
        ("a nonce", typ.clone(), with("nonce", json!("n"))),
        ("no typ", json!({}), good.clone()),
        (
            "another audience",
            typ.clone(),
            with("aud", json!("someone-else")),
        ),
        (
            "another issuer",
            typ.clone(),
            with("iss", json!("https://evil.example")),
        ),
        ("no event", typ.clone(), with("events", json!({}))),
        ("stale", typ.clone(), with("iat", json!(now - 3600))),
        (
            "unknown key",
            json!({ "typ": "logout+jwt", "kid": "nope" }),
            good.clone(),
        ),
    ];
    let post = |token: String| {
        let url = format!("{}/oidc/idp/backchannel-logout", app.base);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .form(&[("logout_token", token)])
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (status, v)
        }
    };
    for (what, header, claims) in cases {
        let token = idp().sign(header, claims).await;
        let (status, v) = post(token).await;
        assert_eq!(status, 400, "{what}: {v}");
        assert_eq!(v["error"]["code"], "logout_token_invalid", "{what}: {v}");
    }
    // alg none: no signature at all.
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "logout+jwt"})),
        b64(&good)
    );
    assert_eq!(post(none).await.0, 400);
    // A good one is applied once; the same jti again is a replay.
    let token = idp().sign(typ.clone(), good.clone()).await;
    assert_eq!(post(token.clone()).await.0, 200);
    let (status, v) = post(token).await;
    assert_eq!(status, 400);
    assert!(v.to_string().contains("seen before"), "{v}");
    app.stop().await;
}

fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let rest = html
        .split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    rest.split(&format!("{attr}=\""))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn signing_out_ends_the_provider_session_too() {
    let app = app_with("sg-rp-logout", true).await;
    idp()
        .account("acct-tom", json!({ "preferred_username": "tom" }))
        .await;
    let b = browser();
    let (status, body) = sign_in(&b, &app.base, "idp", "acct-tom").await;
    assert_eq!(status, 200, "{body}");
    // Signing out lands on the provider's own sign-out page for this client.
    let out = b.post(format!("{}/logout", app.base)).send().await.unwrap();
    let at = out.url().clone();
    assert!(at.as_str().starts_with(&idp().issuer), "{at}");
    let page = out.text().await.unwrap();
    let action = attr_after(&page, "id=\"op.logoutForm\"", "action");
    let xsrf = attr_after(&page, "name=\"xsrf\"", "value");
    let back = b
        .post(at.join(&action).unwrap())
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.url().path(),
        "/login",
        "the provider sends the browser back"
    );
    assert!(back.url().as_str().starts_with(&app.base));
    assert_eq!(status_of(&b, format!("{}/api/v1/me", app.base)).await, 401);
    // The provider's session ended too: signing in again asks for the password.
    let again = b
        .get(format!("{}/oidc/idp/start", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        again.url().as_str().starts_with(&idp().issuer),
        "{}",
        again.url()
    );
    assert!(again.text().await.unwrap().contains("/interaction/"));
    app.stop().await;
}

both_backends!(hostile_logout_tokens_are_refused_with_a_reason);
