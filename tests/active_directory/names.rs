//! Sign-in with the names AD users type, and each bind refusal explained.

use super::*;

async fn login(app: &TestApp, username: &str, password: &str) -> (u16, String) {
    let resp = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
    (status, code)
}

#[tokio::test]
async fn sign_in_takes_the_names_ad_users_type_and_explains_each_refusal() {
    let dc = samba::dc();
    let ou = dc.ou("signin");
    for u in ["si-erin", "si-must", "si-lock", "si-dis", "si-exp"] {
        ou.user(u, "right-pw");
    }
    let extra = format!("password_change_url = \"https://passwords.example.test/\"\n{POLL}");
    let app = app_for(&ou, &extra).await;
    for u in ["si-erin", "si-must", "si-lock", "si-dis", "si-exp"] {
        until_staff(&app, u).await;
    }
    for typed in [
        "si-erin",
        "SI-ERIN",
        "Si-Erin",
        "si-erin@example.test",
        "EXAMPLE\\si-erin",
        "example\\SI-erin",
    ] {
        let (s, code) = login(&app, typed, "right-pw").await;
        println!("AD sign-in as {typed:?}: {s} {code}");
        assert_eq!(s, 200, "{typed}: {code}");
    }
    assert_eq!(
        login(&app, "OTHER\\si-erin", "right-pw").await,
        (401, "invalid_credentials".into()),
        "another domain's name is not ours"
    );
    assert_eq!(
        login(&app, "si-erin", "wrong-pw").await,
        (401, "invalid_credentials".into())
    );

    // 773: must change the password. Said plainly, never counted as a wrong guess.
    ou.replace("si-must", "pwdLastSet", "0");
    for _ in 0..8 {
        assert_eq!(
            login(&app, "si-must", "right-pw").await,
            (403, "password_change_required".into())
        );
    }
    // 775: locked by AD after three wrong binds.
    for _ in 0..3 {
        let _ = dc.bind_as(&ou.user_dn("si-lock"), "wrong");
    }
    assert_eq!(
        login(&app, "si-lock", "right-pw").await,
        (403, "directory_account_locked".into())
    );
    // 533 and 701: the right password for a disabled or expired account.
    ou.disable("si-dis");
    assert_eq!(
        login(&app, "si-dis", "right-pw").await,
        (403, "directory_account_disabled".into())
    );
    ou.expire_at("si-exp", chrono::Utc::now().timestamp() - 60);
    assert_eq!(
        login(&app, "si-exp", "right-pw").await,
        (403, "directory_account_expired".into())
    );
    // The page says where to change the password.
    let page = app
        .http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    app.stop().await;
}
