use super::*;
use crate::domain::channel::default_rules;

fn go<'a>(
    kind: &ChannelKind,
    method: &str,
    rest: &'a str,
    query: Option<&'a str>,
    auth: Option<&'a str>,
    slot: &'a mut Option<String>,
) -> Result<Routed<'a>, RouteError> {
    route(kind, &default_rules(), method, rest, query, auth, slot)
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

#[test]
fn unmatched_requests_are_unmapped() {
    let rules = vec![crate::domain::channel::Rule::parse("GET /messages read").unwrap()];
    let mut slot = None;
    let r = route(
        &ChannelKind::Bearer,
        &rules,
        "POST",
        "messages",
        None,
        Some("Bearer t"),
        &mut slot,
    );
    assert_eq!(r, Err(RouteError::Unmapped));
}
