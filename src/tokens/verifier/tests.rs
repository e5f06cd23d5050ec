use super::*;
use crate::domain::credential::{CredentialKind, generate};
use crate::domain::{Action, Username};

fn staff(id: StaffId, status: StaffStatus, epoch: i64) -> StaffMember {
    StaffMember {
        id,
        username: Username::parse("alice").unwrap(),
        email: String::new(),
        name: String::new(),
        status,
        groups: vec![],
        attributes: Default::default(),
        epoch,
    }
}

fn grant(staff_id: StaffId, epoch: i64, expires_at: Millis) -> Grant {
    Grant {
        token_id: 1,
        staff_id,
        channel: ChannelId::parse("c").unwrap(),
        actions: ActionSet::of([Action::Read]),
        expires_at,
        epoch,
        revoked: false,
    }
}

fn setup() -> (Verifier, CredentialHash) {
    let v = Verifier::default();
    v.put_staff(staff(7, StaffStatus::Active, 3));
    let (_, hash) = generate(CredentialKind::BrokeredToken).unwrap();
    v.add_token(hash, grant(7, 3, 1_000));
    (v, hash)
}

#[test]
fn a_live_token_verifies() {
    let (v, hash) = setup();
    assert_eq!(v.verify(&hash, 10).unwrap().grant.staff_id, 7);
}

#[test]
fn each_refusal_has_its_own_reason() {
    let (v, hash) = setup();
    assert_eq!(v.verify(&hash, 1_000).unwrap_err(), Denial::Expired);
    let (_, other) = generate(CredentialKind::BrokeredToken).unwrap();
    assert_eq!(v.verify(&other, 10).unwrap_err(), Denial::Unknown);
    v.revoke([hash]);
    assert_eq!(v.verify(&hash, 10).unwrap_err(), Denial::Revoked);
}

#[test]
fn offboarding_kills_every_token_of_the_person_at_once() {
    let (v, hash) = setup();
    let changes = v.subscribe();
    v.offboard(7, 4, []);
    assert_eq!(v.verify(&hash, 10).unwrap_err(), Denial::StaffNotActive);
    assert!(changes.has_changed().unwrap());
}

#[test]
fn a_token_from_an_older_epoch_stays_dead_after_reinstatement() {
    let (v, hash) = setup();
    v.offboard(7, 4, []);
    // Reinstatement keeps the bumped epoch.
    v.put_staff(staff(7, StaffStatus::Active, 4));
    assert_eq!(v.verify(&hash, 10).unwrap_err(), Denial::StaleEpoch);
}

#[test]
fn a_late_read_from_before_an_offboarding_does_not_make_the_leaver_active() {
    let (v, hash) = setup();
    v.offboard(7, 4, []);
    // A replica's re-read taken before the offboarding committed arrives after it.
    v.put_staff(staff(7, StaffStatus::Active, 3));
    assert_eq!(v.verify(&hash, 10).unwrap_err(), Denial::StaffNotActive);
    assert!(!v.staff_active(7));
}

#[test]
fn a_refresh_never_brings_a_revoked_token_back() {
    let v = Verifier::default();
    v.put_staff(staff(1, StaffStatus::Active, 0));
    let (_, hash) = generate(CredentialKind::BrokeredToken).unwrap();
    v.add_token(hash, grant(1, 0, i64::MAX));
    v.revoke([hash]);
    // A stale read of the row, from before the revocation, arrives late.
    v.add_token(hash, grant(1, 0, i64::MAX));
    assert_eq!(v.verify(&hash, 0).unwrap_err(), Denial::Revoked);
}
