use std::collections::HashMap;

use super::*;
use crate::directory::ldap::config::parse_sources;

fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> SearchEntry {
    SearchEntry {
        dn: dn.into(),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect::<HashMap<_, _>>(),
        bin_attrs: HashMap::new(),
    }
}

fn source(extra: &str) -> LdapSource {
    let text = format!(
        "[corp]\nurl = \"ldap://127.0.0.1:1\"\nbind_dn = \"cn=sync\"\nbind_password = \"pw\"\n\
         base_dn = \"dc=example,dc=org\"\n{extra}"
    );
    let value: toml::Value = toml::from_str(&text).unwrap();
    parse_sources(&value).unwrap().remove(0)
}

const NOW: i64 = 1_800_000_000;

#[test]
fn active_directory_disabled_bit_fires() {
    let e = entry("cn=a", &[("userAccountControl", &["514"])]);
    assert_eq!(
        leaver_rule(&e, NOW).unwrap(),
        "userAccountControl: ACCOUNTDISABLE"
    );
    let normal = entry("cn=a", &[("userAccountControl", &["512"])]);
    assert_eq!(leaver_rule(&normal, NOW), None);
}

#[test]
fn active_directory_expiry_fires_only_in_the_past() {
    let to_filetime = |unix: i64| ((unix + FILETIME_UNIX_OFFSET) * 10_000_000).to_string();
    let past = entry("cn=a", &[("accountExpires", &[&to_filetime(NOW - 60)])]);
    assert!(leaver_rule(&past, NOW).unwrap().contains("accountExpires"));
    let future = entry("cn=a", &[("accountExpires", &[&to_filetime(NOW + 60)])]);
    assert_eq!(leaver_rule(&future, NOW), None);
    let never = entry("cn=a", &[("accountExpires", &["9223372036854775807"])]);
    assert_eq!(leaver_rule(&never, NOW), None);
    assert_eq!(
        leaver_rule(&entry("cn=a", &[("accountExpires", &["0"])]), NOW),
        None
    );
}

#[test]
fn a_password_lockout_is_not_a_departure_but_an_admin_lock_is() {
    let temporary = entry("cn=a", &[("pwdAccountLockedTime", &["20261129120000Z"])]);
    assert_eq!(leaver_rule(&temporary, NOW), None);
    let admin = entry("cn=a", &[("pwdAccountLockedTime", &["000001010000Z"])]);
    assert!(leaver_rule(&admin, NOW).unwrap().contains("administrator"));
}

#[test]
fn freeipa_account_lock_fires() {
    let e = entry("cn=a", &[("nsAccountLock", &["TRUE"])]);
    assert_eq!(leaver_rule(&e, NOW).unwrap(), "nsAccountLock: TRUE");
    assert_eq!(
        leaver_rule(&entry("cn=a", &[("nsAccountLock", &["false"])]), NOW),
        None
    );
}

#[test]
fn first_rdn_values_are_unescaped() {
    assert_eq!(
        first_rdn_value("cn=Support Team,ou=groups").unwrap(),
        "Support Team"
    );
    assert_eq!(first_rdn_value("cn=a\\,b,ou=x").unwrap(), "a,b");
    assert_eq!(first_rdn_value("cn=a\\2Cb,ou=x").unwrap(), "a,b");
    assert_eq!(first_rdn_value("garbage"), None);
    assert_eq!(first_rdn_value("cn=,ou=x"), None);
}

#[test]
fn nested_groups_are_followed_and_cycles_end() {
    let groups = vec![
        (
            "cn=all,ou=g".into(),
            "all".into(),
            vec!["cn=support,ou=g".into()],
        ),
        (
            "cn=support,ou=g".into(),
            "support".into(),
            vec!["uid=alice,ou=p".into(), "cn=all,ou=g".into()],
        ),
        (
            "cn=sales,ou=g".into(),
            "sales".into(),
            vec!["UID=Bob, ou=p".into()],
        ),
    ];
    let index = GroupIndex::build(groups.clone(), true);
    let names = |v: Vec<GroupName>| v.into_iter().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        names(index.of("uid=alice,ou=p", "alice")),
        vec!["all", "support"]
    );
    assert_eq!(names(index.of("uid=bob,ou=p", "bob")), vec!["sales"]);
    let flat = GroupIndex::build(groups, false);
    assert_eq!(names(flat.of("uid=alice,ou=p", "alice")), vec!["support"]);
}

