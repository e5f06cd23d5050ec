//! The HR, admin and auditor console: server-rendered pages on the same sign-in as the
//! employee pages (password or SSO, then TOTP for everyone), with the role read from the
//! person's directory groups on every request. Every change goes through the same services
//! and permits as the API, under the person's own name.

mod agreements;
mod audit;
mod channels;
mod directory;
mod offboard;
mod offboardings;
mod people;
mod person;
mod review;
mod status;
mod texts;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::AppState;
use super::pages::layout::{message, page as shell};
use super::pages::{Ctx, PageSession, next_step, page_session};
use crate::domain::Role;
use crate::principal::Principal;
pub use texts::ConsoleTexts;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/people") }),
        )
        .route("/console/people", get(people::list))
        .route("/console/people/{username}", get(person::show))
        .route(
            "/console/people/{username}/offboard",
            get(offboard::confirm).post(offboard::offboard),
        )
        .route("/console/people/{username}/receipt", get(offboard::receipt))
        .route(
            "/console/people/{username}/schedule",
            post(offboard::schedule),
        )
        .route(
            "/console/people/{username}/schedule/cancel",
            post(offboard::cancel),
        )
        .route(
            "/console/people/{username}/reinstate",
            post(offboard::reinstate),
        )
        .route(
            "/console/people/{username}/reset-totp",
            post(person::reset_totp),
        )
        .route(
            "/console/people/{username}/revoke-tokens",
            post(person::revoke_tokens),
        )
        .route("/console/offboardings", get(offboardings::list))
        .route("/console/access", get(review::show))
        .route("/console/access.csv", get(review::csv))
        .route("/console/channels", get(channels::list).post(channels::add))
        .route("/console/channels/{id}/secret", post(channels::set_secret))
        .route(
            "/console/channels/{id}/revoke-tokens",
            post(channels::revoke_tokens),
        )
        .route("/console/directory", get(directory::show))
        .route(
            "/console/directory/plans/{id}/confirm",
            post(directory::confirm),
        )
        .route(
            "/console/directory/{source}/dry-run",
            post(directory::dry_run),
        )
        .route("/console/agreements", get(agreements::show))
        .route("/console/agreements.csv", get(agreements::csv))
        .route("/console/audit", get(audit::show))
        .route("/console/status", get(status::show))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
}

/// A console request: a signed-in person past the second factor and first login, whose
/// groups give a console role now.
pub struct Console {
    pub ctx: Ctx,
    pub page: PageSession,
    pub principal: Principal,
}

impl Console {
    pub fn t(&self) -> &'static ConsoleTexts {
        ConsoleTexts::of(self.ctx.lang)
    }

    pub fn role(&self) -> Role {
        self.principal.role()
    }

    /// A console page: the section bar, then `body`. `path` is the page's own path.
    pub fn render(&self, status: StatusCode, title: &str, path: &str, body: Markup) -> Response {
        let t = self.t();
        let sections = [
            ("/console/people", t.people, true),
            ("/console/offboardings", t.offboardings, true),
            ("/console/access", t.access_review, true),
            ("/console/channels", t.channels, true),
            ("/console/directory", t.directory, true),
            ("/console/agreements", t.agreements, true),
            ("/console/audit", t.audit, self.role() != Role::Hr),
            ("/console/status", t.status, true),
        ];
        let who = format!(
            "{} ({})",
            self.page.session.staff.username,
            t.role(self.role())
        );
        let body = html! {
            nav.console aria-label=(t.console) {
                @for (href, name, shown) in sections { @if shown {
                    @if path.starts_with(href) { a href=(href) aria-current="page" { (name) } }
                    @else { a href=(href) { (name) } }
                } }
                a href="/me" { (t.my_access) }
            }
            (body)
        };
        self.ctx.render(
            status,
            shell(self.ctx.lang, title, path, Some(&who), None, body),
        )
    }

    /// A form's checks, in order: the role allows it, and its CSRF token is this session's.
    #[allow(
        clippy::result_large_err,
        reason = "the refusal is the page to send, built only when a form is refused"
    )]
    pub fn form_permit<P>(
        &self,
        permit: Result<P, crate::principal::Forbidden>,
        form: &HashMap<String, String>,
    ) -> Result<P, Response> {
        let Ok(permit) = permit else {
            return Err(self.refused(StatusCode::FORBIDDEN, self.t().not_allowed));
        };
        if !super::pages::csrf_ok(&self.page, form) {
            let expired = self.ctx.lang.texts().form_expired;
            return Err(self.refused(StatusCode::FORBIDDEN, expired));
        }
        Ok(permit)
    }

    /// The page for a refused or failed action, in the console's frame.
    pub fn refused(&self, status: StatusCode, text: &str) -> Response {
        let body = message("error", text);
        self.render(status, self.t().console, "/console", body)
    }
}

impl FromRequestParts<Arc<AppState>> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let page = page_session(state, &parts.headers).await?;
        let facts = state
            .compliance
            .facts(&page.session.staff)
            .await
            .map_err(|e| super::pages::failed(&ctx, &e))?;
        // The console asks for the second factor even where tokens do not (the trial mode).
        let step = if page.session.factor.is_none() {
            Some(if facts.totp_enrolled {
                "/totp"
            } else {
                "/enrol"
            })
        } else {
            next_step(state, &page.session, &facts)
        };
        if let Some(to) = step {
            return Err(Redirect::to(to).into_response());
        }
        match crate::principal::console::from_signed_in(&page.session.staff, &state.console) {
            Some(principal) => Ok(Console {
                ctx,
                page,
                principal,
            }),
            None => {
                let t = ConsoleTexts::of(ctx.lang);
                let who = page.session.staff.username.to_string();
                let body =
                    html! { (message("error", t.no_role)) p { a href="/me" { (t.my_access) } } };
                Err(ctx.render(
                    StatusCode::FORBIDDEN,
                    shell(ctx.lang, t.console, "/console", Some(&who), None, body),
                ))
            }
        }
    }
}

/// A time for the console: `2026-12-03 14:05 UTC`, or "never".
pub fn when(t: &ConsoleTexts, ms: Option<i64>) -> Markup {
    match ms {
        Some(ms) => html! { time datetime=(crate::domain::time::to_datetime(ms).to_rfc3339()) {
        (crate::domain::time::to_datetime(ms).format("%Y-%m-%d %H:%M UTC")) } },
        None => html! { span.muted { (t.never) } },
    }
}

/// A service's refusal in the console's frame: its safe message and stable code; a failure
/// on our side gets the generic page (the cause goes to the log only).
pub fn refusal(c: &Console, e: impl Into<crate::web::error::ApiError>) -> Response {
    let e = e.into();
    if e.status.is_server_error() {
        return super::pages::failed(&c.ctx, &format!("{}: {}", e.code, e.message));
    }
    c.refused(e.status, &format!("{} ({})", e.message, e.code))
}

/// A moment in the zone it was entered in (`2026-12-31 18:00 Europe/Moscow`), else in UTC.
pub fn when_in(t: &ConsoleTexts, ms: i64, zone: Option<&str>) -> Markup {
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => {
            let at = crate::domain::time::to_datetime(ms);
            html! { time datetime=(at.to_rfc3339()) { (at.with_timezone(&tz).format("%Y-%m-%d %H:%M")) " " (tz.name()) } }
        }
        None => when(t, Some(ms)),
    }
}
