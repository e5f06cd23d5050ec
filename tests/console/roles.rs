//! Roles: from directory groups, on every request; TOTP for everyone; an auditor reads.

use reqwest::Method;

use super::{Browser, status_of, world};
use crate::common::Db;
use crate::common::first_login::{login, wait_synced};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_everything_but_cannot_offboard() {
    let w = world(Db::Sqlite).await;
    let auditor = Browser::sign_in(&w.app, "audrey").await;
    let (s, page) = auditor.get("/console/people/bob").await;
    assert_eq!(s, 200);
    assert!(page.contains("support-desk"), "reads what bob reaches");
    assert!(
        !page.contains("id=\"offboard\"") && !page.contains("/schedule"),
        "no button: {page}"
    );
    let (s, _) = auditor.get("/console/people/bob/offboard?reason=x").await;
    assert_eq!(s, 403);
    let (s, _) = auditor
        .post("/console/people/bob/offboard", &[("reason", "x")])
        .await;
    assert_eq!(s, 403);
    let (s, _) = auditor.post("/console/people/bob/reset-totp", &[]).await;
    assert_eq!(s, 403);
    assert_eq!(
        status_of(&w.app, "bob").await,
        "pending",
        "bob never signed in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_removed_from_the_hr_group_loses_the_console_at_the_next_click() {
    let w = world(Db::Sqlite).await;
    let hr = Browser::sign_in(&w.app, "hana").await;
    assert_eq!(hr.get("/console/people").await.0, 200);
    w.ldap.modify(
        &format!(
            "dn: cn=hr,ou=groups,{}\nchangetype: modify\nreplace: member\nmember: uid=bob,ou=people,{}\n\n",
            crate::common::slapd::SUFFIX,
            crate::common::slapd::SUFFIX
        ),
        false,
    );
    let (s, v) = w.app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(s, 200, "{v}");
    let (s, page) = hr.get("/console/people").await;
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("no console role"));
    let (s, _) = hr
        .post("/console/people/bob/offboard", &[("reason", "x")])
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        status_of(&w.app, "bob").await,
        "pending",
        "bob never signed in"
    );
    // Their own pages still work: they are still an employee.
    assert_eq!(hr.get("/me").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_asks_for_totp_and_first_login_even_of_an_admin() {
    let w = world(Db::Sqlite).await;
    wait_synced(&w.app).await;
    let session = login(&w.app, "adam", "adam-pw").await;
    let admin = Browser {
        app: &w.app,
        http: super::no_redirects(),
        csrf: staffgate::web::session::csrf_token(&session),
        session,
    };
    let (s, to) = admin.get("/console/people").await;
    assert_eq!((s, to.as_str()), (303, "/enrol"));
    let (s, _) = admin
        .post("/console/people/bob/offboard", &[("reason", "x")])
        .await;
    assert_eq!(
        s, 303,
        "a POST without the second factor is sent to enrol too"
    );
    assert_eq!(
        status_of(&w.app, "bob").await,
        "pending",
        "bob never signed in"
    );
    // Someone in no mapped group gets a page saying so.
    let bob = Browser::sign_in(&w.app, "bob").await;
    let (s, page) = bob.get("/console/people").await;
    assert_eq!(s, 403);
    assert!(page.contains("no console role"));
    // Without a session: the sign-in page.
    let resp = super::no_redirects()
        .get(format!("{}/console/people", w.app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
}
