//! The compliance gate's decision, pure and the one place a [`Cleared`] is minted: token
//! issuance takes a `Cleared`, so an issuance path that skips the gate does not compile.
//! `compliance` reads the facts (TOTP enrolment, the NDA version in force and what the person
//! acknowledged) and asks here.

use crate::domain::staff::{StaffMember, StaffStatus};

/// Which requirements are on (both, unless the deployment turned one off, loudly).
#[derive(Debug, Clone, Copy)]
pub struct Requirements {
    pub totp: bool,
    pub nda: bool,
}

/// How a session met the second-factor requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// staffgate's own TOTP (or a recovery code), passed in this session.
    Totp,
    /// The identity provider's authentication, which the source accepts in place of TOTP
    /// (`accept_idp_mfa` / `accept_acr`): `idp:amr:mfa`, `idp:acr:<value>`.
    Idp(String),
}

impl SecondFactor {
    /// As the audit log and the API name it.
    pub fn label(&self) -> &str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::Idp(how) => how,
        }
    }
}

/// Who asks for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requester {
    /// The person themselves, in a session that met the second factor (and how) or not.
    Session { factor: Option<SecondFactor> },
    /// An admin on the person's behalf: the person must still be enrolled and acknowledged.
    Admin,
}

/// What the gate was told about the person besides their row.
#[derive(Debug, Clone)]
pub struct GateFacts {
    pub totp_enrolled: bool,
    /// The NDA version in force that the person has not acknowledged, if any.
    pub nda_missing: Option<String>,
}

/// Why the gate refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    /// The person is pending (first login not done) or offboarded.
    #[error("staff member is {}, not active", .0.as_str())]
    NotActive(StaffStatus),
    /// No confirmed TOTP enrolment.
    #[error("two-factor authentication is not set up; finish first login")]
    TotpNotEnrolled,
    /// The session asking has not passed the second factor.
    #[error("this session has not passed two-factor authentication")]
    TotpNotVerified,
    /// The NDA version in force is not acknowledged.
    #[error("NDA version {0} is not acknowledged")]
    NdaNotAcknowledged(String),
}

/// Proof that `staff` passed the gate. Only [`clear`] makes one.
pub struct Cleared<'a> {
    staff: &'a StaffMember,
    factor: Option<SecondFactor>,
}

impl<'a> Cleared<'a> {
    pub fn staff(&self) -> &'a StaffMember {
        self.staff
    }

    /// The factor that met the second-factor requirement, when one was asked for and the
    /// person asked in a session.
    pub fn factor(&self) -> Option<&SecondFactor> {
        self.factor.as_ref()
    }
}

