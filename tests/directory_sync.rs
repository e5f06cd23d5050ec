//! Directory sync against a real OpenLDAP slapd: full sync, persist-mode leavers and movers,
//! the mass-deprovisioning guard, and resuming from the cookie after a restart.

mod common;

use std::time::{Duration, Instant};

use common::slapd::{self, SUFFIX, Slapd};
use common::upstream::Upstream;
use common::{Db, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

async fn app_for(db: Db, ldap: &Slapd, extra: &str) -> TestApp {
    let sources = ldap.sources(extra);
    TestApp::spawn_with(db, move |c| c.ldap = sources).await
}

/// Waits until the source has finished a full sync or refresh; returns its status.
async fn synced(app: &TestApp, min_syncs: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = app.api(Method::GET, "/sync/status", None).await;
        let s = &v["sources"][0];
        let connected_or_polled = s["connected"] == json!(true) || s["mode"] == "poll";
        if !s["last_sync"].is_null() && connected_or_polled && min_syncs <= 1 {
            return v;
        }
        assert!(Instant::now() < deadline, "source never synced: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn staff(app: &TestApp, name: &str) -> Value {
    app.api(Method::GET, &format!("/staff/{name}"), None)
        .await
        .1
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
                "rules": ["GET /messages read", "POST /messages send"] }),
        "real-channel-secret",
    )
    .await;
}

fn people(uids: &[&str]) -> String {
    uids.iter().map(|u| slapd::person_ldif(u, "pw")).collect()
}

/// Polls a brokered call until it is refused; returns how long that took.
async fn until_refused(app: &TestApp, token: &str, since: Instant) -> (Duration, String) {
    loop {
        let (status, code) = app
            .call(Method::GET, "support-desk", "messages", token)
            .await;
        if status != 200 {
            return (since.elapsed(), code.unwrap_or_default());
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "token still accepted after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn full_sync_creates_the_right_staff_and_groups(db: Db) {
    let ldap = Slapd::start();
    ldap.add(&people(&["alice", "bob"]));
    ldap.add("dn: uid=nomail,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: nomail\ncn: No Mail\nsn: Mail\n\n");
    ldap.add(&slapd::group_ldif("support", &["alice"]));
    ldap.add(&slapd::group_ldif("team-leads", &["alice", "bob"]));
    let app = app_for(db, &ldap, "mode = \"poll\"\npoll_interval = \"1h\"\n[corp.attributes]\nextra = [\"departmentNumber\"]\n").await;
    let status = synced(&app, 1).await;
    let last = &status["sources"][0]["last_sync"];
    assert_eq!(last["joiners"], 2, "{status}");
    assert_eq!(last["skipped"], 1, "{status}");
    assert_eq!(last["verdict"], "apply");

    let alice = staff(&app, "alice").await;
    assert_eq!(
        alice["status"], "pending",
        "joiners wait for their first login: {alice}"
    );
    assert_eq!(alice["groups"], json!(["support", "team-leads"]));
    assert_eq!(alice["email"], "alice@example.org");
    assert_eq!(alice["attributes"]["departmentNumber"], json!(["42"]));
    assert_eq!(staff(&app, "bob").await["groups"], json!(["team-leads"]));
    let (code, _) = app.api(Method::GET, "/staff/nomail", None).await;
    assert_eq!(code, 404, "an entry without mail is skipped, not imported");

    // The sync can also be run on demand, and a dry run changes nothing: through the CLI…
    ldap.add(&people(&["carol"]));
    let out = app.cli(&["sync", "corp", "--dry-run"]);
    assert!(out.contains("1 joiners") && out.contains("carol"), "{out}");
    assert!(out.contains("would apply"), "{out}");
    let out = app.cli(&["sync", "--status"]);
    assert!(out.contains("corp") && out.contains("poll"), "{out}");
    // …and through the API.
    let (code, v) = app.api(Method::POST, "/sync/corp?dry_run=true", None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["plan"]["joiners"][0]["username"], "carol");
    assert_eq!(app.api(Method::GET, "/staff/carol", None).await.0, 404);
    let (code, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["applied"]["joined"], 1);
    assert_eq!(staff(&app, "carol").await["status"], "pending");

    // A person kept by the directory cannot be changed by hand.
    let (code, v) = app
        .api(
            Method::PUT,
            "/staff/alice",
            Some(json!({"email": "x@y.z", "name": "X"})),
        )
        .await;
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (409, Some("staff_managed_by_directory"))
    );
    app.stop().await;
}

async fn a_deleted_or_disabled_user_is_offboarded_within_two_seconds(db: Db) {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    ldap.add(&people(&["alice", "bob", "carol", "dave"]));
    ldap.add(&slapd::group_ldif(
        "support",
        &["alice", "bob", "carol", "dave"],
    ));
    let app = app_for(db, &ldap, "mode = \"persist\"\n").await;
    synced(&app, 1).await;
    support_channel(&app, &upstream).await;
    let mut tokens = Vec::new();
    for who in ["alice", "bob"] {
        activate(&app, who).await;
        let (_, token) = app.issue(who, "support-desk", json!({})).await;
        assert_eq!(
            app.call(Method::GET, "support-desk", "messages", &token)
                .await
                .0,
            200
        );
        tokens.push(token);
    }

    let started = Instant::now();
    ldap.delete(&format!("uid=bob,ou=people,{SUFFIX}"));
    let (took, code) = until_refused(&app, &tokens[1], started).await;
    println!("deleted in slapd -> token rejected: {took:?}");
    assert_eq!(code, "staff_not_active");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    let started = Instant::now();
    ldap.modify(
        &format!("dn: uid=alice,ou=people,{SUFFIX}\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n\n"),
        false,
    );
    let (took, code) = until_refused(&app, &tokens[0], started).await;
    println!("locked in slapd -> token rejected: {took:?}");
    assert_eq!(code, "staff_not_active");
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // The receipt names the source and the rule that fired.
    let receipt = app.offboard("bob").await;
    assert_eq!(receipt["by"], "directory:corp");
    assert_eq!(
        receipt["reason"],
        "directory corp: entry deleted from the directory"
    );
    assert_eq!(receipt["tokens_revoked"], 1);
    let receipt = app.offboard("alice").await;
    assert_eq!(
        receipt["reason"],
        "directory corp: pwdAccountLockedTime: locked by an administrator"
    );
    assert_eq!(
        staff(&app, "carol").await["status"],
        "pending",
        "nobody else was touched"
    );
    app.stop().await;
}

async fn a_group_change_revokes_the_channel_no_longer_permitted(db: Db) {
    let upstream = Upstream::start("real-channel-secret").await;
    let ldap = Slapd::start();
    ldap.add(&people(&["alice", "bob"]));
    ldap.add(&slapd::group_ldif("support", &["alice", "bob"]));
    let app = app_for(db, &ldap, "mode = \"persist\"\n").await;
    synced(&app, 1).await;
    support_channel(&app, &upstream).await;
    activate(&app, "alice").await;
    activate(&app, "bob").await;
    let (alice_id, alice_token) = app.issue("alice", "support-desk", json!({})).await;
    let (_, bob_token) = app.issue("bob", "support-desk", json!({})).await;

    let started = Instant::now();
    ldap.modify(
        &format!("dn: cn=support,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=alice,ou=people,{SUFFIX}\n\n"),
        false,
    );
    let (took, code) = until_refused(&app, &alice_token, started).await;
    println!("moved out of support -> token rejected: {took:?}");
    assert_eq!(
        code, "token_revoked",
        "the token row itself is revoked, not just refused"
    );
    assert_eq!(
        app.call(Method::GET, "support-desk", "messages", &bob_token)
            .await
            .0,
        200
    );
    let alice = staff(&app, "alice").await;
    assert_eq!(alice["status"], "active", "a mover stays active: {alice}");
    assert_eq!(alice["groups"], json!([]));
    let (_, tokens) = app.api(Method::GET, "/tokens?staff=alice", None).await;
    let row = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == alice_id)
        .unwrap()
        .clone();
    assert_eq!(row["state"], "revoked", "{row}");
    app.stop().await;
}

