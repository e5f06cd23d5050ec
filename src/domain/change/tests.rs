use serde_json::json;

use super::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// One of each change. `index` below has no wildcard: a new variant does not compile until
/// it is placed there, and the coverage check then asks for a sample of it here.
fn samples() -> Vec<Change> {
    let u = || "alice".to_owned();
    vec![
        Change::StaffPut {
            username: u(),
            status: json!("active"),
            groups: json!(["support"]),
        },
        Change::StaffActivated {
            username: u(),
            reason: "by hand".into(),
        },
        Change::FirstLoginDone {
            username: u(),
            factor: Some("totp".into()),
        },
        Change::StaffOffboarded {
            username: u(),
            staff_id: 7,
            epoch: 3,
            receipt: obj(json!({ "reason": "left", "tokens_revoked": 2 })),
        },
        Change::StaffReinstated {
            username: u(),
            reason: "back".into(),
            status: "pending".into(),
        },
        Change::OffboardingScheduled {
            username: u(),
            schedule_id: 4,
            at: json!("2026-12-31T18:00:00Z"),
            reason: "last day".into(),
        },
        Change::ScheduledOffboardingCancelled {
            schedule: "4".into(),
            schedule_id: 4,
        },
        Change::NdaAcknowledged {
            username: u(),
            version: "2026-01".into(),
            language: "en".into(),
            sha256: "ab".into(),
            address: "127.0.0.1".into(),
        },
        Change::TokenIssued {
            username: u(),
            token_id: 9,
            channel: "desk".into(),
            actions: json!(["read"]),
            expires_at: json!(1),
            factor: Some("idp:amr:mfa".into()),
        },
        Change::TokenRevoked {
            username: u(),
            token_id: 9,
            reason: "x".into(),
            revoked: 1,
        },
        Change::StaffTokensRevoked {
            username: u(),
            reason: "x".into(),
            revoked: 2,
        },
        Change::ChannelTokensRevoked {
            channel: "desk".into(),
            reason: "x".into(),
            revoked: 3,
        },
        Change::ChannelPut {
            channel: "desk".into(),
            definition: obj(json!({ "kind": "bearer", "secret_dropped": true })),
        },
        Change::ChannelSecretSet {
            channel: "desk".into(),
        },
        Change::PoliciesReloaded {
            what: "policies".into(),
            policies: 3,
            nda_versions: 1,
        },
        Change::PolicyReloadRefused {
            what: "nda".into(),
            problems: obj(json!({ "problem": "no text" })),
        },
        Change::RequirementOff {
            setting: "STAFFGATE_REQUIRE_TOTP".into(),
            requirement: "totp".into(),
        },
        Change::DirectorySynced {
            source: "corp".into(),
            joiners: Listed::Items(vec!["bob".into()]),
            movers: Listed::Items(vec![Mover::Named {
                username: "carol".into(),
                changed: json!(["groups"]),
            }]),
            leavers: Listed::Count(0),
            tokens_revoked: 0,
            held_plan: None,
            joined_in_all: Some(1),
            slice: false,
        },
        Change::PlanHeld {
            source: "corp".into(),
            plan_id: 1,
            reason: "too many".into(),
            leavers: 40,
            joiners: 0,
            movers: 0,
        },
        Change::SignedIn {
            username: u(),
            session_id: 5,
            address: "::1".into(),
            status: json!("active"),
        },
        Change::SigninFailed {
            account: "who".into(),
            why: "bad password".into(),
        },
        Change::SignedOut {
            username: u(),
            session_id: 5,
        },
        Change::SignedOutEverywhere {
            username: u(),
            sessions_ended: 2,
        },
        Change::IdpLoggedOut {
            username: u(),
            source: "okta".into(),
            reason: "provider logout".into(),
            sessions_ended: 1,
            tokens_revoked: 2,
        },
        Change::TotpEnrolled {
            username: u(),
            session_id: 5,
        },
        Change::TotpVerified {
            username: u(),
            session_id: 5,
        },
        Change::RecoveryCodeUsed {
            username: u(),
            session_id: 5,
        },
        Change::RecoveryCodesRenewed {
            username: u(),
            session_id: 5,
        },
        Change::TotpFailed { username: u() },
        Change::TotpReplayed { username: u() },
        Change::RecoveryCodeFailed { username: u() },
        Change::TotpLockedOut {
            username: u(),
            failures: 5,
            for_secs: 900,
        },
        Change::TotpReset {
            username: u(),
            reason: "lost phone".into(),
            had_totp: true,
            sessions_ended: 1,
            tokens_revoked: 2,
        },
        Change::ApiKeyCreated {
            name: "ci".into(),
            id: 2,
            role: json!("admin"),
        },
        Change::ApiKeyRevoked {
            key: "2".into(),
            id: 2,
        },
        Change::BootstrapKeyCreated {
            name: "bootstrap-admin".into(),
            id: 1,
        },
        Change::ScimTokenCreated {
            source: "entra".into(),
            id: 3,
        },
        Change::ScimTokenRevoked {
            source: "entra".into(),
            id: 3,
        },
        Change::BrokerDenials {
            what: "broker".into(),
            denials: json!({ "desk": 1 }),
        },
        Change::DatabaseBackedUp {
            backend: "sqlite".into(),
            bytes: 10,
        },
    ]
}

