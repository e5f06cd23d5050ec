//! Rule tables for well-known channel APIs, from each API's public reference. A preset
//! names the kind (where the secret goes) and classifies requests; a request it does not
//! know is denied, and account configuration (webhooks, registration, callback servers,
//! VK's `execute`, which runs arbitrary calls) is in no table, so it is never brokered.

use super::ChannelKind;
use crate::domain::Action;

/// A known API's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Meta's WhatsApp Cloud API on the Graph API: `Authorization: Bearer`.
    WhatsappCloud,
    /// VK API: `/method/<name>`, token in `access_token`, GET or POST alike.
    Vk,
    /// Viber REST bot API: every call a POST, token in `X-Viber-Auth-Token`.
    Viber,
}

/// Why a preset refused a request it would otherwise classify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetRefusal {
    /// Not a request this API's table knows.
    Unknown,
    /// A parameter asking the API to run another method than the one classified (the
    /// Graph API's `method=`).
    MethodOverride,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::WhatsappCloud, Preset::Vk, Preset::Viber];

    pub fn parse(raw: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == raw)
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::WhatsappCloud => "whatsapp-cloud",
            Preset::Vk => "vk",
            Preset::Viber => "viber",
        }
    }

    /// Where the secret goes for this API.
    pub fn kind(self) -> ChannelKind {
        match self {
            Preset::WhatsappCloud => ChannelKind::Bearer,
            Preset::Vk => ChannelKind::Query {
                param: "access_token".into(),
            },
            Preset::Viber => ChannelKind::Header {
                header: "x-viber-auth-token".into(),
            },
        }
    }

    /// The action of `method` on `path` (below the channel's base, no leading `/`) with
    /// the raw `query`.
    pub fn classify(
        self,
        method: &str,
        path: &str,
        query: Option<&str>,
    ) -> Result<Action, PresetRefusal> {
        match self {
            Preset::WhatsappCloud => graph(method, path, query),
            Preset::Vk => vk(method, path),
            Preset::Viber => table(VIBER, method, path),
        }
    }
}

/// `(method, path pattern, action)`: `*` is one segment, as in channel rules.
type Table = &'static [(&'static str, &'static str, Action)];

fn table(rows: Table, method: &str, path: &str) -> Result<Action, PresetRefusal> {
    rows.iter()
        .find(|(m, p, _)| *m == method && segments_match(p, path))
        .map(|(_, _, a)| *a)
        .ok_or(PresetRefusal::Unknown)
}

fn segments_match(pattern: &str, path: &str) -> bool {
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("*"), Some(h)) if !h.is_empty() => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// Viber REST bot API (developers.viber.com/docs/api/rest-bot-api): `set_webhook` is
/// configuration and is absent.
const VIBER: Table = &[
    ("POST", "send_message", Action::Send),
    ("POST", "broadcast_message", Action::Send),
    ("POST", "post", Action::Send),
    ("POST", "get_account_info", Action::Read),
    ("POST", "get_user_details", Action::Read),
    ("POST", "get_online", Action::Read),
];

/// WhatsApp Cloud API on the Graph API, below an optional version segment (`v21.0/`), so
/// the upstream may or may not name the version. Registration, two-step PINs and webhook
/// subscriptions (`register`, `deregister`, `request_code`, `verify_code`,
/// `subscribed_apps`) are configuration and absent.
const GRAPH: Table = &[
    ("POST", "*/messages", Action::Send),
    ("POST", "*/media", Action::Send),
    ("GET", "*/message_templates", Action::Read),
    ("POST", "*/message_templates", Action::Manage),
    ("DELETE", "*/message_templates", Action::Manage),
    ("GET", "*/phone_numbers", Action::Read),
    ("GET", "*/whatsapp_business_profile", Action::Read),
    ("POST", "*/whatsapp_business_profile", Action::Manage),
    // A node: a media item's URL, a phone number's details.
    ("GET", "*", Action::Read),
    // Deleting a node (uploaded media) removes something from the account.
    ("DELETE", "*", Action::Manage),
];