async fn an_empty_or_failing_directory_offboards_nobody(db: Db) {
    let mut ldap = Slapd::start();
    let names: Vec<String> = (0..12).map(|i| format!("user{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ldap.add(&people(&refs));
    let app = app_for(db, &ldap, "mode = \"poll\"\npoll_interval = \"1h\"\n").await;
    synced(&app, 1).await;
    for n in &names {
        activate(&app, n).await;
    }

    // Everyone disappears: the guard holds the plan.
    for n in &names {
        ldap.delete(&format!("uid={n},ou=people,{SUFFIX}"));
    }
    let out = app.cli(&["sync", "corp", "--dry-run"]);
    assert!(
        out.contains("WOULD HOLD") && out.contains("12 leavers"),
        "{out}"
    );
    let (code, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["verdict"]["verdict"], "hold", "{v}");
    assert!(
        v["verdict"]["reason"]
            .as_str()
            .unwrap()
            .contains("no entries"),
        "{v}"
    );
    let plan_id = v["plan_id"].as_i64().unwrap();
    for n in &names {
        assert_eq!(
            staff(&app, n).await["status"],
            "active",
            "{n} was offboarded"
        );
    }
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    assert_eq!(status["held_plans"][0]["id"], plan_id, "{status}");
    // One daemon: it holds the directory lease, so its live state is the one to read.
    assert_eq!(status["runs_here"], true, "{status}");
    assert!(status["runs_on"].is_string(), "{status}");
    let (_, audit) = app.api(Method::GET, "/audit", None).await;
    assert!(audit.to_string().contains("directory.plan_held"), "{audit}");

    // An admin who checked confirms the held plan; only then are people offboarded (the
    // directory, read again, is still empty).
    let (code, v) = app
        .api(Method::GET, &format!("/sync/plans/{plan_id}"), None)
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["plan"]["leavers"].as_array().unwrap().len(), 12);
    let out = app.cli(&["sync", "--confirm", &plan_id.to_string()]);
    assert!(out.contains("12 offboarded"), "{out}");
    assert_eq!(staff(&app, "user00").await["status"], "offboarded");
    let (code, v) = app
        .api(
            Method::POST,
            &format!("/sync/plans/{plan_id}/confirm"),
            None,
        )
        .await;
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (409, Some("sync_plan_not_held"))
    );
    // The directory goes away: an error, reported in the status, with no password in it.
    ldap.kill();
    let (code, v) = app.api(Method::POST, "/sync/corp", None).await;
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (502, Some("directory_unavailable")),
        "{v}"
    );
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    assert!(
        status["sources"][0]["last_error"]["message"].is_string(),
        "{status}"
    );
    assert!(
        !status.to_string().contains(slapd::SYNC_PW),
        "the bind password leaked"
    );

    ldap.resume();
    app.stop().await;
}