fn index(c: &Change) -> usize {
    match c {
        Change::StaffPut { .. } => 0,
        Change::StaffActivated { .. } => 1,
        Change::FirstLoginDone { .. } => 2,
        Change::StaffOffboarded { .. } => 3,
        Change::StaffReinstated { .. } => 4,
        Change::OffboardingScheduled { .. } => 5,
        Change::ScheduledOffboardingCancelled { .. } => 6,
        Change::NdaAcknowledged { .. } => 7,
        Change::TokenIssued { .. } => 8,
        Change::TokenRevoked { .. } => 9,
        Change::StaffTokensRevoked { .. } => 10,
        Change::ChannelTokensRevoked { .. } => 11,
        Change::ChannelPut { .. } => 12,
        Change::ChannelSecretSet { .. } => 13,
        Change::PoliciesReloaded { .. } => 14,
        Change::PolicyReloadRefused { .. } => 15,
        Change::RequirementOff { .. } => 16,
        Change::DirectorySynced { .. } => 17,
        Change::PlanHeld { .. } => 18,
        Change::SignedIn { .. } => 19,
        Change::SigninFailed { .. } => 20,
        Change::SignedOut { .. } => 21,
        Change::SignedOutEverywhere { .. } => 22,
        Change::TotpEnrolled { .. } => 23,
        Change::TotpVerified { .. } => 24,
        Change::RecoveryCodeUsed { .. } => 25,
        Change::TotpFailed { .. } => 26,
        Change::TotpReplayed { .. } => 27,
        Change::RecoveryCodeFailed { .. } => 28,
        Change::TotpLockedOut { .. } => 29,
        Change::TotpReset { .. } => 30,
        Change::ApiKeyCreated { .. } => 31,
        Change::ApiKeyRevoked { .. } => 32,
        Change::BootstrapKeyCreated { .. } => 33,
        Change::BrokerDenials { .. } => 34,
        Change::DatabaseBackedUp { .. } => 35,
        Change::IdpLoggedOut { .. } => 36,
        Change::ScimTokenCreated { .. } => 37,
        Change::ScimTokenRevoked { .. } => 38,
        Change::RecoveryCodesRenewed { .. } => 39,
    }
}

#[test]
fn every_change_round_trips_through_its_stored_columns() {
    let all = samples();
    let mut seen: Vec<usize> = all.iter().map(index).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        (0..40).collect::<Vec<_>>(),
        "a change without a sample"
    );
    for change in all {
        let (event, subject, details) = change.to_entry();
        assert!(!event.is_empty() && !subject.is_empty(), "{change:?}");
        let details_obj: Value = serde_json::from_str(&details).unwrap();
        assert!(details_obj.get("event").is_none() && details_obj.get("subject").is_none());
        let back = Change::from_entry(&event, &subject, &details).unwrap();
        assert_eq!(back, change, "{event}");
    }
}

#[test]
fn entries_written_before_the_type_read_back() {
    // As the services wrote them: a large import's counts, names without detail.
    let old = r#"{"joiners":30000,"movers":12,"leavers":["bob"],"tokens_revoked":2,"held_plan":null,"joined_in_all":30000}"#;
    let c = Change::from_entry("directory.sync", "corp", old).unwrap();
    let Change::DirectorySynced {
        movers, leavers, ..
    } = &c
    else {
        panic!("{c:?}")
    };
    assert_eq!(movers, &Listed::Count(12));
    assert!(matches!(leavers, Listed::Items(l) if l[0].username() == "bob"));
    assert!(c.removes_access());
    let offboard = r#"{"staff":"alice","reason":"left","tokens_revoked":1,"staff_id":3,"epoch":2}"#;
    let c = Change::from_entry("staff.offboard", "alice", offboard).unwrap();
    assert!(matches!(
        c,
        Change::StaffOffboarded {
            staff_id: 3,
            epoch: 2,
            ..
        }
    ));
}

#[test]
fn an_unknown_or_malformed_entry_is_an_error_not_a_guess() {
    assert!(Change::from_entry("staff.offbaord", "alice", "{}").is_err());
    assert!(Change::from_entry("staff.offboard", "alice", r#"{"epoch":1}"#).is_err());
    assert!(Change::from_entry("staff.offboard", "alice", "[]").is_err());
}

#[test]
fn only_changes_that_can_take_access_away_are_acknowledged() {
    let revoking: Vec<String> = samples()
        .iter()
        .filter(|c| c.removes_access())
        .map(|c| c.to_entry().0)
        .collect();
    assert_eq!(
        revoking,
        [
            "staff.offboard",
            "token.revoke",
            "token.revoke_staff",
            "token.revoke_channel",
            "channel.put",
            "channel.secret_set",
            "policy.reload",
            "directory.sync",
            "signout.provider",
            "totp.reset",
        ]
    );
}
