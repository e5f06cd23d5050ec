//! A person as a directory source reports them, before staffgate decides anything.

use serde::{Deserialize, Serialize};

use crate::domain::staff::Attributes;
use crate::domain::{GroupName, Username};

/// One person from a directory source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPerson {
    pub username: Username,
    pub email: String,
    pub name: String,
    pub groups: Vec<GroupName>,
    /// Extra attributes (manager, department…) that policies see as tags.
    pub attributes: Attributes,
    /// The entry's distinguished name.
    pub dn: String,
    /// A stable id that survives renames (`entryUUID`, `objectGUID`), when the source has one.
    pub external_id: Option<String>,
    /// The leaver rule that fired for this entry, if any (`userAccountControl: ACCOUNTDISABLE`).
    pub disabled: Option<String>,
    /// When the account stops working by itself (Unix ms): a scheduled offboarding then.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// An entry the source returned but staffgate could not use, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub dn: String,
    pub reason: String,
}

/// A person a source says is gone, by whatever it still tells about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gone {
    pub dn: Option<String>,
    pub external_id: Option<String>,
}
