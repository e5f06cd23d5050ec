//! uSNChanged polling: every kind of change refused within the poll interval, idle polls, renames.

use super::*;

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
