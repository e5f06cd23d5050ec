//! SCIM 2.0 (RFC 7643/7644) as a source of staff: the pure cores an identity provider's
//! pushes go through — the User and Group resources as staffgate keeps them, the filter
//! grammar it answers, PATCH as Entra, Okta and the RFC send it, and a provider's list
//! pages. The service provider hands what these produce to the directory's reconcile, guard
//! and apply, like every other source; `pull` reads a provider's lists (the one part here
//! that does I/O, with `leavers`).

pub mod filter;
pub mod leavers;
pub mod listing;
pub mod merge;
pub mod patch;
pub mod pull;
pub mod user;

/// Why a SCIM request was refused: an HTTP status and, where RFC 7644 §3.12 names one, a
/// `scimType`. Messages never echo a value the client sent beyond a short attribute path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    #[error("the request body is not valid SCIM JSON: {0}")]
    InvalidSyntax(String),
    #[error("the filter is outside the supported grammar: {0}")]
    InvalidFilter(String),
    #[error("the PATCH path is not one staffgate knows: {0}")]
    InvalidPath(String),
    #[error("the value is not valid for {0}")]
    InvalidValue(String),
    #[error("{0} cannot be changed")]
    Mutability(String),
    #[error("userName {0} is already taken")]
    Uniqueness(String),
    #[error("a PATCH that deactivates the user must not change anything else")]
    DeactivateAlone,
}

impl ScimError {
    /// The HTTP status and `scimType` of the error body.
    pub fn status_and_type(&self) -> (u16, Option<&'static str>) {
        match self {
            ScimError::InvalidSyntax(_) => (400, Some("invalidSyntax")),
            ScimError::InvalidFilter(_) => (400, Some("invalidFilter")),
            ScimError::InvalidPath(_) => (400, Some("invalidPath")),
            ScimError::InvalidValue(_) | ScimError::DeactivateAlone => (400, Some("invalidValue")),
            ScimError::Mutability(_) => (400, Some("mutability")),
            ScimError::Uniqueness(_) => (409, Some("uniqueness")),
        }
    }
}

/// The schema URNs staffgate reads and writes.
pub mod schemas {
    pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
}
