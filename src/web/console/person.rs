//! One person: status, source, groups and tags, every channel they reach with the actions
//! and the policies that grant them, live tokens, sessions, agreements and TOTP; and what
//! HR and admins may do about them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::{Console, ConsoleTexts, when, when_in};
use crate::domain::Role;
use crate::domain::Username;
use crate::domain::staff::{StaffMember, StaffStatus};
use crate::web::AppState;
use crate::web::pages::failed;
use crate::web::pages::layout::message;

/// The person named in the path, or the console's "no such person" page.
pub async fn find(s: &AppState, c: &Console, raw: &str) -> Result<StaffMember, Response> {
    let not_found = || c.refused(StatusCode::NOT_FOUND, c.t().not_found);
    let username = Username::parse(raw).map_err(|_| not_found())?;
    match s.directory.get(&username).await {
        Ok(staff) => Ok(staff),
        Err(crate::directory::DirectoryError::NotFound(_)) => Err(not_found()),
        Err(e) => Err(failed(&c.ctx, &e)),
    }
}

pub async fn show(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let staff = match find(&s, &c, &raw).await {
        Ok(staff) => staff,
        Err(page) => return page,
    };
    let t = c.t();
    let facts = s.compliance.facts(&staff);
    let tokens = s.tokens.list(Some(staff.username.as_str()), None);
    let sessions = s.signin.sessions(staff.id);
    let acks = s.compliance.acknowledgements_of(staff.id);
    let scheduled = s.offboarding.scheduled();
    let (facts, tokens, sessions, acks, scheduled) =
        match tokio::join!(facts, tokens, sessions, acks, scheduled) {
            (Ok(f), Ok(tk), Ok(ss), Ok(a), Ok(sc)) => (f, tk, ss, a, sc),
            _ => return failed(&c.ctx, &"reading a person's page failed"),
        };
    let live: Vec<_> = tokens.into_iter().filter(|t| t.state == "live").collect();
    let mine: Vec<_> = scheduled
        .into_iter()
        .filter(|r| r.staff == staff.username.as_str())
        .collect();
    let reach = s.registry.reachable(&s.engine, &staff);
    let words = c.ctx.lang.texts();
    let done = q.contains_key("done");
    let body = html! {
        @if done { (message("note", t.done)) }
        dl.facts {
            dt { (t.name) } dd { (staff.name) }
            dt { (t.email) } dd { (staff.email) }
            dt { (t.status_col) } dd #status { (t.staff_status(staff.status)) }
            dt { (t.groups) } dd { @for (i, g) in staff.groups.iter().enumerate() { @if i > 0 { ", " } (g.as_str()) } }
            @if !staff.attributes.is_empty() {
                dt { (t.tags) } dd { @for (k, v) in &staff.attributes { (k) ": " (v.join(", ")) br; } }
            }
            dt { (t.totp) } dd { (if facts.totp_enrolled { t.totp_enrolled } else { t.totp_missing }) }
            @for r in &mine { dt { (t.scheduled_for) } dd.bad { (when_in(t, r.at, r.zone.as_deref())) " — " (r.reason) } }
        }
        h2 { (t.reaches) }
        @if reach.is_empty() { p.muted { (t.reaches_nothing) } } @else {
            div.scroll tabindex="0" { table #reach { tr { th { (t.channel) } th { (t.actions) } th { (t.granted_by) } }
                @for r in &reach { tr {
                    td { (r.channel.spec.id.as_str()) }
                    td { (words.actions_in_words(r.reach.actions)) }
                    td { @for p in &r.reach.policies { code { (p) } " " } }
                } } } }
        }
        h2 { (t.tokens) }
        @if live.is_empty() { p.muted { (t.none) } } @else {
            div.scroll tabindex="0" { table #tokens { tr { th { "#" } th { (t.channel) } th { (t.actions) } th { (t.issued) } th { (t.expires) } th { (t.last_use) } }
                @for tok in &live { tr {
                    td { (tok.id) } td { (tok.channel.as_str()) } td { (words.actions_in_words(tok.actions)) }
                    td { (when(t, Some(tok.issued_at.timestamp_millis()))) }
                    td { (when(t, Some(tok.expires_at.timestamp_millis()))) }
                    td { (when(t, tok.last_used_at.map(|d| d.timestamp_millis()))) }
                } } } }
        }
        h2 { (t.sessions) }
        @if sessions.is_empty() { p.muted { (t.none) } } @else {
            div.scroll tabindex="0" { table #sessions { tr { th { (t.started) } th { (t.device) } th { (t.from) } }
                @for ss in &sessions { tr {
                    td { (when(t, Some(ss.created_at))) }
                    td { (crate::web::pages::device::name(&ss.user_agent)) }
                    td { (ss.address) }
                } } } }
        }
        h2 { (t.agreements_signed) }
        @if acks.is_empty() { p.muted { (t.none) } } @else {
            table #agreements { tr { th { (t.version) } th { (t.when) } }
                @for a in &acks { tr { td { (a.version) } td { (when(t, Some(a.at))) } } } }
        }
        (actions(&c, t, &staff, &mine, live.len()))
    };
    let path = format!("/console/people/{}", staff.username);
    c.render(StatusCode::OK, staff.username.as_str(), &path, body)
}