fn graph(method: &str, path: &str, query: Option<&str>) -> Result<Action, PresetRefusal> {
    // The Graph API honours `method=` as the HTTP method (`GET …?method=delete`).
    let overridden = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k.eq_ignore_ascii_case("method"))
    });
    if overridden {
        return Err(PresetRefusal::MethodOverride);
    }
    let path = match path.split_once('/') {
        Some((first, rest)) if is_graph_version(first) => rest,
        _ if is_graph_version(path) => "",
        _ => path,
    };
    table(GRAPH, method, path)
}

/// `v` digits `.` digits.
fn is_graph_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

fn vk(method: &str, path: &str) -> Result<Action, PresetRefusal> {
    if !matches!(method, "GET" | "POST") {
        return Err(PresetRefusal::Unknown);
    }
    let name = path.strip_prefix("method/").ok_or(PresetRefusal::Unknown)?;
    VK.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .ok_or(PresetRefusal::Unknown)
}

/// VK API methods a community token uses (dev.vk.com/method), by exact name: names are
/// matched as written, so another spelling is unknown and denied. `execute` runs any
/// methods server-side and the callback and long-poll settings are configuration: absent.
const VK: &[(&str, Action)] = &[
    ("messages.getHistory", Action::Read),
    ("messages.getConversations", Action::Read),
    ("messages.getConversationsById", Action::Read),
    ("messages.getConversationMembers", Action::Read),
    ("messages.getById", Action::Read),
    ("messages.getByConversationMessageId", Action::Read),
    ("messages.getHistoryAttachments", Action::Read),
    ("messages.search", Action::Read),
    ("messages.searchConversations", Action::Read),
    ("messages.isMessagesFromGroupAllowed", Action::Read),
    ("groups.getById", Action::Read),
    ("groups.getMembers", Action::Read),
    ("groups.isMember", Action::Read),
    ("groups.getBanned", Action::Read),
    ("groups.getOnlineStatus", Action::Read),
    ("users.get", Action::Read),
    ("utils.resolveScreenName", Action::Read),
    ("wall.get", Action::Read),
    ("wall.getById", Action::Read),
    ("wall.getComments", Action::Read),
    ("board.getTopics", Action::Read),
    ("board.getComments", Action::Read),
    ("market.get", Action::Read),
    ("market.getById", Action::Read),
    ("market.getOrders", Action::Read),
    ("market.getOrderById", Action::Read),
    ("market.getOrderItems", Action::Read),
    ("messages.getLongPollServer", Action::Receive),
    ("groups.getLongPollServer", Action::Receive),
    ("messages.getLongPollHistory", Action::Receive),
    ("messages.send", Action::Send),
    ("messages.edit", Action::Send),
    ("messages.delete", Action::Send),
    ("messages.markAsRead", Action::Send),
    ("messages.markAsAnsweredConversation", Action::Send),
    ("messages.markAsImportantConversation", Action::Send),
    ("messages.setActivity", Action::Send),
    ("messages.sendMessageEventAnswer", Action::Send),
    ("messages.sendReaction", Action::Send),
    ("photos.getMessagesUploadServer", Action::Send),
    ("photos.saveMessagesPhoto", Action::Send),
    ("docs.getMessagesUploadServer", Action::Send),
    ("docs.save", Action::Send),
    ("wall.createComment", Action::Send),
    ("board.createComment", Action::Send),
    ("messages.pin", Action::Manage),
    ("messages.unpin", Action::Manage),
    ("messages.deleteConversation", Action::Manage),
    ("messages.removeChatUser", Action::Manage),
    ("messages.addChatUser", Action::Manage),
    ("messages.editChat", Action::Manage),
    ("messages.deleteChatPhoto", Action::Manage),
    ("messages.getInviteLink", Action::Manage),
    ("groups.ban", Action::Manage),
    ("groups.unban", Action::Manage),
    ("groups.edit", Action::Manage),
    ("groups.editManager", Action::Manage),
    ("groups.approveRequest", Action::Manage),
    ("groups.removeUser", Action::Manage),
    ("wall.delete", Action::Manage),
    ("wall.deleteComment", Action::Manage),
    ("wall.pin", Action::Manage),
    ("wall.unpin", Action::Manage),
    ("board.deleteComment", Action::Manage),
    ("market.add", Action::Pay),
    ("market.edit", Action::Pay),
    ("market.delete", Action::Pay),
    ("market.restore", Action::Pay),
    ("market.editOrder", Action::Pay),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn wa(method: &str, path: &str) -> Result<Action, PresetRefusal> {
        Preset::WhatsappCloud.classify(method, path, None)
    }

    #[test]
    fn whatsapp_sends_messages_and_media_with_or_without_a_version() {
        assert_eq!(wa("POST", "v21.0/1234/messages"), Ok(Action::Send));
        assert_eq!(wa("POST", "1234/messages"), Ok(Action::Send));
        assert_eq!(wa("POST", "v21.0/1234/media"), Ok(Action::Send));
        assert_eq!(wa("GET", "v21.0/5678"), Ok(Action::Read));
        assert_eq!(wa("DELETE", "v21.0/5678"), Ok(Action::Manage));
        assert_eq!(wa("POST", "v21.0/99/message_templates"), Ok(Action::Manage));
    }

    #[test]
    fn whatsapp_registration_webhooks_and_overrides_are_refused() {
        for path in [
            "v21.0/1234/register",
            "v21.0/1234/deregister",
            "v21.0/1234/request_code",
            "v21.0/1234/verify_code",
            "v21.0/99/subscribed_apps",
            "v21.0/1234",
            "v21.0/1234/messages/extra",
        ] {
            assert_eq!(wa("POST", path), Err(PresetRefusal::Unknown), "{path}");
        }
        assert_eq!(
            wa("GET", "v21.0/1234/messages"),
            Err(PresetRefusal::Unknown)
        );
        assert_eq!(wa("GET", ""), Err(PresetRefusal::Unknown));
        for q in [
            "method=delete",
            "METHOD=post",
            "a=1&method=DELETE",
            "%6dethod=delete",
        ] {
            assert_eq!(
                Preset::WhatsappCloud.classify("GET", "v21.0/5678", Some(q)),
                Err(PresetRefusal::MethodOverride),
                "{q}"
            );
        }
    }

    #[test]
    fn vk_classifies_by_method_name_for_get_and_post_alike() {
        for verb in ["GET", "POST"] {
            let vk = |name: &str| Preset::Vk.classify(verb, &format!("method/{name}"), None);
            assert_eq!(vk("messages.send"), Ok(Action::Send));
            assert_eq!(vk("messages.getHistory"), Ok(Action::Read));
            assert_eq!(vk("groups.getLongPollServer"), Ok(Action::Receive));
            assert_eq!(vk("groups.ban"), Ok(Action::Manage));
            assert_eq!(vk("market.editOrder"), Ok(Action::Pay));
        }
    }

    #[test]
    fn vk_configuration_execute_and_other_spellings_are_unknown() {
        for name in [
            "execute",
            "groups.setCallbackSettings",
            "groups.addCallbackServer",
            "groups.setLongPollSettings",
            "Messages.Send",
            "messages.send/",
            "messages.send/x",
            "",
        ] {
            let got = Preset::Vk.classify("GET", &format!("method/{name}"), None);
            assert_eq!(got, Err(PresetRefusal::Unknown), "{name}");
        }
        assert_eq!(
            Preset::Vk.classify("DELETE", "method/messages.send", None),
            Err(PresetRefusal::Unknown)
        );
        assert_eq!(
            Preset::Vk.classify("GET", "messages.send", None),
            Err(PresetRefusal::Unknown)
        );
    }

    #[test]
    fn viber_is_post_only_and_has_no_webhook_setting() {
        let vb = |m: &str, p: &str| Preset::Viber.classify(m, p, None);
        assert_eq!(vb("POST", "send_message"), Ok(Action::Send));
        assert_eq!(vb("POST", "get_account_info"), Ok(Action::Read));
        assert_eq!(vb("GET", "get_account_info"), Err(PresetRefusal::Unknown));
        assert_eq!(vb("POST", "set_webhook"), Err(PresetRefusal::Unknown));
    }

    #[test]
    fn every_name_parses_back_and_kinds_are_where_each_api_wants_the_secret() {
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()), Some(p));
        }
        assert_eq!(Preset::parse("whatsapp"), None);
        assert_eq!(Preset::Vk.kind().name(), "query");
        assert_eq!(Preset::Viber.kind().name(), "header");
    }
}
