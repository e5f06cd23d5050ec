//! The page shell: one stylesheet served by the daemon, no scripts, no external assets.

use axum::http::header;
use axum::response::IntoResponse;
use maud::{DOCTYPE, Markup, html};

use super::i18n::Lang;

const CSS: &str = include_str!("staffgate.css");

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
}

/// Where the person is in first login, for the step indicator (None: not in first login).
pub type Step = Option<usize>;

/// A whole page. `path` is the page's own path, for the language switch.
pub fn page(
    lang: Lang,
    title: &str,
    path: &str,
    who: Option<&str>,
    step: Step,
    body: Markup,
) -> Markup {
    let t = lang.texts();
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · staffgate" }
                link rel="stylesheet" href="/assets/staffgate.css";
            }
            body {
                header {
                    span.brand { "staffgate" }
                    nav {
                        @if lang == Lang::En { strong { "EN" } } @else { a href={ (path) "?lang=en" } { "EN" } }
                        " · "
                        @if lang == Lang::Ru { strong { "RU" } } @else { a href={ (path) "?lang=ru" } { "RU" } }
                        @if let Some(who) = who {
                            span.who { (who) }
                            form.inline method="post" action="/logout" {
                                button.link type="submit" { (t.sign_out) }
                            }
                        }
                    }
                }
                main {
                    @if let Some(current) = step {
                        ol.steps {
                            @for (i, name) in t.steps.iter().enumerate() {
                                li class=(if i == current { "now" } else if i < current { "done" } else { "" }) { (name) }
                            }
                        }
                    }
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A message box; `kind` is `error` or `note`.
pub fn message(kind: &str, text: &str) -> Markup {
    html! { p class={ "msg " (kind) } role="alert" { (text) } }
}
