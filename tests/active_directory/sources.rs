//! Source setups: base_dn at the domain root over LDAPS, one held plan, Unicode and ranged groups.

use super::*;

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
