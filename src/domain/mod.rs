//! Domain types: parsed once at the edge, trusted inside. No I/O here.

pub mod action;
pub mod chain;
pub mod change;
pub mod channel;
pub mod credential;
pub mod error_code;
pub mod guard;
pub mod names;
pub mod receipt;
pub mod role;
pub mod staff;
pub mod time;

pub use action::{Action, ActionSet};
pub use error_code::ErrorCode;
pub use names::{ChannelId, GroupName, NameError, Tag, Username};
pub use role::Role;
