//! The receipt an offboarding returns and keeps (its types live in `domain::receipt`).

pub use crate::domain::receipt::{ChannelLine, Receipt};
