//! The admin's and auditor's pages: the access review and its CSV, a held plan confirmed,
//! the audit log verified, a channel secret that is never shown back.

use reqwest::Method;

use super::{Browser, status_of, world};
use crate::common::Db;
use crate::common::slapd::SUFFIX;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_filters_the_access_review_and_downloads_a_csv_that_parses() {
    let w = world(Db::Sqlite).await;
    let alice = Browser::sign_in(&w.app, "alice").await;
    alice
        .post("/me/issue", &[("channel", "support-desk"), ("ttl", "1h")])
        .await;
    let admin = Browser::sign_in(&w.app, "adam").await;
    let (s, page) = admin
        .get("/console/access?channel=support-desk&action=read")
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("/console/people/alice") && page.contains("/console/people/bob"));
    // Bob never signed in: he is shown with what he will reach.
    assert!(page.contains("will reach after first login"), "{page}");
    // Nobody reaches the channel with an action it does not have.
    let (_, page) = admin.get("/console/access?action=pay").await;
    assert!(!page.contains("/console/people/alice"), "{page}");
    // An action staffgate does not know is said, not silently dropped.
    let (s, _) = admin.get("/console/access?action=administer").await;
    assert_eq!(s, 400);
    // Used in the last day: never, so everyone shows as unused for a day.
    let (_, page) = admin.get("/console/access?unused=1").await;
    assert!(page.contains("/console/people/alice"));

    let (s, body) = admin.get("/console/access.csv?channel=support-desk").await;
    assert_eq!(s, 200);
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "staff");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let alice_row = rows
        .iter()
        .find(|r| &r[0] == "alice")
        .expect("alice in the CSV");
    assert_eq!(&alice_row[3], "support-desk");
    assert!(alice_row[4].contains("read"), "{alice_row:?}");
    assert_eq!(&alice_row[6], "1", "one live token");
    assert_eq!(&alice_row[7], "live");
    assert!(rows.iter().any(|r| &r[0] == "bob" && &r[2] == "pending"));
    assert!(
        !rows.iter().any(|r| &r[0] == "hana"),
        "hana reaches nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_confirms_a_plan_the_guard_held_and_only_then_people_leave() {
    let w = world(Db::Sqlite).await;
    let admin = Browser::sign_in(&w.app, "adam").await;
    let alice = Browser::sign_in(&w.app, "alice").await;
    drop(alice);
    for uid in ["alice", "bob"] {
        w.ldap.delete(&format!("uid={uid},ou=people,{SUFFIX}"));
    }
    let (s, v) = w.app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(
        (s, v["verdict"]["verdict"].as_str()),
        (200, Some("hold")),
        "{v}"
    );
    let id = v["plan_id"].as_i64().unwrap();
    assert_eq!(status_of(&w.app, "alice").await, "active");

    let (s, page) = admin.get("/console/directory").await;
    assert_eq!(s, 200);
    assert!(page.contains(&format!("id=\"plan-{id}\"")), "{page}");
    assert!(page.contains("/console/people/alice") && page.contains("/console/people/bob"));
    assert!(page.contains(&format!("id=\"confirm-{id}\"")));

    // HR sees the plan but has no button, and its POST is refused.
    let hr = Browser::sign_in(&w.app, "hana").await;
    let (_, page) = hr.get("/console/directory").await;
    assert!(page.contains(&format!("id=\"plan-{id}\"")) && !page.contains("id=\"confirm-"));
    let (s, _) = hr
        .post(&format!("/console/directory/plans/{id}/confirm"), &[])
        .await;
    assert_eq!(s, 403);
    assert_eq!(status_of(&w.app, "alice").await, "active");

    let (s, to) = admin
        .post(&format!("/console/directory/plans/{id}/confirm"), &[])
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/directory"));
    assert_eq!(status_of(&w.app, "alice").await, "offboarded");
    assert_eq!(status_of(&w.app, "bob").await, "offboarded");
    let (_, audit) = w.app.api(Method::GET, "/audit?limit=1000", None).await;
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "staff:adam"),
        "the confirmation is the admin's, by name: {audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_and_verifies_the_audit_log_and_hr_cannot_read_it() {
    let w = world(Db::Sqlite).await;
    let auditor = Browser::sign_in(&w.app, "audrey").await;
    let (s, page) = auditor.get("/console/audit?verify=1").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("The audit chain is intact"), "{page}");
    // Details are a readable list, not JSON text.
    assert!(page.contains("<dt>joiners</dt>"), "{page}");
    let (_, page) = auditor
        .get("/console/audit?actor=staff:audrey&event=totp.")
        .await;
    assert!(
        page.contains("totp.enrolled") && !page.contains("directory.sync"),
        "{page}"
    );

    let hr = Browser::sign_in(&w.app, "hana").await;
    let (s, _) = hr.get("/console/audit").await;
    assert_eq!(s, 403);
    let (_, page) = hr.get("/console/people").await;
    assert!(!page.contains("/console/audit"), "no Audit link for HR");

    // An entry altered in the database is named by the page.
    let path = w.app.dir.path().join("data/staffgate.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        path.display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        .execute(&mut conn)
        .await
        .unwrap();
    let (_, page) = auditor.get("/console/audit?verify=1").await;
    assert!(
        page.contains("The audit chain is broken") && page.contains("entry 3 was altered"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_secret_set_in_the_console_is_never_shown_back() {
    let w = world(Db::Sqlite).await;
    let admin = Browser::sign_in(&w.app, "adam").await;
    let secret = "console-set-secret-7f3a";
    let (s, to) = admin
        .post(
            "/console/channels/support-desk/secret",
            &[("secret", secret)],
        )
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/channels"));
    let (s, page) = admin.get("/console/channels").await;
    assert_eq!(s, 200);
    assert!(!page.contains(secret) && page.contains("id=\"channel-support-desk\""));
    // An auditor reads the list without the forms, and cannot set a secret.
    let auditor = Browser::sign_in(&w.app, "audrey").await;
    let (_, page) = auditor.get("/console/channels").await;
    assert!(!page.contains("type=\"password\""));
    let (s, _) = auditor
        .post("/console/channels/support-desk/secret", &[("secret", "x")])
        .await;
    assert_eq!(s, 403);
    // A channel added in the console by preset.
    let (s, to) = admin
        .post(
            "/console/channels",
            &[
                ("id", "vk-main"),
                ("kind", "preset:vk"),
                ("upstream", "http://127.0.0.1:9/"),
                ("rules", ""),
                ("tags", "support"),
            ],
        )
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/channels"), "{to}");
    let (_, v) = w.app.api(Method::GET, "/channels/vk-main", None).await;
    assert_eq!(v["preset"], "vk", "{v}");
}
