use std::path::Path;

use super::*;
use crate::domain::staff::StaffStatus;
use crate::domain::{GroupName, Username};

fn member(groups: &[&str]) -> StaffMember {
    StaffMember {
        id: 1,
        username: Username::parse("alice").unwrap(),
        email: "alice@example.com".into(),
        name: "Alice".into(),
        status: StaffStatus::Active,
        groups: groups
            .iter()
            .map(|g| GroupName::parse(g).unwrap())
            .collect(),
        attributes: Default::default(),
        epoch: 0,
    }
}

fn channel(tags: &[&str]) -> ChannelFacts {
    ChannelFacts {
        id: ChannelId::parse("telegram-support").unwrap(),
        kind: "telegram",
        tags: tags.iter().map(|t| Tag::parse(t).unwrap()).collect(),
    }
}

fn shipped() -> Engine {
    Engine::new(load_dir(Path::new("policies")).expect("shipped policies load"))
}

#[test]
fn support_operators_read_and_send_on_support_channels() {
    let reach = shipped().reach(&member(&["support"]), &channel(&["support"]));
    assert_eq!(reach.actions, ActionSet::of([Action::Read, Action::Send]));
    assert!(reach.policies.contains("support-operators"));
}

#[test]
fn nobody_reaches_anything_without_a_policy() {
    assert!(
        shipped()
            .reach(&member(&["sales"]), &channel(&["support"]))
            .actions
            .is_empty()
    );
}

#[test]
fn forbid_beats_permit() {
    let reach = shipped().reach(
        &member(&["support", "interns"]),
        &channel(&["support", "vip"]),
    );
    assert_eq!(reach.actions, ActionSet::of([Action::Read]));
}

#[test]
fn a_policy_with_a_typo_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        "policies/schema.cedarschema",
        dir.path().join("schema.cedarschema"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.cedar"),
        "// one\npermit (principal, action, resource)\nwhen { resource.colour == \"red\" };\n",
    )
    .unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].file.ends_with("bad.cedar"));
    assert!(err.0[0].line >= 2, "{err}");

    std::fs::write(
        dir.path().join("bad.cedar"),
        "permit (principal action, resource);\n",
    )
    .unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert_eq!(err.0[0].line, 1, "{err}");
}

#[test]
fn cached_decisions_are_dropped_on_invalidate() {
    let engine = shipped();
    let staff = member(&["support"]);
    assert!(!engine.permitted(&staff, &channel(&["support"])).is_empty());
    engine.invalidate();
    assert!(engine.permitted(&staff, &channel(&[])).is_empty());
}

#[test]
fn a_decision_from_a_snapshot_older_than_a_change_is_not_kept() {
    let engine = shipped();
    let facts = channel(&["support"]);
    // Read before the snapshot; then the person moves out of support (snapshot updated,
    // generation moved): the stale snapshot's allow must not be cached.
    let generation = engine.generation();
    let stale = member(&["support"]);
    engine.invalidate();
    assert!(
        !engine
            .permitted_as_of(&stale, &facts, generation)
            .is_empty()
    );
    assert!(
        engine.cache.read().unwrap().is_empty(),
        "a stale allow was kept"
    );
    let moved = member(&[]);
    assert!(engine.permitted(&moved, &facts).is_empty());
}
