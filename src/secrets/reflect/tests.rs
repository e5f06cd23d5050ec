use base64::Engine;

use super::*;

const SECRET: &str = "123456:AAH-x/y+z_Q=&k";

fn masked(secret: &str, text: &str) -> String {
    let m = SecretMatcher::new(secret);
    let mut buf = text.as_bytes().to_vec();
    m.mask(&mut buf);
    String::from_utf8(buf).unwrap()
}

fn gone(secret: &str, text: &str) {
    let out = masked(secret, text);
    assert!(
        !SecretMatcher::new(secret).found_in(out.as_bytes()),
        "still there in {out}"
    );
    assert_eq!(out.len(), text.len(), "masked at the same length");
    assert!(out.contains('*'), "{text} → {out}");
}

#[test]
fn raw_and_percent_encoded_forms_are_masked() {
    gone(SECRET, &format!("token={SECRET}!"));
    let upper: String = form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    gone(SECRET, &format!("q={upper}"));
    let lower: String = SECRET
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02x}")
            }
        })
        .collect();
    gone(SECRET, &format!("q={lower}"));
    let full: String = SECRET.bytes().map(|b| format!("%{b:02x}")).collect();
    gone(SECRET, &format!("q={full}"));
    gone("a b", "x=a+b;");
    gone("a b", "x=a%20b;");
}

#[test]
fn json_escapes_per_character_are_masked() {
    gone(SECRET, &SECRET.replace('/', "\\/"));
    let php: String = SECRET
        .chars()
        .map(|c| {
            if c == ':' {
                "\\u003a".into()
            } else {
                c.to_string()
            }
        })
        .collect();
    gone(SECRET, &format!("{{\"t\":\"{php}\"}}"));
    let all: String = SECRET
        .chars()
        .map(|c| format!("\\u{:04X}", c as u32))
        .collect();
    gone(SECRET, &all);
}

#[test]
fn html_character_references_are_masked() {
    let dec: String = SECRET.chars().map(|c| format!("&#{};", c as u32)).collect();
    gone(SECRET, &format!("<p>{dec}</p>"));
    let hex: String = SECRET
        .chars()
        .map(|c| format!("&#x{:X};", c as u32))
        .collect();
    gone(SECRET, &hex);
    gone(SECRET, &SECRET.replace('&', "&amp;"));
}

#[test]
fn base64_at_every_alignment_and_hex_are_masked() {
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for prefix in ["", "a", "ab", "abc"] {
            let text = engine.encode(format!("{prefix}{SECRET}tail"));
            gone(SECRET, &format!("Basic {text}"));
        }
    }
    gone(SECRET, &hex::encode(SECRET));
    gone(SECRET, &hex::encode_upper(SECRET));
}

#[test]
fn text_without_the_secret_passes_unchanged() {
    let text = "{\"ok\":true,\"result\":{\"id\":1,\"first_name\":\"Support\"}}";
    assert_eq!(masked(SECRET, text), text);
}