async fn a_restart_resumes_from_the_cookie(db: Db) {
    let ldap = Slapd::start();
    let names: Vec<String> = (0..30).map(|i| format!("user{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    ldap.add(&people(&refs));
    let mut app = app_for(db, &ldap, "mode = \"persist\"\n").await;
    let first = synced(&app, 1).await;
    assert_eq!(first["sources"][0]["last_sync"]["entries"], 30, "{first}");
    activate(&app, "user01").await;

    app.halt().await;
    ldap.delete(&format!("uid=user01,ou=people,{SUFFIX}"));
    ldap.modify(
        &format!("dn: uid=user02,ou=people,{SUFFIX}\nchangetype: modify\nreplace: mail\nmail: renamed@example.org\n\n"),
        false,
    );
    app.restart().await;
    let again = synced(&app, 1).await;
    let last = &again["sources"][0]["last_sync"];
    assert!(
        last["entries"].as_u64().unwrap() < 5,
        "a resumed refresh sends only what changed, not all 30 entries: {again}"
    );
    assert_eq!(staff(&app, "user01").await["status"], "offboarded");
    assert_eq!(staff(&app, "user02").await["email"], "renamed@example.org");
    assert_eq!(staff(&app, "user03").await["status"], "pending");
    app.stop().await;
}

async fn nested_groups_from_group_entries(db: Db) {
    let ldap = Slapd::start();
    ldap.add(&people(&["alice"]));
    ldap.add(&slapd::group_ldif("support", &["alice"]));
    ldap.add(&format!(
        "dn: cn=everyone,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: everyone\nmember: cn=support,ou=groups,{SUFFIX}\n\n"
    ));
    let extra = format!(
        "mode = \"poll\"\npoll_interval = \"1h\"\n[corp.groups]\nfrom = \"entries\"\nbase_dn = \"ou=groups,{SUFFIX}\"\nnested = true\n"
    );
    let app = app_for(db, &ldap, &extra).await;
    synced(&app, 1).await;
    assert_eq!(
        staff(&app, "alice").await["groups"],
        json!(["everyone", "support"])
    );
    app.stop().await;
}

async fn polling_finds_changes_between_full_syncs(db: Db) {
    let ldap = Slapd::start();
    ldap.add(&people(&["alice", "bob"]));
    let extra = "mode = \"poll\"\npoll_interval = \"1s\"\nfull_sync_interval = \"1h\"\n";
    let app = app_for(db, &ldap, extra).await;
    synced(&app, 1).await;
    activate(&app, "alice").await;
    let started = Instant::now();
    ldap.modify(
        &format!("dn: uid=alice,ou=people,{SUFFIX}\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n-\nreplace: mail\nmail: alice@new.example.org\n\n"),
        false,
    );
    ldap.add(&people(&["carol"]));
    while staff(&app, "alice").await["status"] != "offboarded" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "polling never saw the lock"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "locked in slapd -> offboarded by polling: {:?}",
        started.elapsed()
    );
    while app.api(Method::GET, "/staff/carol", None).await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "polling never saw the joiner"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, status) = app.api(Method::GET, "/sync/status", None).await;
    assert_eq!(status["sources"][0]["mode"], "poll");
    assert!(
        status["sources"][0]["changes_applied"].as_u64().unwrap() >= 1,
        "{status}"
    );
    app.stop().await;
}

both_backends!(
    polling_finds_changes_between_full_syncs,
    full_sync_creates_the_right_staff_and_groups,
    a_deleted_or_disabled_user_is_offboarded_within_two_seconds,
    a_group_change_revokes_the_channel_no_longer_permitted,
    an_empty_or_failing_directory_offboards_nobody,
    a_restart_resumes_from_the_cookie,
    nested_groups_from_group_entries,
);
