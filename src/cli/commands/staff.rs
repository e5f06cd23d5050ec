//! `staffgate staff …`: add, list, show, reset TOTP, activate.

use reqwest::Method;
use serde_json::json;

use super::{Client, pretty, render};
use crate::cli::{Format, StaffCmd};
use crate::domain::staff::StaffMember;

pub async fn run(api: &Client, command: StaffCmd, format: Format) -> anyhow::Result<()> {
    match command {
        StaffCmd::Add {
            username,
            email,
            name,
            groups,
            pending,
        } => {
            let status = if pending { "pending" } else { "active" };
            let body = json!({ "email": email, "name": name, "groups": groups, "status": status });
            let path = format!("/staff/{username}");
            pretty(&api.call(Method::PUT, &path, Some(body)).await?);
        }
        StaffCmd::List => {
            let v: Vec<StaffMember> = api.call_as(Method::GET, "/staff", None).await?;
            let cols = [
                ("username", "USERNAME"),
                ("name", "NAME"),
                ("status", "STATUS"),
                ("groups", "GROUPS"),
            ];
            render::rows(format, &render::typed(&v)?, &cols)?;
        }
        StaffCmd::Show { username } => {
            let path = format!("/staff/{username}");
            let v = api.call(Method::GET, &path, None).await?;
            let cols = [
                ("username", "Username"),
                ("name", "Name"),
                ("email", "E-mail"),
                ("status", "Status"),
                ("groups", "Groups"),
            ];
            render::record(format, &v, &cols)?;
        }
        StaffCmd::ResetTotp { username, reason } => {
            let path = format!("/staff/{username}/totp/reset");
            let body = json!({ "reason": reason });
            pretty(&api.call(Method::POST, &path, Some(body)).await?)
        }
        StaffCmd::Activate { username, reason } => {
            let path = format!("/staff/{username}/activate");
            let body = json!({ "reason": reason });
            pretty(&api.call(Method::POST, &path, Some(body)).await?)
        }
    }
    Ok(())
}
