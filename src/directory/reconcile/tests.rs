use super::*;
use crate::domain::{GroupName, Username};

fn person(name: &str, groups: &[&str]) -> DirectoryPerson {
    DirectoryPerson {
        username: Username::parse(name).unwrap(),
        email: format!("{name}@example.org"),
        name: name.to_uppercase(),
        groups: groups
            .iter()
            .map(|g| GroupName::parse(g).unwrap())
            .collect(),
        attributes: Default::default(),
        dn: format!("uid={name},ou=people,dc=example,dc=org"),
        external_id: Some(format!("uuid-{name}")),
        disabled: None,
        expires_at: None,
    }
}

fn known(p: &DirectoryPerson, status: StaffStatus, source: &str) -> (StaffMember, Origin) {
    let mut groups = p.groups.clone();
    groups.sort();
    (
        StaffMember {
            id: {
                static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
            username: p.username.clone(),
            email: p.email.clone(),
            name: p.name.clone(),
            status,
            groups,
            attributes: p.attributes.clone(),
            epoch: 0,
        },
        Origin {
            source: source.into(),
            dn: Some(p.dn.clone()),
            external_id: p.external_id.clone(),
            expires_at: None,
        },
    )
}

fn names(plan: &Plan) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    (
        plan.joiners.iter().map(|p| p.username.as_str()).collect(),
        plan.movers
            .iter()
            .map(|m| m.person.username.as_str())
            .collect(),
        plan.leavers.iter().map(|l| l.username.as_str()).collect(),
    )
}

#[test]
fn new_people_join_movers_move_and_missing_people_leave() {
    let alice = person("alice", &["support"]);
    let bob = person("bob", &["sales"]);
    let carol = person("carol", &["support"]);
    let now = vec![
        alice.clone(),
        person("bob", &["support"]),
        person("dave", &[]),
    ];
    let staff = vec![
        known(&alice, StaffStatus::Active, "ldap:corp"),
        known(&bob, StaffStatus::Active, "ldap:corp"),
        known(&carol, StaffStatus::Active, "ldap:corp"),
    ];
    let plan = reconcile("corp", now, vec![], Coverage::Full, &staff);
    assert_eq!(names(&plan), (vec!["dave"], vec!["bob"], vec!["carol"]));
    assert_eq!(plan.movers[0].changed, vec!["groups"]);
    assert_eq!(plan.leavers[0].rule, "entry no longer in the directory");
    assert_eq!(plan.active_before, 3);
}

#[test]
fn a_disabled_entry_is_a_leaver_named_by_its_rule() {
    let alice = person("alice", &[]);
    let mut disabled = alice.clone();
    disabled.disabled = Some("userAccountControl: ACCOUNTDISABLE".into());
    let staff = vec![known(&alice, StaffStatus::Active, "ldap:corp")];
    let plan = reconcile("corp", vec![disabled], vec![], Coverage::Full, &staff);
    assert_eq!(names(&plan), (vec![], vec![], vec!["alice"]));
    assert_eq!(plan.leavers[0].rule, "userAccountControl: ACCOUNTDISABLE");
}

#[test]
fn a_disabled_stranger_is_not_imported() {
    let mut ghost = person("ghost", &[]);
    ghost.disabled = Some("nsAccountLock".into());
    let plan = reconcile("corp", vec![ghost], vec![], Coverage::Full, &[]);
    assert!(plan.is_empty());
    assert!(plan.skipped[0].reason.contains("not imported"));
}

#[test]
fn another_sources_username_is_skipped_not_taken_over() {
    let alice = person("alice", &[]);
    let staff = vec![known(&alice, StaffStatus::Active, "ldap:other")];
    let plan = reconcile("corp", vec![alice], vec![], Coverage::Full, &staff);
    assert!(plan.is_empty());
    assert!(plan.skipped[0].reason.contains("belongs to ldap:other"));
}

#[test]
fn a_person_put_by_hand_is_adopted_by_the_directory() {
    let alice = person("alice", &[]);
    let staff = vec![known(&alice, StaffStatus::Active, "manual")];
    let plan = reconcile("corp", vec![alice], vec![], Coverage::Full, &staff);
    assert_eq!(plan.movers[0].changed, vec!["source"]);
}

#[test]
fn offboarded_people_are_not_brought_back_by_a_sync() {
    let alice = person("alice", &[]);
    let staff = vec![known(&alice, StaffStatus::Offboarded, "ldap:corp")];
    let plan = reconcile("corp", vec![alice], vec![], Coverage::Full, &staff);
    assert!(plan.is_empty());
    assert!(plan.skipped[0].reason.contains("reinstates"));
}

#[test]
fn duplicate_usernames_in_one_answer_are_skipped() {
    let a = person("alice", &[]);
    let mut b = person("alice", &[]);
    b.dn = "uid=alice,ou=contractors,dc=example,dc=org".into();
    let plan = reconcile("corp", vec![a, b], vec![], Coverage::Full, &[]);
    assert_eq!(plan.joiners.len(), 1);
    assert!(plan.skipped[0].reason.contains("appears twice"));
}

#[test]
fn a_change_set_offboards_only_the_people_reported_gone() {
    let alice = person("alice", &[]);
    let bob = person("bob", &[]);
    let staff = vec![
        known(&alice, StaffStatus::Active, "ldap:corp"),
        known(&bob, StaffStatus::Active, "ldap:corp"),
    ];
    let gone = vec![Gone {
        dn: None,
        external_id: Some("uuid-bob".into()),
    }];
    let plan = reconcile("corp", vec![], vec![], Coverage::Changes(gone), &staff);
    assert_eq!(names(&plan), (vec![], vec![], vec!["bob"]));
}

#[test]
fn people_of_other_sources_never_leave_through_this_one() {
    let alice = person("alice", &[]);
    let staff = vec![
        known(&alice, StaffStatus::Active, "manual"),
        known(&person("zed", &[]), StaffStatus::Active, "ldap:other"),
    ];
    let plan = reconcile("corp", vec![], vec![], Coverage::Full, &staff);
    assert!(plan.leavers.is_empty());
}

#[test]
fn a_rename_found_by_stable_id_is_a_mover_not_a_joiner_and_a_leaver() {
    let before = person("erin", &["support"]);
    let known = vec![known(&before, StaffStatus::Active, "ldap:corp")];
    let mut renamed = person("erin.k", &["support"]);
    renamed.external_id = before.external_id.clone();
    renamed.dn = before.dn.clone();
    let plan = reconcile("corp", vec![renamed], vec![], Coverage::Full, &known);
    assert!(plan.joiners.is_empty(), "{plan:?}");
    assert!(plan.leavers.is_empty(), "{plan:?}");
    assert_eq!(plan.movers.len(), 1);
    assert_eq!(plan.movers[0].renamed_from.as_deref(), Some("erin"));
    assert_eq!(plan.movers[0].changed[0], "username");
}

#[test]
fn a_rename_onto_a_taken_username_is_skipped_not_merged() {
    let erin = person("erin", &[]);
    let frank = person("frank", &[]);
    let known = vec![
        known(&erin, StaffStatus::Active, "ldap:corp"),
        known(&frank, StaffStatus::Active, "manual"),
    ];
    let mut renamed = person("frank", &[]);
    renamed.external_id = erin.external_id.clone();
    let plan = reconcile("corp", vec![renamed], vec![], Coverage::Full, &known);
    assert!(
        plan.movers.is_empty() && plan.leavers.is_empty(),
        "{plan:?}"
    );
    assert!(plan.skipped[0].reason.contains("already has"), "{plan:?}");
}
