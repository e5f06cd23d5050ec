//! The HR, admin and auditor console over plain HTTP, against a real slapd: roles from
//! directory groups read on every request, TOTP for everyone, permits checked on every POST,
//! CSRF on every form, offboarding with a confirmation and a receipt, schedules in a zone.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod pages;
mod roles;

use std::time::{Duration, Instant};

use common::first_login::{acknowledge, enrol, login, strict, wait_synced};
use common::slapd::{self, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::json;

/// A daemon with TOTP and the NDA required, people in every console role, and a channel.
pub struct World {
    pub app: TestApp,
    pub ldap: Slapd,
    _upstream: Upstream,
}

pub const PEOPLE: [(&str, &str); 5] = [
    ("alice", "support"),
    ("bob", "support"),
    ("hana", "hr"),
    ("adam", "it-admins"),
    ("audrey", "auditors"),
];

pub async fn world(db: Db) -> World {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    for (uid, _) in PEOPLE {
        ldap.add(&slapd::person_ldif(uid, &format!("{uid}-pw")));
    }
    for group in ["support", "hr", "it-admins", "auditors"] {
        let members: Vec<&str> = PEOPLE
            .iter()
            .filter(|(_, g)| *g == group)
            .map(|(u, _)| *u)
            .collect();
        ldap.add(&slapd::group_ldif(group, &members));
    }
    let sources = ldap.sources("mode = \"poll\"\npoll_interval = \"1h\"\nguard_max_leavers = 1\n");
    let app = TestApp::spawn_with(db, move |c| {
        c.ldap = sources;
        strict(c);
        c.signin.plain_http = true;
        c.console = staffgate::config::console::parse(
            &toml::toml! { admin = ["it-admins"] hr = ["hr"] auditor = ["auditors"] }.into(),
        )
        .unwrap();
    })
    .await;
    wait_synced(&app).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.api(Method::GET, "/staff/audrey", None).await.0 != 200 {
        assert!(Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read"] }),
        "real-channel-secret",
    )
    .await;
    World {
        app,
        ldap,
        _upstream: upstream,
    }
}

/// A browser of one person who finished first login: their cookie and form token.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    /// Follows no redirect, so a test sees where each answer sends the browser.
    pub http: reqwest::Client,
    pub session: String,
    pub csrf: String,
}

impl<'a> Browser<'a> {
    pub async fn sign_in(app: &'a TestApp, user: &str) -> Browser<'a> {
        let session = login(app, user, &format!("{user}-pw")).await;
        enrol(app, &session).await;
        acknowledge(app, &session, "en").await;
        Browser {
            app,
            http: no_redirects(),
            csrf: staffgate::web::session::csrf_token(&session),
            session,
        }
    }

    /// Without following redirects: (status, Location or body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.app.base))
            .header("cookie", format!("staffgate_session={}", self.session))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let mut fields = vec![("csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields).await
    }

    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}{path}", self.app.base))
            .header("cookie", format!("staffgate_session={}", self.session))
            .form(form)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn answer(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    if let Some(to) = resp.headers().get("location") {
        return (status, to.to_str().unwrap().to_owned());
    }
    (status, resp.text().await.unwrap())
}

pub async fn status_of(app: &TestApp, user: &str) -> String {
    let (_, v) = app.api(Method::GET, &format!("/staff/{user}"), None).await;
    v["status"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hr_offboards_after_a_confirmation_naming_what_goes_and_gets_a_receipt() {
    let w = world(Db::Sqlite).await;
    let alice = Browser::sign_in(&w.app, "alice").await;
    let (s, to) = alice
        .post("/me/issue", &[("channel", "support-desk"), ("ttl", "1h")])
        .await;
    assert_eq!(s, 303, "{to}");
    let hr = Browser::sign_in(&w.app, "hana").await;

    let (s, page) = hr.get("/console/people?q=ALI").await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("person-alice") && !page.contains("person-bob"));
    // A LIKE wildcard typed in the search is a character, not "everyone".
    let (_, page) = hr.get("/console/people?q=%25").await;
    assert!(page.contains("Nobody matches"), "{page}");

    let (s, page) = hr.get("/console/people/alice").await;
    assert_eq!(s, 200);
    assert!(page.contains("support-desk") && page.contains("id=\"offboard\""));

    // Step one names what will be revoked and changes nothing.
    let (s, page) = hr
        .get("/console/people/alice/offboard?reason=last+day")
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(
        page.contains("<strong>1</strong>"),
        "one live token named: {page}"
    );
    assert_eq!(status_of(&w.app, "alice").await, "active");

    // A forged form token does nothing.
    let (s, _) = hr
        .post_raw(
            "/console/people/alice/offboard",
            &[("csrf", "forged"), ("reason", "x")],
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(status_of(&w.app, "alice").await, "active");
    // No reason, no offboarding.
    let (s, _) = hr
        .post("/console/people/alice/offboard", &[("reason", "  ")])
        .await;
    assert_eq!(s, 400);

    let (s, to) = hr
        .post("/console/people/alice/offboard", &[("reason", "last day")])
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/people/alice/receipt"));
    assert_eq!(status_of(&w.app, "alice").await, "offboarded");
    let (s, receipt) = hr.get("/console/people/alice/receipt").await;
    assert_eq!(s, 200);
    assert!(
        receipt.contains("last day") && receipt.contains("staff:hana"),
        "{receipt}"
    );
    assert!(receipt.contains("id=\"tokens-revoked\">1<"), "{receipt}");
    assert!(receipt.contains("Every replica confirmed"), "{receipt}");

    // The audit log names the person, not a key.
    let (_, audit) = w.app.api(Method::GET, "/audit?limit=500", None).await;
    let by_hana = audit["entries"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .iter()
        .any(|e| e["actor"] == "staff:hana" && e["event"] == "staff.offboard");
    assert!(by_hana, "{audit}");

    // Offboarding twice answers the first receipt, not a second offboarding.
    let (s, to) = hr
        .post("/console/people/alice/offboard", &[("reason", "again")])
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/people/alice/receipt"));
    let (_, receipt) = hr.get("/console/people/alice/receipt").await;
    assert!(receipt.contains("last day") && !receipt.contains("again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_is_shown_in_the_zone_it_was_entered_in_and_can_be_cancelled() {
    let w = world(Db::Sqlite).await;
    let hr = Browser::sign_in(&w.app, "hana").await;
    let (s, to) = hr
        .post(
            "/console/people/bob/schedule",
            &[
                ("at", "2027-06-30T18:00"),
                ("zone", "Europe/Moscow"),
                ("reason", "contract ends"),
            ],
        )
        .await;
    assert_eq!((s, to.as_str()), (303, "/console/people/bob?done=1"));
    let (_, page) = hr.get("/console/people/bob").await;
    assert!(page.contains("2027-06-30 18:00 Europe/Moscow"), "{page}");
    let (_, v) = w
        .app
        .api(Method::GET, "/offboardings/scheduled", None)
        .await;
    assert_eq!(v[0]["at"], "2027-06-30T15:00:00Z", "{v}");
    let id = v[0]["id"].as_i64().unwrap().to_string();

    // A time a clock change skips, an unknown zone, or the past is refused.
    for (at, zone) in [
        ("2027-03-28T02:30", "Europe/Berlin"),
        ("2027-01-01T10:00", "Mars/Base"),
        ("2020-01-01T10:00", "UTC"),
    ] {
        let (s, _) = hr
            .post(
                "/console/people/bob/schedule",
                &[("at", at), ("zone", zone), ("reason", "x")],
            )
            .await;
        assert_eq!(s, 400, "{at} {zone}");
    }
    // A schedule id cancelled from another person's page is refused.
    let (s, _) = hr
        .post("/console/people/alice/schedule/cancel", &[("id", &id)])
        .await;
    assert_eq!(s, 404);
    let (s, _) = hr
        .post("/console/people/bob/schedule/cancel", &[("id", &id)])
        .await;
    assert_eq!(s, 303);
    let (_, v) = w
        .app
        .api(Method::GET, "/offboardings/scheduled", None)
        .await;
    assert_eq!(v.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_made_in_the_console_fires_and_its_receipt_is_listed() {
    let w = world(Db::Sqlite).await;
    let hr = Browser::sign_in(&w.app, "hana").await;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (s, _) = hr
        .post(
            "/console/people/bob/schedule",
            &[("at", &at), ("zone", "UTC"), ("reason", "fixed term ends")],
        )
        .await;
    assert_eq!(s, 303);
    let deadline = Instant::now() + Duration::from_secs(15);
    while status_of(&w.app, "bob").await != "offboarded" {
        assert!(Instant::now() < deadline, "the schedule never fired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (s, page) = hr.get("/console/offboardings?q=bob").await;
    assert_eq!(s, 200);
    assert!(
        page.contains("/console/people/bob/receipt") && page.contains("fixed term ends"),
        "{page}"
    );
    let (_, page) = hr.get("/console/offboardings?q=nobody-like-this").await;
    assert!(!page.contains("/console/people/bob/receipt"));
}
