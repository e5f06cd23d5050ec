//! Active Directory against a real Samba 4 domain controller: uSNChanged polling (group
//! removal, direct and through a nested group, disable, deletion and natural expiry each
//! refused within the poll interval plus a second), idle polls that read a few hundred
//! bytes, renames that keep the person, `base_dn` at the domain root over LDAPS, AD
//! sign-in names and bind sub-codes, one held plan per source confirmed on today's facts,
//! Unicode group names, ranged member reads.
//!
//! One DC serves the binary (Samba's ports are fixed); each test works in an OU of its own
//! and uses usernames no other test uses (sAMAccountName is unique in the domain).

mod common;

use std::time::{Duration, Instant};

use common::peers::Proxy;
use common::samba::{self, Ou};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

const POLL: &str = "poll_interval = \"2s\"\nfull_sync_interval = \"1h\"\n";

async fn app_for(ou: &Ou, extra: &str) -> TestApp {
    let sources = ou.sources(extra);
    TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await
}

async fn until_staff(app: &TestApp, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, v) = app.api(Method::GET, &format!("/staff/{name}"), None).await;
        if s == 200 {
            return v;
        }
        assert!(Instant::now() < deadline, "{name} never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn activate(app: &TestApp, name: &str) {
    let (s, v) = app
        .api(
            Method::POST,
            &format!("/staff/{name}/activate"),
            Some(json!({ "reason": "first login done (test)" })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn support_channel(app: &TestApp, upstream: &Upstream) {
    app.add_channel(
        "support-desk",
        json!({ "kind": "bearer", "upstream": upstream.base, "tags": ["support"],
                "rules": ["GET /messages read"] }),
        "real-channel-secret",
    )
    .await;
}

/// A token for a synced person in `support`.
async fn ready(app: &TestApp, name: &str) -> String {
    until_staff(app, name).await;
    activate(app, name).await;
    app.issue(name, "support-desk", json!({})).await.1
}

/// Audit entries of one event.
async fn events(app: &TestApp, event: &str) -> Vec<Value> {
    let (s, v) = app.api(Method::GET, "/audit?limit=1000", None).await;
    assert_eq!(s, 200, "{v}");
    v.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

async fn refused_after(app: &TestApp, token: &str, since: Instant, what: &str) -> Duration {
    loop {
        let (status, _) = app
            .call(Method::GET, "support-desk", "messages", token)
            .await;
        if status != 200 {
            let took = since.elapsed();
            println!("AD {what} -> brokered token refused: {took:?}");
            return took;
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "{what}: token still accepted after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_kind_of_change_is_refused_within_the_poll_interval() {
    let dc = samba::dc();
    let ou = dc.ou("changes");
    for u in ["ch-alice", "ch-bob", "ch-carol", "ch-dave", "ch-erin"] {
        ou.user(u, "pw-1");
    }
    // Erin reaches support only through a nested group.
    ou.group("tier1", &["ch-erin"]);
    ou.group(
        "support",
        &["ch-alice", "ch-bob", "ch-carol", "ch-dave", "tier1"],
    );
    let upstream = Upstream::start("real-channel-secret").await;
    let app = app_for(&ou, POLL).await;
    support_channel(&app, &upstream).await;
    let alice = ready(&app, "ch-alice").await;
    let bob = ready(&app, "ch-bob").await;
    let carol = ready(&app, "ch-carol").await;
    let dave = ready(&app, "ch-dave").await;
    let erin = ready(&app, "ch-erin").await;
    let limit = Duration::from_secs(3); // the 2 s poll interval plus 1 s

    // Only the support group's entry changes: erin's own entry and tier1 stay as they were.
    let t = Instant::now();
    ou.remove_member("support", "tier1");
    assert!(refused_after(&app, &erin, t, "nested group removal").await <= limit);
    let erin_now = until_staff(&app, "ch-erin").await;
    assert_eq!(erin_now["groups"], json!(["tier1"]), "{erin_now}");

    let t = Instant::now();
    ou.remove_member("support", "ch-alice");
    assert!(refused_after(&app, &alice, t, "group removal").await <= limit);
    assert_eq!(until_staff(&app, "ch-alice").await["status"], "active");

    let t = Instant::now();
    ou.disable("ch-bob");
    assert!(refused_after(&app, &bob, t, "disable").await <= limit);

    let t = Instant::now();
    ou.delete("ch-carol");
    assert!(refused_after(&app, &carol, t, "deletion").await <= limit);
    assert_eq!(until_staff(&app, "ch-carol").await["status"], "offboarded");

    // Natural expiry: nothing changes in the directory when the moment passes.
    let ends = chrono::Utc::now().timestamp() + 5;
    ou.expire_at("ch-dave", ends);
    let (_, scheduled) = {
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            let (s, v) = app.api(Method::GET, "/offboardings/scheduled", None).await;
            if v.to_string().contains("ch-dave") || Instant::now() > deadline {
                break (s, v);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(
        scheduled.to_string().contains("the account expires"),
        "{scheduled}"
    );
    // Measured from the moment the account expired.
    let wait = ends * 1000 - chrono::Utc::now().timestamp_millis();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64)).await;
    let t = Instant::now();
    assert!(refused_after(&app, &dave, t, "accountExpires passing").await <= limit);
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    let s = &status["sources"][0];
    assert_eq!(s["mode"], "poll");
    assert_eq!(
        s["last_sync"]["verdict"], "apply",
        "only the first full sync ran: {status}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_idle_poll_reads_a_few_hundred_bytes_not_the_directory() {
    let dc = samba::dc();
    let ou = dc.ou("idle");
    for i in 0..40 {
        ou.user(&format!("idle-{i}"), "pw-1");
    }
    let proxy = Proxy::start("127.0.0.1:389".into()).await;
    let extra = "poll_interval = \"500ms\"\nfull_sync_interval = \"1h\"\n";
    let mut text = ou.source_toml(extra);
    text = text.replace(
        "ldap://127.0.0.1:389",
        &format!("ldap://127.0.0.1:{}", proxy.port),
    );
    let value: toml::Value = toml::from_str(&text).unwrap();
    let sources = staffgate::directory::ldap::config::parse_sources(&value).unwrap();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await;
    until_staff(&app, "idle-39").await;
    // The DC is shared with the other tests of this binary: a window counts only if nothing
    // at all was written to the DC during it.
    for _ in 0..40 {
        // Quiet since a second before the window: no poll in it can carry an older change.
        let usn = dc.highest_usn();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (b0, c0) = (
            proxy.bytes.load(std::sync::atomic::Ordering::SeqCst),
            proxy.closed.load(std::sync::atomic::Ordering::SeqCst),
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (b1, c1) = (
            proxy.bytes.load(std::sync::atomic::Ordering::SeqCst),
            proxy.closed.load(std::sync::atomic::Ordering::SeqCst),
        );
        if dc.highest_usn() != usn {
            continue;
        }
        let polls = c1 - c0;
        assert!(polls >= 3, "only {polls} polls in 3 s");
        let per_poll = (b1 - b0) / polls;
        println!("AD idle poll: {per_poll} bytes per poll over {polls} polls (40 users in scope)");
        let (_, st) = app.api(Method::GET, "/sync/status", None).await;
        assert!(per_poll < 1000, "an idle poll read {per_poll} bytes: {st}");
        app.stop().await;
        return;
    }
    panic!("the DC was never quiet for 3 s");
}

#[tokio::test]
async fn a_renamed_account_keeps_the_person_their_state_and_tokens() {
    let dc = samba::dc();
    let ou = dc.ou("rename");
    ou.user("rn-frank", "pw-1");
    ou.group("support", &["rn-frank"]);
    let upstream = Upstream::start("real-channel-secret").await;
    let app = app_for(&ou, POLL).await;
    support_channel(&app, &upstream).await;
    let token = ready(&app, "rn-frank").await;
    let before = until_staff(&app, "rn-frank").await;
    // objectGUID is kept in the form AD's tools show, worked out here from its raw bytes.
    let ldif = dc.search(
        &ou.user_dn("rn-frank"),
        "(objectClass=user)",
        &["objectGUID"],
    );
    let raw = ldif
        .lines()
        .find_map(|l| l.strip_prefix("objectGUID:: "))
        .expect("objectGUID is binary");
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .unwrap();
    let guid = format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    );
    let dump = app.database_dump().await;
    assert!(
        dump.windows(guid.len()).any(|w| w == guid.as_bytes()),
        "objectGUID stored as {guid}"
    );
    ou.replace("rn-frank", "sAMAccountName", "rn-franklin");
    let after = until_staff(&app, "rn-franklin").await;
    assert_eq!(after["status"], "active", "{after}");
    assert_eq!(after["id"], before["id"], "{after}");
    assert_eq!(
        app.api(Method::GET, "/staff/rn-frank", None).await.0,
        404,
        "the old name is gone, not a second person"
    );
    let (status, _) = app
        .call(Method::GET, "support-desk", "messages", &token)
        .await;
    assert_eq!(status, 200, "the token survives the rename");
    let offboarded = events(&app, "staff.offboard").await;
    assert!(
        offboarded.is_empty(),
        "nobody was offboarded: {offboarded:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn base_dn_at_the_domain_root_over_ldaps_with_the_company_ca() {
    let dc = samba::dc();
    let ou = dc.ou("root");
    ou.user_with(
        "rt-gina",
        "pw-1",
        &format!("mail: rt-gina@example.test\ndepartment: {}\n", ou.name),
    );
    // No mail: the UPN stands in.
    ou.user_with("rt-hugo", "pw-1", &format!("department: {}\n", ou.name));
    ou.group("support", &["rt-gina"]);
    let extra = format!(
        "user_filter = \"(&(objectCategory=person)(objectClass=user)(department={}))\"\n\
         ca_file = \"{}\"\n{POLL}",
        ou.name,
        dc.ca_file.display()
    );
    let text = ou
        .source_toml(&extra)
        .replace("ldap://127.0.0.1:389", "ldaps://127.0.0.1:636")
        .replace(
            &format!("base_dn = \"{}\"", ou.dn),
            &format!("base_dn = \"{}\"", samba::ROOT),
        );
    let value: toml::Value = toml::from_str(&text).unwrap();
    let sources = staffgate::directory::ldap::config::parse_sources(&value).unwrap();
    assert_eq!(sources[0].group_entries.base_dn, samba::ROOT);
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.ldap = sources).await;
    let gina = until_staff(&app, "rt-gina").await;
    assert!(
        gina["groups"].to_string().contains("support"),
        "groups read from the domain root: {gina}"
    );
    let hugo = until_staff(&app, "rt-hugo").await;
    assert_eq!(hugo["email"], "rt-hugo@example.test", "{hugo}");
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    assert!(
        status["sources"][0]["last_error"].is_null(),
        "no error at the domain root: {status}"
    );
    app.stop().await;
}

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

#[tokio::test]
async fn the_guard_holds_one_plan_and_confirms_on_todays_facts() {
    let dc = samba::dc();
    let ou = dc.ou("guard");
    let people: Vec<String> = (0..10).map(|i| format!("gd-{i}")).collect();
    for p in &people {
        ou.user(p, "pw-1");
    }
    // Any leaver trips it: more than 0 people and more than 5% of ten.
    let extra = format!("guard_max_leavers = 0\nguard_max_percent = 5\n{POLL}");
    let app = app_for(&ou, &extra).await;
    for p in &people {
        until_staff(&app, p).await;
    }
    let disable: String = people[..4]
        .iter()
        .map(|p| {
            format!(
                "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n\n",
                ou.user_dn(p)
            )
        })
        .collect();
    dc.modify(&disable);
    // Several polls see the same disabled entries; full syncs are asked for on top.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for _ in 0..3 {
        let (s, v) = app.api(Method::POST, "/sync/corp", None).await;
        assert!(s == 200 || s == 202, "{v}");
    }
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    let held = status["held_plans"].as_array().cloned().unwrap_or_default();
    assert_eq!(held.len(), 1, "one held plan per source: {status}");
    let id = held[0]["id"].as_i64().unwrap();
    let alerts = events(&app, "directory.plan_held").await.len();
    println!("AD guard: {alerts} plan_held entries for 5 s of polls and 3 full syncs");
    // One poll may see the first disable alone: its plan is then superseded by one that
    // carries it along. Full syncs that find the same four make no new alert.
    assert!(alerts <= 2, "the same leavers held again make no new alert");
    // Two are re-enabled before an admin looks.
    ou.enable(&people[0]);
    ou.enable(&people[1]);
    let (s, outcome) = app
        .api(Method::POST, &format!("/sync/plans/{id}/confirm"), None)
        .await;
    assert_eq!(s, 200, "{outcome}");
    let mut dropped: Vec<String> = serde_json::from_value(outcome["dropped_out"].clone()).unwrap();
    dropped.sort();
    assert_eq!(
        dropped,
        vec![people[0].clone(), people[1].clone()],
        "{outcome}"
    );
    for (i, p) in people.iter().enumerate().take(4) {
        let want = if i < 2 { "pending" } else { "offboarded" };
        assert_eq!(until_staff(&app, p).await["status"], want, "{p}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_unicode_group_grants_a_channel_through_policy_and_big_groups_read_whole() {
    let dc = samba::dc();
    let ou = dc.ou("unicode");
    ou.user("uc-ivan", "pw-1");
    ou.user("uc-olga", "pw-1");
    ou.group("Поддержка", &["uc-ivan"]);
    ou.group("R&D (Tier 2)", &["uc-olga"]);
    // A group of 1,600: AD hands out `member` 1,500 at a time.
    let mut ldif = String::new();
    for i in 0..1600 {
        let sam = format!("uc-m{i}");
        ldif.push_str(&format!(
            "dn: {}\nchangetype: add\nobjectClass: user\nsAMAccountName: {sam}\n\
             userPrincipalName: {sam}@example.test\nuserAccountControl: 544\n\n",
            ou.user_dn(&sam)
        ));
    }
    dc.modify(&ldif);
    let mut group = format!(
        "dn: {}\nchangetype: add\nobjectClass: group\nsAMAccountName: big-{}\n",
        ou.group_dn("big"),
        ou.name
    );
    for i in 0..1600 {
        group.push_str(&format!("member: {}\n", ou.user_dn(&format!("uc-m{i}"))));
    }
    group.push_str(&format!("member: {}\n\n", ou.user_dn("uc-olga")));
    dc.modify(&group);

    let upstream = Upstream::start("real-channel-secret").await;
    let app = app_for(&ou, POLL).await;
    std::fs::write(
        app.config.policies.join("russian.cedar"),
        "@id(\"podderzhka\")\npermit (principal in Group::\"Поддержка\", \
         action == Action::\"read\", resource) when { resource.tags.contains(\"support\") };\n",
    )
    .unwrap();
    let (s, v) = app.api(Method::POST, "/policies/reload", None).await;
    assert_eq!(s, 200, "{v}");
    support_channel(&app, &upstream).await;
    let ivan = until_staff(&app, "uc-ivan").await;
    assert_eq!(ivan["groups"], json!(["Поддержка"]), "{ivan}");
    let olga = until_staff(&app, "uc-olga").await;
    let groups = olga["groups"].to_string();
    assert!(
        groups.contains("R&D (Tier 2)") && groups.contains("big"),
        "the name as AD spells it, and the 1,601st member of a ranged group: {olga}"
    );
    let last = until_staff(&app, "uc-m1599").await;
    assert!(last["groups"].to_string().contains("big"), "{last}");
    activate(&app, "uc-ivan").await;
    let (_, token) = app.issue("uc-ivan", "support-desk", json!({})).await;
    let (status, _) = app
        .call(Method::GET, "support-desk", "messages", &token)
        .await;
    assert_eq!(status, 200);
    app.stop().await;
}
