//! Staff members as the rest of staffgate sees them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{GroupName, Username};

/// Where a staff member is in their life at the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StaffStatus {
    /// Known from the directory, first login not yet done.
    Pending,
    /// May be granted access.
    Active,
    /// Left; every access revoked.
    Offboarded,
}

impl StaffStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(StaffStatus::Pending),
            "active" => Some(StaffStatus::Active),
            "offboarded" => Some(StaffStatus::Offboarded),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Pending => "pending",
            StaffStatus::Active => "active",
            StaffStatus::Offboarded => "offboarded",
        }
    }
}

/// Internal numeric id of a staff member.
pub type StaffId = i64;

/// A staff member with the facts policies are evaluated on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffMember {
    #[serde(skip)]
    pub id: StaffId,
    pub username: Username,
    pub email: String,
    pub name: String,
    pub status: StaffStatus,
    pub groups: Vec<GroupName>,
    /// Extra directory attributes (manager, department…), which policies see as tags.
    pub attributes: Attributes,
    /// Revocation epoch: every token remembers the epoch it was issued at.
    pub epoch: i64,
}

/// Extra directory attributes by name, each with its values.
pub type Attributes = BTreeMap<String, Vec<String>>;
