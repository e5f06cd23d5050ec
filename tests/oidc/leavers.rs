//! Leavers the provider never pushes: a person whose every refresh the provider refuses for
//! `unrefreshable_after` is offboarded (only where the source says so) with a receipt, a
//! sign-in in between saves them, and more of them at once than the guard allows is a held
//! plan that offboards only on an admin's confirmation, on that day's facts.

use super::*;

fn offboarding_source(c: &mut staffgate::config::Config) {
    c.oidc[0].refresh_interval = Duration::from_secs(1);
    c.oidc[0].offboard_when_unrefreshable = true;
    c.oidc[0].unrefreshable_after = Duration::from_secs(3);
}

fn claims(name: &str) -> Value {
    json!({ "preferred_username": name, "groups": ["support"] })
}

/// `name` signed in through `account` in a browser of their own.
async fn signed_in(app: &TestApp, account: &str, name: &str) -> reqwest::Client {
    idp().account(account, claims(name)).await;
    let b = browser();
    let (s, body) = sign_in(&b, &app.base, "idp", account).await;
    assert_eq!(s, 200, "{body}");
    b
}

async fn status(app: &TestApp, name: &str) -> String {
    staff(app, name).await.1["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_person_the_provider_keeps_refusing_is_offboarded_unless_they_sign_in_again() {
    let app = app_on(Db::Sqlite, "sg-unrefreshable", true, offboarding_source).await;
    let up = Upstream::start("real-secret").await;
    desk(&app, &up).await;
    let nina = signed_in(&app, "acct-nina", "nina").await;
    let oleg = signed_in(&app, "acct-oleg", "oleg").await;
    token_from_session(&app, &nina, "nina").await;
    token_from_session(&app, &oleg, "oleg").await;
    // A token an admin issued for her, from no session: only an offboarding ends it.
    let (_, admin_token) = app.issue("nina", "desk", json!({})).await;
    assert_eq!(
        app.call(Method::GET, "desk", "x", &admin_token).await.0,
        200
    );

    idp().account("acct-nina", Value::Null).await;
    idp().account("acct-oleg", Value::Null).await;
    let me_url = format!("{}/api/v1/me", app.base);
    within(10, "both sessions ended at a refresh", || {
        let (n, o, url) = (nina.clone(), oleg.clone(), me_url.clone());
        async move { status_of(&n, url.clone()).await == 401 && status_of(&o, url).await == 401 }
    })
    .await;
    assert_eq!(
        app.call(Method::GET, "desk", "x", &admin_token).await.0,
        200,
        "a refusal alone ends sessions, not the person"
    );
    // Oleg's account is back and he signs in again before unrefreshable_after passes.
    let _oleg = signed_in(&app, "acct-oleg", "oleg").await;

    let took = within(15, "nina offboarded", || async {
        status(&app, "nina").await == "offboarded"
    })
    .await;
    println!("sessions ended -> offboarded after {took:?} (unrefreshable_after 3 s)");
    assert_ne!(
        app.call(Method::GET, "desk", "x", &admin_token).await.0,
        200
    );
    let receipts = events(&app, "staff.offboard").await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0]["subject"], "nina");
    assert_eq!(receipts[0]["actor"], "idp:idp", "{receipts:?}");
    let details = receipts[0]["details"].as_str().unwrap();
    assert!(details.contains("refused every refresh"), "{details}");
    // Long past his refusal too, Oleg stays: his sign-in cleared it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status(&app, "oleg").await, "active");
    app.stop().await;
}

#[tokio::test]
async fn without_offboard_when_unrefreshable_a_refused_person_only_loses_the_session() {
    let app = app_on(Db::Sqlite, "sg-unrefreshable-off", true, |c| {
        offboarding_source(c);
        c.oidc[0].offboard_when_unrefreshable = false;
    })
    .await;
    let pyotr = signed_in(&app, "acct-pyotr", "pyotr").await;
    idp().account("acct-pyotr", Value::Null).await;
    let me_url = format!("{}/api/v1/me", app.base);
    within(10, "the session ended at a refresh", || {
        let (b, url) = (pyotr.clone(), me_url.clone());
        async move { status_of(&b, url).await == 401 }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(status(&app, "pyotr").await, "pending");
    app.stop().await;
}

#[tokio::test]
async fn more_unrefreshable_people_than_the_guard_allows_wait_for_an_admin() {
    let app = app_on(
        Db::Sqlite,
        "sg-unrefreshable-guard",
        true,
        offboarding_source,
    )
    .await;
    let names: Vec<String> = (0..14).map(|i| format!("guard{i:02}")).collect();
    for n in &names {
        signed_in(&app, &format!("acct-{n}"), n).await;
    }
    // The provider loses all of them at once (an unassigned application, say).
    for n in &names {
        idp().account(&format!("acct-{n}"), Value::Null).await;
    }
    let held = within(20, "a held plan", || async {
        let (_, s) = app.api(Method::GET, "/sync/status", None).await;
        s["held_plans"].as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    println!("provider lost 14 people -> plan held after {held:?}");
    // Refusals land over two refresh rounds, so the first round's few may pass the guard
    // (at most its limit of 10); everyone else waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut gone = Vec::new();
    for n in &names {
        if status(&app, n).await == "offboarded" {
            gone.push(n.clone());
        }
    }
    assert!(gone.len() <= 10, "the guard let {} through", gone.len());
    let (_, s) = app.api(Method::GET, "/sync/status", None).await;
    let id = s["held_plans"][0]["id"].as_i64().unwrap();
    let (_, plan) = app
        .api(Method::GET, &format!("/sync/plans/{id}"), None)
        .await;
    let waiting: Vec<String> = plan["plan"]["leavers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["username"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone.len() + waiting.len(), names.len(), "{plan}");
    for n in &waiting {
        assert_ne!(status(&app, n).await, "offboarded", "{n} did not wait");
    }
    // One of them is back before the admin looks: confirming keeps them. (Once in a few full
    // runs this sign-in's code exchange got a 502 from the provider, seen on 2026-12-03 and not
    // yet explained; a second sign-in is what the person would do, and it is logged.)
    let back = &waiting[0];
    idp().account(&format!("acct-{back}"), claims(back)).await;
    let mut tries = 0;
    loop {
        tries += 1;
        let (s, body) = sign_in(&browser(), &app.base, "idp", &format!("acct-{back}")).await;
        if s == 200 {
            break;
        }
        println!("the returning person's sign-in answered {s}; trying once more");
        assert!(tries < 2, "{s}: {body}");
    }
    let (s, outcome) = app
        .api(Method::POST, &format!("/sync/plans/{id}/confirm"), None)
        .await;
    assert_eq!(s, 200, "{outcome}");
    assert_eq!(outcome["dropped_out"], json!([back]), "{outcome}");
    for n in &waiting[1..] {
        assert_eq!(status(&app, n).await, "offboarded", "{n}");
    }
    assert_eq!(status(&app, back).await, "pending");
    app.stop().await;
}