/// The gate: an active person, TOTP enrolled (and verified in the asking session), the NDA in
/// force acknowledged; each requirement only when it is on. A session whose identity provider
/// authenticated with a factor the source accepts stands in for TOTP, enrolment included; an
/// admin asking on someone's behalf has no session, so the person's own TOTP enrolment counts.
pub fn clear<'a>(
    staff: &'a StaffMember,
    on: Requirements,
    facts: &GateFacts,
    requester: Requester,
) -> Result<Cleared<'a>, GateRefusal> {
    if staff.status != StaffStatus::Active {
        return Err(GateRefusal::NotActive(staff.status));
    }
    let mut factor = None;
    if on.totp {
        match requester {
            Requester::Session {
                factor: Some(SecondFactor::Idp(how)),
            } => factor = Some(SecondFactor::Idp(how)),
            _ if !facts.totp_enrolled => return Err(GateRefusal::TotpNotEnrolled),
            Requester::Session { factor: None } => return Err(GateRefusal::TotpNotVerified),
            Requester::Session { factor: f } => factor = f,
            Requester::Admin => {}
        }
    }
    if on.nda
        && let Some(version) = &facts.nda_missing
    {
        return Err(GateRefusal::NdaNotAcknowledged(version.clone()));
    }
    Ok(Cleared { staff, factor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(status: StaffStatus) -> StaffMember {
        StaffMember {
            id: 1,
            username: crate::domain::Username::parse("alice").unwrap(),
            email: "alice@example.com".into(),
            name: "Alice".into(),
            status,
            groups: Vec::new(),
            attributes: Default::default(),
            epoch: 0,
        }
    }

    const ALL: Requirements = Requirements {
        totp: true,
        nda: true,
    };

    fn facts(totp: bool, nda_missing: Option<&str>) -> GateFacts {
        GateFacts {
            totp_enrolled: totp,
            nda_missing: nda_missing.map(str::to_owned),
        }
    }

    #[test]
    fn an_active_enrolled_acknowledged_person_in_a_verified_session_is_cleared() {
        let alice = person(StaffStatus::Active);
        let asked = Requester::Session {
            factor: Some(SecondFactor::Totp),
        };
        assert!(clear(&alice, ALL, &facts(true, None), asked).is_ok());
    }

    #[test]
    fn each_missing_requirement_is_named() {
        let alice = person(StaffStatus::Active);
        let verified = Requester::Session {
            factor: Some(SecondFactor::Totp),
        };
        let unverified = Requester::Session { factor: None };
        let refusal = |f: GateFacts, r| clear(&alice, ALL, &f, r).err();
        assert_eq!(
            refusal(facts(false, None), verified.clone()),
            Some(GateRefusal::TotpNotEnrolled)
        );
        assert_eq!(
            refusal(facts(true, None), unverified),
            Some(GateRefusal::TotpNotVerified)
        );
        assert_eq!(
            refusal(facts(true, Some("2026-01")), Requester::Admin),
            Some(GateRefusal::NdaNotAcknowledged("2026-01".into()))
        );
    }

    #[test]
    fn pending_and_offboarded_people_are_refused_whatever_else_holds() {
        for status in [StaffStatus::Pending, StaffStatus::Offboarded] {
            let who = person(status);
            let off = Requirements {
                totp: false,
                nda: false,
            };
            let got = clear(&who, off, &facts(true, None), Requester::Admin).err();
            assert_eq!(got, Some(GateRefusal::NotActive(status)));
        }
    }

    #[test]
    fn requirements_turned_off_are_not_asked() {
        let alice = person(StaffStatus::Active);
        let off = Requirements {
            totp: false,
            nda: false,
        };
        let asked = Requester::Session { factor: None };
        assert!(clear(&alice, off, &facts(false, Some("v9")), asked).is_ok());
    }

    #[test]
    fn an_accepted_idp_factor_stands_in_for_totp_and_is_what_the_gate_records() {
        let alice = person(StaffStatus::Active);
        let idp = SecondFactor::Idp("idp:amr:mfa".into());
        let asked = Requester::Session {
            factor: Some(idp.clone()),
        };
        let cleared = clear(&alice, ALL, &facts(false, None), asked).unwrap();
        assert_eq!(cleared.factor(), Some(&idp));
        let totp = Requester::Session {
            factor: Some(SecondFactor::Totp),
        };
        let cleared = clear(&alice, ALL, &facts(true, None), totp).unwrap();
        assert_eq!(cleared.factor(), Some(&SecondFactor::Totp));
        // The NDA is still asked for.
        let again = Requester::Session {
            factor: Some(idp.clone()),
        };
        assert_eq!(
            clear(&alice, ALL, &facts(false, Some("v2")), again).err(),
            Some(GateRefusal::NdaNotAcknowledged("v2".into()))
        );
        // An admin asking for a person who never enrolled TOTP is refused: the provider's
        // factor belongs to a session, and an admin's request has none.
        assert_eq!(
            clear(&alice, ALL, &facts(false, None), Requester::Admin).err(),
            Some(GateRefusal::TotpNotEnrolled)
        );
    }
}
