//! What a request does on a channel.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An action on a channel; policies speak of `Action::"read"`, `Action::"send"` and so on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Fetch messages, history, files.
    Read,
    /// Post, edit, delete.
    Send,
    /// Consume the channel's incoming updates (Telegram `getUpdates`): taking them away
    /// from the production bot.
    Receive,
    /// Administer chats: bans, restrictions, promotions, invite links, pins, chat photo and
    /// title, topics, sticker sets, stories.
    Manage,
    /// Move money: invoices, checkout answers, Stars, gifts, paid media, refunds.
    Pay,
}

/// An action name that is not one of [`Action::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?}: expected read, send, receive, manage or pay")]
pub struct UnknownAction(pub String);

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Read,
        Action::Send,
        Action::Receive,
        Action::Manage,
        Action::Pay,
    ];

    pub fn parse(raw: &str) -> Result<Self, UnknownAction> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == raw)
            .ok_or_else(|| UnknownAction(raw.chars().take(32).collect()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Send => "send",
            Action::Receive => "receive",
            Action::Manage => "manage",
            Action::Pay => "pay",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Action::Read => 1,
            Action::Send => 2,
            Action::Receive => 4,
            Action::Manage => 8,
            Action::Pay => 16,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small set of actions, copied around on the broker's hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActionSet(u8);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);

    pub fn of(actions: impl IntoIterator<Item = Action>) -> Self {
        ActionSet(actions.into_iter().fold(0, |bits, a| bits | a.bit()))
    }

    /// Parses `read,send` as stored and as typed on the command line.
    pub fn parse_list(raw: &str) -> Result<Self, UnknownAction> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Action::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::of)
    }

    pub fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_subset(self, other: ActionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn difference(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & !other.0)
    }

    pub fn with(self, action: Action) -> ActionSet {
        ActionSet(self.0 | action.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    pub fn to_list(self) -> String {
        self.iter()
            .map(Action::as_str)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Serialize for ActionSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ActionSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Action>::deserialize(d).map(ActionSet::of)
    }
}

/// On the wire a set is the list of its actions (`["read","send"]`).
impl utoipa::PartialSchema for ActionSet {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Vec<Action> as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for ActionSet {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Action as utoipa::ToSchema>::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_lists_round_trip() {
        let set = ActionSet::parse_list("send, read").unwrap();
        assert_eq!(set.to_list(), "read,send");
        assert!(ActionSet::parse_list("read,delete").is_err());
        assert!(ActionSet::of([Action::Read]).is_subset(set));
        assert!(!set.is_subset(ActionSet::of([Action::Read])));
    }
}