/// The forms a role may use; an auditor gets none (and the POSTs refuse them too).
fn actions(
    c: &Console,
    t: &ConsoleTexts,
    staff: &StaffMember,
    scheduled: &[crate::store::schedule::ScheduledRow],
    live: usize,
) -> Markup {
    let base = format!("/console/people/{}", staff.username);
    let hr = matches!(c.role(), Role::Hr | Role::Admin);
    let csrf = &c.page.csrf;
    html! {
        @if hr && staff.status != StaffStatus::Offboarded {
            h2 { (t.offboard_now) }
            form #offboard method="get" action={ (base) "/offboard" } {
                label for="reason" { (t.reason) }
                input #reason type="text" name="reason" required maxlength="500";
                button.danger type="submit" { (t.review_first) }
            }
            h2 { (t.schedule) }
            form #schedule method="post" action={ (base) "/schedule" } {
                input type="hidden" name="csrf" value=(csrf);
                label for="at" { (t.schedule_at) }
                input #at type="datetime-local" name="at" required;
                label for="zone" { (t.zone) }
                input #zone type="text" name="zone" value="UTC" required maxlength="64";
                label for="schedule-reason" { (t.reason) }
                input #schedule-reason type="text" name="reason" required maxlength="500";
                button.secondary type="submit" { (t.schedule_button) }
            }
            @for r in scheduled {
                form.inline method="post" action={ (base) "/schedule/cancel" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="id" value=(r.id);
                    button.secondary id={ "cancel-" (r.id) } type="submit" { (t.cancel_schedule) " (" (when_in(t, r.at, r.zone.as_deref())) ")" }
                }
            }
            @if live > 0 {
                form method="post" action={ (base) "/revoke-tokens" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary #revoke-tokens type="submit" { (t.revoke_tokens) " (" (live) ")" }
                }
            }
        }
        @if hr && staff.status == StaffStatus::Offboarded {
            p { a href={ (base) "/receipt" } { (t.receipt) } }
            form #reinstate method="post" action={ (base) "/reinstate" } {
                input type="hidden" name="csrf" value=(csrf);
                label for="reinstate-reason" { (t.reason) }
                input #reinstate-reason type="text" name="reason" required maxlength="500";
                button.secondary type="submit" { (t.reinstate) }
            }
        }
        @if c.role() == Role::Admin && staff.status != StaffStatus::Offboarded {
            form method="post" action={ (base) "/reset-totp" } {
                input type="hidden" name="csrf" value=(csrf);
                button.secondary #reset-totp type="submit" { (t.reset_totp) }
            }
        }
    }
}

/// A POST about the person in the path: the role's permit, the form's token, then the person.
pub async fn person_form<P>(
    s: &AppState,
    c: &Console,
    permit: Result<P, crate::principal::Forbidden>,
    raw: &str,
    form: &HashMap<String, String>,
) -> Result<(P, StaffMember), Response> {
    let permit = c.form_permit(permit, form)?;
    Ok((permit, find(s, c, raw).await?))
}

/// After a change: back to the person's page (a refresh does not repeat it).
pub fn back(username: &Username) -> Response {
    Redirect::to(&format!("/console/people/{username}?done=1")).into_response()
}

pub async fn reset_totp(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (permit, staff) = match person_form(&s, &c, c.principal.admin(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    match s
        .signin
        .reset_totp(&permit, &staff.username, "reset in the console")
        .await
    {
        Ok(()) => back(&staff.username),
        Err(e) => failed(&c.ctx, &e),
    }
}

pub async fn revoke_tokens(
    State(s): State<Arc<AppState>>,
    c: Console,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (permit, staff) = match person_form(&s, &c, c.principal.hr(), &raw, &form).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    match s
        .tokens
        .revoke_staff(&permit, &staff, "revoked in the console")
        .await
    {
        Ok(_) => back(&staff.username),
        Err(e) => failed(&c.ctx, &e),
    }
}
