use super::*;

fn doc(name: &str, ext: Option<&str>, active: bool) -> UserDoc {
    UserDoc {
        user_name: name.into(),
        external_id: ext.map(str::to_owned),
        active,
        ..UserDoc::default()
    }
}

fn row(id: &str, name: &str, ext: &str, at: Millis) -> Stored {
    Stored {
        id: id.into(),
        doc: doc(name, Some(ext), true),
        updated_at: at,
        deleted: false,
    }
}

fn pulled(id: &str, name: &str, active: bool) -> PulledUser {
    PulledUser {
        id: id.into(),
        doc: doc(name, None, active),
    }
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("new{n}")
    }
}

#[test]
fn new_users_are_inserted_with_the_providers_id_as_external_id() {
    let m = merge(
        &[],
        vec![pulled("p1", "alice", true), pulled("p2", "gone", false)],
        100,
        ids(),
    );
    assert_eq!(m.inserts.len(), 1);
    assert_eq!(m.inserts[0].0, "new1");
    assert_eq!(m.inserts[0].1.external_id.as_deref(), Some("p1"));
    assert_eq!(
        m.people.len(),
        1,
        "a user never known and not active is nobody"
    );
}

#[test]
fn a_pushed_user_is_found_by_external_id_or_user_name_and_is_one_person() {
    let rows = [row("s1", "alice", "p1", 10), row("s2", "Bob", "other", 10)];
    let m = merge(
        &rows,
        vec![pulled("p1", "alice", true), pulled("p9", "bob", true)],
        100,
        ids(),
    );
    assert!(m.inserts.is_empty());
    let people: Vec<&str> = m.people.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(people, ["s1", "s2"]);
    assert_eq!(
        m.updates.len(),
        1,
        "bob's userName is written as the list has it"
    );
    assert_eq!(m.updates[0].1.user_name, "bob");
    assert_eq!(
        m.updates[0].1.external_id.as_deref(),
        Some("other"),
        "the externalId the provider pushed stays"
    );
}

#[test]
fn unlisted_users_are_deleted_unless_pushed_after_the_pull_began() {
    let rows = [row("s1", "alice", "p1", 10), row("s2", "bob", "p2", 200)];
    let m = merge(&rows, vec![], 100, ids());
    assert_eq!(m.deletes, ["s1"]);
    let unlisted: Vec<(&str, bool)> = m
        .people
        .iter()
        .map(|p| (p.id.as_str(), p.unlisted))
        .collect();
    assert_eq!(unlisted, [("s1", true), ("s2", false)]);
}

#[test]
fn a_deactivation_is_written_but_a_pull_never_reactivates_or_undeletes() {
    let mut off = row("s1", "alice", "p1", 10);
    off.doc.active = false;
    let mut deleted = row("s2", "bob", "p2", 10);
    deleted.deleted = true;
    let on = row("s3", "carol", "p3", 10);
    let m = merge(
        &[off, deleted, on],
        vec![
            pulled("p1", "alice", true),
            pulled("p2", "bob", true),
            pulled("p3", "carol", false),
        ],
        100,
        ids(),
    );
    assert!(m.inserts.is_empty(), "bob is not created again");
    assert_eq!(m.skipped.len(), 1);
    let active: Vec<(&str, bool)> = m
        .people
        .iter()
        .map(|p| (p.id.as_str(), p.doc.active))
        .collect();
    assert_eq!(active, [("s1", false), ("s3", false)]);
    assert_eq!(m.updates.len(), 1);
    assert_eq!(m.updates[0].0, "s3");
}

#[test]
fn a_push_newer_than_the_pull_wins() {
    let mut pushed = row("s1", "alice", "p1", 150);
    pushed.doc.active = false;
    let m = merge(&[pushed], vec![pulled("p1", "alice", true)], 100, ids());
    assert!(m.updates.is_empty());
    assert!(!m.people[0].doc.active);
}

#[test]
fn a_list_naming_one_user_twice_keeps_the_first() {
    let m = merge(
        &[],
        vec![
            pulled("p1", "alice", true),
            pulled("p2", "ALICE", true),
            pulled("p1", "x", true),
        ],
        100,
        ids(),
    );
    assert_eq!(m.inserts.len(), 1);
    assert_eq!(m.skipped.len(), 2);
}
