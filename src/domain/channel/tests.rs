use super::*;

#[test]
fn rules_match_segments_and_tails() {
    let rule = Rule::parse("POST /v17.0/*/messages send").unwrap();
    assert!(rule.matches("POST", "/v17.0/123/messages"));
    assert!(!rule.matches("GET", "/v17.0/123/messages"));
    assert!(!rule.matches("POST", "/v17.0/123/messages/x"));
    let tail = Rule::parse("GET /media/** read").unwrap();
    assert!(tail.matches("GET", "/media/a/b/c"));
    assert!(!tail.matches("GET", "/other"));
    assert_eq!(tail.to_text(), "GET /media/** read");
}

#[test]
fn bad_rules_are_refused_with_a_reason() {
    assert!(Rule::parse("GET /x").is_err());
    assert!(Rule::parse("get /x read").is_err());
    assert!(Rule::parse("GET x read").is_err());
    assert!(Rule::parse("GET /**/x read").is_err());
    assert!(Rule::parse("GET /x write").is_err());
}

#[test]
fn upstreams_refuse_credentials_and_odd_schemes() {
    assert!(
        Upstream::parse("http://127.0.0.1:9/api")
            .unwrap()
            .as_str()
            .ends_with("/api/")
    );
    assert!(Upstream::parse("ftp://x").is_err());
    assert!(Upstream::parse("http://u:p@x/").is_err());
    assert!(Upstream::parse("http://x/?a=b").is_err());
}

const SOME_RULES: &[String] = &[];

fn spec(upstream: &str, insecure: bool) -> Result<ChannelSpec, ChannelSpecError> {
    ChannelSpec::parse(
        ChannelId::parse("desk").unwrap(),
        ChannelInput {
            kind: Some("bearer"),
            upstream,
            insecure_upstream: insecure,
            preset: Some("whatsapp-cloud"),
            ..ChannelInput::default()
        },
    )
}

fn generic(input: ChannelInput<'_>) -> Result<ChannelSpec, ChannelSpecError> {
    ChannelSpec::parse(
        ChannelId::parse("desk").unwrap(),
        ChannelInput {
            upstream: "https://api.example.org/",
            ..input
        },
    )
}

#[test]
fn a_generic_channel_without_rules_or_preset_brokers_nothing_and_says_so() {
    let e = generic(ChannelInput {
        kind: Some("bearer"),
        rules: SOME_RULES,
        ..ChannelInput::default()
    })
    .unwrap_err();
    assert_eq!(e, ChannelSpecError::NoRules("bearer"));
    assert!(e.to_string().contains("preset"), "{e}");
    let rules = ["GET /x read".to_owned()];
    let ok = generic(ChannelInput {
        kind: Some("bearer"),
        rules: &rules,
        ..ChannelInput::default()
    })
    .unwrap();
    assert_eq!(ok.rules.len(), 1);
    assert_eq!(ok.preset, None);
}

#[test]
fn a_preset_names_the_kind_and_refuses_a_different_one() {
    let vk = generic(ChannelInput {
        preset: Some("vk"),
        ..ChannelInput::default()
    })
    .unwrap();
    assert_eq!(
        vk.kind,
        ChannelKind::Query {
            param: "access_token".into()
        }
    );
    let viber = generic(ChannelInput {
        kind: Some("header"),
        header: Some("X-Viber-Auth-Token"),
        preset: Some("viber"),
        ..ChannelInput::default()
    });
    assert!(viber.is_ok());
    for (kind, header, param) in [
        (Some("bearer"), None, None),
        (Some("query"), None, Some("token")),
        (None, Some("x-other"), None),
    ] {
        let e = generic(ChannelInput {
            kind,
            header,
            param,
            preset: Some("vk"),
            ..ChannelInput::default()
        })
        .unwrap_err();
        assert!(matches!(e, ChannelSpecError::PresetKind { .. }), "{e}");
    }
    let e = generic(ChannelInput {
        preset: Some("whatsapp"),
        ..ChannelInput::default()
    })
    .unwrap_err();
    assert_eq!(e, ChannelSpecError::UnknownPreset("whatsapp".into()));
    let e = generic(ChannelInput {
        kind: Some("telegram"),
        preset: Some("viber"),
        ..ChannelInput::default()
    })
    .unwrap_err();
    assert!(matches!(e, ChannelSpecError::PresetKind { .. }), "{e}");
}

#[test]
fn plain_http_goes_only_to_this_machine_unless_said_insecure() {
    assert!(spec("http://127.0.0.1:9/", false).is_ok());
    assert!(spec("http://localhost:9/", false).is_ok());
    assert!(spec("http://[::1]:9/", false).is_ok());
    assert!(spec("https://api.example.org/", false).is_ok());
    let e = spec("http://api.example.org/", false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("insecure_upstream"), "{e}");
    assert!(spec("http://api.example.org/", true).is_ok());
}

#[test]
fn a_new_origin_or_kind_is_a_new_destination() {
    let a = spec("https://graph.example.org/v17/", false).unwrap();
    assert!(a.same_destination(&spec("https://graph.example.org/v18/", false).unwrap()));
    assert!(!a.same_destination(&spec("https://evil.example.org/v17/", false).unwrap()));
    assert!(!a.same_destination(&spec("https://graph.example.org:8443/v17/", false).unwrap()));
    assert!(!a.same_destination(&spec("http://127.0.0.1:9/", false).unwrap()));
}