#[test]
fn an_entry_maps_to_a_person_with_groups_manager_and_extras() {
    let src = source("[corp.attributes]\nextra = [\"departmentNumber\"]\n");
    let e = entry(
        "uid=alice,ou=people,dc=example,dc=org",
        &[
            ("uid", &["alice"]),
            ("mail", &["alice@example.org"]),
            ("cn", &["Alice Liddell"]),
            ("entryUUID", &["0b5e8c1a-0000-4000-8000-000000000001"]),
            (
                "memberOf",
                &["cn=support-operators,ou=groups,dc=example,dc=org"],
            ),
            ("manager", &["uid=carol,ou=people,dc=example,dc=org"]),
            ("departmentNumber", &["42"]),
        ],
    );
    let disabled = HashSet::new();
    let cx = MapContext {
        source: &src,
        groups: None,
        disabled: &disabled,
        now: NOW,
    };
    let p = person(&cx, &e).unwrap();
    assert_eq!(p.username.as_str(), "alice");
    assert_eq!(p.groups[0].as_str(), "support-operators");
    assert_eq!(p.attributes["manager"], vec!["carol"]);
    assert_eq!(p.attributes["departmentNumber"], vec!["42"]);
    assert_eq!(
        p.external_id.as_deref(),
        Some("0b5e8c1a-0000-4000-8000-000000000001")
    );
    assert_eq!(p.disabled, None);
}

#[test]
fn entries_missing_mapped_attributes_or_with_bad_usernames_are_skipped() {
    let src = source("");
    let disabled = HashSet::new();
    let cx = MapContext {
        source: &src,
        groups: None,
        disabled: &disabled,
        now: NOW,
    };
    let no_mail = entry("uid=a,dc=x", &[("uid", &["a"])]);
    assert_eq!(person(&cx, &no_mail).unwrap_err().reason, "missing mail");
    let injected = entry("uid=x,dc=x", &[("uid", &["a*)(uid=*"]), ("mail", &["a@x"])]);
    assert!(
        person(&cx, &injected)
            .unwrap_err()
            .reason
            .starts_with("uid:")
    );
    let no_uid = entry("cn=x,dc=x", &[("mail", &["a@x"])]);
    assert_eq!(person(&cx, &no_uid).unwrap_err().reason, "missing uid");
}

#[test]
fn the_disabled_filter_marks_its_matches() {
    let src = source("disabled_filter = \"(employeeType=left)\"\n");
    let disabled = HashSet::from([normalize_dn("uid=a,dc=x")]);
    let cx = MapContext {
        source: &src,
        groups: None,
        disabled: &disabled,
        now: NOW,
    };
    let e = entry("uid=a,dc=x", &[("uid", &["a"]), ("mail", &["a@x"])]);
    assert_eq!(
        person(&cx, &e).unwrap().disabled.unwrap(),
        "disabled_filter matched"
    );
}

#[test]
fn bad_source_settings_are_all_reported_by_key() {
    let text = "[corp]\nurl = \"http://x\"\nbind_dn = \"\"\nbase_dn = \"dc=x\"\n\
                user_filter = \"(uid=\"\npage_size = 5000\n";
    let value: toml::Value = toml::from_str(text).unwrap();
    let problems = parse_sources(&value).unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    for want in [
        "ldap.corp.url",
        "ldap.corp.bind_password",
        "ldap.corp.bind_dn",
        "ldap.corp.user_filter",
        "ldap.corp.page_size",
    ] {
        assert!(keys.contains(&want), "{want} missing from {keys:?}");
    }
}
