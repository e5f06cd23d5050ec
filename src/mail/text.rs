//! The mails' words, in English and Russian: a subject, a plain-text body and an HTML body.

use maud::{Markup, html};

use crate::domain::receipt::Receipt;

/// A language a mail can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    pub fn of(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.starts_with("ru") => Lang::Ru,
            _ => Lang::En,
        }
    }
}

/// Subject, text and HTML of one mail.
pub struct Body {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn page(title: &str, content: Markup) -> String {
    html! {
        (maud::DOCTYPE)
        html { head { meta charset="utf-8"; title { (title) } }
               body style="font-family: sans-serif" { h2 { (title) } (content) } }
    }
    .into_string()
}

/// The offboarding receipt, for HR and security (English: their language is not known).
pub fn receipt(r: &Receipt) -> Body {
    let subject = format!("Offboarded: {} ({})", r.name, r.staff);
    let mut text = format!(
        "{} ({} <{}>) was offboarded at {}.\nBy: {}\nReason: {}\n\nRevoked: {} token(s), {} session(s), {} API key(s).\nAudit entry: #{}\n\nChannels:\n",
        r.staff,
        r.name,
        r.email,
        r.offboarded_at.to_rfc3339(),
        r.by,
        r.reason,
        r.tokens_revoked,
        r.sessions_ended,
        r.api_keys_revoked,
        r.audit_seq
    );
    for c in &r.channels {
        text.push_str(&format!(
            "  {}: could {}; {} token(s) revoked; last used {}\n",
            c.channel,
            c.actions.to_list(),
            c.tokens_revoked,
            c.last_used_at.map_or("never".into(), |t| t.to_rfc3339())
        ));
    }
    if r.channels.is_empty() {
        text.push_str("  none reachable\n");
    }
    let html = page(
        &subject,
        html! {
            p { (r.staff) " (" (r.name) " <" (r.email) ">) was offboarded at " (r.offboarded_at.to_rfc3339()) "." }
            p { "By: " (r.by) br; "Reason: " (r.reason) }
            p { "Revoked: " (r.tokens_revoked) " token(s), " (r.sessions_ended) " session(s), "
                (r.api_keys_revoked) " API key(s). Audit entry #" (r.audit_seq) "." }
            table border="1" cellpadding="4" {
                tr { th { "Channel" } th { "Could" } th { "Tokens revoked" } th { "Last used" } }
                @for c in &r.channels {
                    tr { td { (c.channel) } td { (c.actions.to_list()) } td { (c.tokens_revoked) }
                         td { (c.last_used_at.map_or("never".into(), |t| t.to_rfc3339())) } }
                }
            }
        },
    );
    Body {
        subject,
        text,
        html,
    }
}

/// A mail to one person: a greeting, a line, and the link to follow.
fn to_person(subject: String, greeting: &str, line: &str, link: &str) -> Body {
    Body {
        text: format!("{greeting}\n\n{line}\n{link}\n"),
        html: page(
            &subject,
            html! { p { (greeting) } p { (line) } p { a href=(link) { (link) } } },
        ),
        subject,
    }
}

/// A joiner: finish first login.
pub fn first_login(lang: Lang, name: &str, url: &str) -> Body {
    let link = format!("{url}/login");
    let (subject, greeting, line) = match lang {
        Lang::En => (
            "Complete your first login to staffgate".to_owned(),
            format!("Hello, {name}."),
            "You can now reach the company's customer channels through staffgate. Sign in with your company password, set up two-factor authentication and read the NDA:",
        ),
        Lang::Ru => (
            "Завершите первый вход в staffgate".to_owned(),
            format!("Здравствуйте, {name}."),
            "Вам открыт доступ к каналам общения с клиентами через staffgate. Войдите с корпоративным паролем, настройте двухфакторную аутентификацию и прочитайте NDA:",
        ),
    };
    to_person(subject, &greeting, line, &link)
}

/// A new NDA version waits for acknowledgement.
pub fn nda(lang: Lang, name: &str, version: &str, title: &str, url: &str) -> Body {
    let link = format!("{url}/nda");
    let (subject, greeting, line) = match lang {
        Lang::En => (
            format!("Please acknowledge the NDA, version {version}"),
            format!("Hello, {name}."),
            format!(
                "A new version of \"{title}\" is in force. Your tokens work again once you have read and acknowledged it:"
            ),
        ),
        Lang::Ru => (
            format!("Подтвердите NDA, версия {version}"),
            format!("Здравствуйте, {name}."),
            format!(
                "Вступила в силу новая версия «{title}». Токены снова заработают, когда вы прочитаете и подтвердите её:"
            ),
        ),
    };
    to_person(subject, &greeting, &line, &link)
}

/// The mass-deprovisioning guard held a plan: for admins.
pub fn guard(source: &str, plan_id: i64, leavers: usize, reason: &str) -> Body {
    let subject =
        format!("staffgate held a directory sync plan from {source}: {leavers} leaver(s)");
    let line = format!(
        "The mass-deprovisioning guard held plan {plan_id} from directory source {source}: {reason}. Nobody was offboarded."
    );
    let todo = format!(
        "Inspect it with `staffgate sync --status`, and if the leavers are real, apply it with `staffgate sync --confirm {plan_id}`."
    );
    Body {
        text: format!("{line}\n\n{todo}\n"),
        html: page(&subject, html! { p { (line) } p { (todo) } }),
        subject,
    }
}

/// To admins: an offboarding the database refused was recorded only later.
pub fn offboarding_late(username: &str, late_ms: i64, code: &str) -> Body {
    let subject = format!("staffgate recorded the offboarding of {username} late");
    let line = format!(
        "The database refused the offboarding of {username} ({code}); it was recorded {:.1} s later. Meanwhile the replica that was asked refused {username} from memory; other replicas served them until it was recorded.",
        late_ms as f64 / 1000.0
    );
    let todo = "Check the database's disk and connections (`staffgate status`), and the offboarding's receipt.";
    Body {
        text: format!("{line}\n\n{todo}\n"),
        html: page(&subject, html! { p { (line) } p { (todo) } }),
        subject,
    }
}
