use super::*;
use crate::domain::ChannelId;
use crate::domain::channel::{ChannelInput, Rule};

/// A channel of `kind` whose rules read on GET and send on POST.
fn spec_of(kind: &ChannelKind, rules: &[&str], preset: Option<&str>) -> ChannelSpec {
    let rules: Vec<Rule> = rules.iter().map(|r| Rule::parse(r).unwrap()).collect();
    let mut spec = ChannelSpec::parse(
        ChannelId::parse("desk").unwrap(),
        ChannelInput {
            kind: Some("bearer"),
            upstream: "https://api.example.org/",
            rules: &["GET /** read".to_owned()],
            ..ChannelInput::default()
        },
    )
    .unwrap();
    spec.kind = kind.clone();
    spec.rules = rules;
    spec.preset = preset.and_then(crate::domain::channel::Preset::parse);
    spec
}

fn go<'a>(
    kind: &ChannelKind,
    method: &'a str,
    rest: &'a str,
    query: Option<&'a str>,
    authorization: Option<&'a str>,
    slot: &'a mut Option<String>,
) -> Result<Routed<'a>, RouteError> {
    let spec = spec_of(kind, &["GET /** read", "POST /** send"], None);
    let incoming = Incoming {
        method,
        rest,
        query,
        authorization,
    };
    route(&spec, incoming, slot)
}

#[test]
fn telegram_tokens_sit_where_the_bot_token_goes() {
    let mut slot = None;
    let r = go(
        &ChannelKind::Telegram,
        "POST",
        "bot12:sgt_x/sendMessage",
        None,
        None,
        &mut slot,
    )
    .unwrap();
    assert_eq!(r.token, "12:sgt_x");
    assert_eq!(r.action, Action::Send);
    assert_eq!(
        r.inject,
        Inject::TelegramPath {
            before: "bot".into(),
            after: "/sendMessage".into()
        }
    );
}

#[test]
fn telegram_methods_map_to_actions_and_bot_admin_is_denied() {
    assert_eq!(telegram_action("getUpdates"), Some(Action::Receive));
    assert_eq!(telegram_action("getMe"), Some(Action::Read));
    assert_eq!(telegram_action("sendMessage"), Some(Action::Send));
    assert_eq!(telegram_action("editMessageText"), Some(Action::Send));
    assert_eq!(telegram_action("setWebhook"), None);
    assert_eq!(telegram_action("deleteWebhook"), None);
    assert_eq!(telegram_action("logOut"), None);
    assert_eq!(telegram_action("setMyCommands"), None);
    assert_eq!(telegram_action("frobnicate"), None);
}

#[test]
fn telegram_file_downloads_are_reads() {
    let mut slot = None;
    let r = go(
        &ChannelKind::Telegram,
        "GET",
        "file/bot1:t/photos/a.jpg",
        None,
        None,
        &mut slot,
    )
    .unwrap();
    assert_eq!(r.action, Action::Read);
    assert_eq!(
        r.inject,
        Inject::TelegramPath {
            before: "file/bot".into(),
            after: "/photos/a.jpg".into()
        }
    );
}

#[test]
fn traversal_and_encoded_separators_are_refused() {
    for rest in [
        "a/../b",
        "..",
        "a/%2e%2e/b",
        "a%2Fb",
        "a%5cb",
        "a\\b",
        "a//b",
        "/etc/passwd",
        "a%00",
        "a b",
        "%252e",
        "public/..;/admin",
        "public/%3b/admin",
        "a%0d%0aHost:x",
        "a%09b",
        "a%7f",
        "a%1F",
        "a%u002fb",
        "a%c0%afb",
        "a%e0%80%afb",
        "a%ef%bc%8fb",
        "x;jsessionid=1",
    ] {
        assert_eq!(check_path(rest), Err(RouteError::BadPath), "{rest}");
    }
    assert!(check_path("v17.0/123/messages").is_ok());
    // Non-ASCII names are ordinary UTF-8: Cyrillic stays allowed.
    assert!(check_path("files/%d0%bf%d1%80%d0%b8%d0%b2%d0%b5%d1%82.txt").is_ok());
}

#[test]
fn bearer_kinds_take_the_authorization_header() {
    let mut slot = None;
    let r = go(
        &ChannelKind::Bearer,
        "GET",
        "v1/messages",
        Some("a=1"),
        Some("Bearer sgt_abc"),
        &mut slot,
    )
    .unwrap();
    assert_eq!(
        (r.token, r.action, r.query.as_deref()),
        ("sgt_abc", Action::Read, Some("a=1"))
    );
    let mut slot = None;
    assert_eq!(
        go(
            &ChannelKind::Bearer,
            "GET",
            "v1",
            None,
            Some("Basic x"),
            &mut slot
        ),
        Err(RouteError::NoToken)
    );
}

#[test]
fn query_kinds_strip_the_callers_parameter_even_when_encoded() {
    let kind = ChannelKind::Query {
        param: "access_token".into(),
    };
    let mut slot = None;
    let r = go(
        &kind,
        "GET",
        "method/messages.get",
        Some("v=5&access%5Ftoken=sgt_q&x=y"),
        None,
        &mut slot,
    )
    .unwrap();
    assert_eq!(r.token, "sgt_q");
    assert_eq!(r.query.as_deref(), Some("v=5&x=y"));
}

fn bearer_call<'a>(
    spec: &ChannelSpec,
    method: &'a str,
    rest: &'a str,
    query: Option<&'a str>,
    slot: &'a mut Option<String>,
) -> Result<Action, RouteError> {
    let incoming = Incoming {
        method,
        rest,
        query,
        authorization: Some("Bearer t"),
    };
    route(spec, incoming, slot).map(|r| r.action)
}

#[test]
fn unmatched_requests_are_unmapped() {
    let spec = spec_of(&ChannelKind::Bearer, &["GET /messages read"], None);
    let mut slot = None;
    let r = bearer_call(&spec, "POST", "messages", None, &mut slot);
    assert_eq!(r, Err(RouteError::Unmapped));
}

#[test]
fn own_rules_come_before_the_preset_and_the_preset_classifies_the_rest() {
    let spec = spec_of(
        &ChannelKind::Bearer,
        &["POST /v21.0/*/media read"],
        Some("whatsapp-cloud"),
    );
    let mut slot = None;
    let action = bearer_call(&spec, "POST", "v21.0/1/media", None, &mut slot);
    assert_eq!(action, Ok(Action::Read));
    let action = bearer_call(&spec, "POST", "v21.0/1/messages", None, &mut slot);
    assert_eq!(action, Ok(Action::Send));
    let action = bearer_call(&spec, "POST", "v21.0/1/register", None, &mut slot);
    assert_eq!(action, Err(RouteError::Unmapped));
    let action = bearer_call(&spec, "GET", "v21.0/5", Some("method=delete"), &mut slot);
    assert_eq!(action, Err(RouteError::MethodOverride));
}

#[test]
fn a_vk_send_over_get_is_a_send() {
    let kind = ChannelKind::Query {
        param: "access_token".into(),
    };
    let spec = spec_of(&kind, &[], Some("vk"));
    let mut slot = None;
    let q = Some("access_token=sgt_q&peer_id=1&message=hi");
    let incoming = Incoming {
        method: "GET",
        rest: "method/messages.send",
        query: q,
        authorization: None,
    };
    let r = route(&spec, incoming, &mut slot).unwrap();
    assert_eq!((r.action, r.token), (Action::Send, "sgt_q"));
}
