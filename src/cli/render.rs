//! Printing API answers for people: aligned tables, CSV, readable receipts.

use serde_json::Value;

/// Prints rows as an aligned table with the given columns (JSON keys).
pub fn table(rows: &[Value], columns: &[(&str, &str)]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|(key, _)| cell(&r[*key])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, title))| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .max()
                .unwrap_or(0)
                .max(title.len())
        })
        .collect();
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(columns.iter().map(|(_, t)| t.to_string()).collect());
    for row in cells {
        line(row);
    }
}

/// One value as a cell: arrays joined with commas, null as "-".
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Rows in the chosen format: an aligned table, CSV with the JSON keys as its header, or
/// JSON. Times are RFC 3339 in all three.
pub fn rows(format: super::Format, rows: &[Value], columns: &[(&str, &str)]) -> anyhow::Result<()> {
    let rows: Vec<Value> = rows.iter().map(with_times).collect();
    match format {
        super::Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        super::Format::Csv => csv(&rows, columns)?,
        super::Format::Table => table(&rows, columns),
    }
    Ok(())
}

/// One record: `field: value` lines, a one-row CSV, or the whole JSON.
pub fn record(format: super::Format, v: &Value, columns: &[(&str, &str)]) -> anyhow::Result<()> {
    let v = with_times(v);
    match format {
        super::Format::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        super::Format::Csv => csv(std::slice::from_ref(&v), columns)?,
        super::Format::Table => {
            let width = columns.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
            for (key, title) in columns {
                println!(
                    "{:<width$}  {}",
                    format!("{title}:"),
                    cell(&v[*key]),
                    width = width + 1
                );
            }
        }
    }
    Ok(())
}

/// A JSON value with epoch-millisecond times (`at`, `*_at`) as RFC 3339, at any depth.
pub fn with_times(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let is_time = k == "at" || k.ends_with("_at");
                    let v = match (is_time, v.as_i64()) {
                        (true, Some(ms)) => {
                            Value::String(crate::domain::time::to_datetime(ms).to_rfc3339())
                        }
                        _ => with_times(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(with_times).collect()),
        other => other.clone(),
    }
}

pub fn csv(rows: &[Value], columns: &[(&str, &str)]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout());
    w.write_record(columns.iter().map(|(k, _)| *k))?;
    for r in rows {
        w.write_record(columns.iter().map(|(k, _)| cell(&r[*k])))?;
    }
    w.flush()?;
    Ok(())
}

pub fn receipt(r: &Value) {
    println!(
        "Offboarded {} ({} <{}>)",
        cell(&r["staff"]),
        cell(&r["name"]),
        cell(&r["email"])
    );
    println!("  when:    {}", cell(&r["offboarded_at"]));
    println!("  by:      {}", cell(&r["by"]));
    println!("  reason:  {}", cell(&r["reason"]));
    println!(
        "  revoked: {} token(s), {} session(s), {} API key(s)",
        cell(&r["tokens_revoked"]),
        cell(&r["sessions_ended"]),
        cell(&r["api_keys_revoked"])
    );
    println!("  audit:   entry #{}", cell(&r["audit_seq"]));
    let channels = r["channels"].as_array().cloned().unwrap_or_default();
    if channels.is_empty() {
        println!("  channels: none reachable");
    } else {
        println!();
        table(
            &channels,
            &[
                ("channel", "CHANNEL"),
                ("actions", "COULD"),
                ("tokens_revoked", "TOKENS REVOKED"),
                ("last_used_at", "LAST USED"),
            ],
        );
    }
    propagation(&r["propagation"]);
}

/// Which replicas applied a change; says plainly which did not and what that means.
fn propagation(p: &Value) {
    let Some(replicas) = p["replicas"].as_array() else {
        return;
    };
    println!();
    let rows: Vec<Value> = replicas
        .iter()
        .map(|r| {
            let after = match r["confirmed_after_ms"].as_i64() {
                Some(ms) => format!("{ms} ms"),
                None => "-".into(),
            };
            serde_json::json!({
                "name": r["name"], "state": r["state"], "after": after,
                "seen": format!("{} ms ago", cell(&r["last_heartbeat_ms_ago"])),
            })
        })
        .collect();
    table(
        &rows,
        &[
            ("name", "REPLICA"),
            ("state", "STATE"),
            ("after", "APPLIED AFTER"),
            ("seen", "LAST HEARTBEAT"),
        ],
    );
    let closed: Vec<String> = replicas
        .iter()
        .filter(|r| r["state"] == "failing_closed")
        .map(|r| cell(&r["name"]))
        .collect();
    let pending: Vec<String> = replicas
        .iter()
        .filter(|r| r["state"] == "pending")
        .map(|r| cell(&r["name"]))
        .collect();
    if p["confirmed"] == true {
        println!("All {} live replica(s) confirmed.", replicas.len());
    }
    if !closed.is_empty() {
        println!(
            "Not confirmed by {}: cut off from the database, refusing every brokered call until they catch up.",
            closed.join(", ")
        );
    }
    if !pending.is_empty() {
        println!("Still pending on {}.", pending.join(", "));
    }
}

/// HR's NDA report: acknowledgements, then who is missing.
pub fn nda_report(v: &Value, format: super::Format) -> anyhow::Result<()> {
    let acked = v["acknowledged"].as_array().cloned().unwrap_or_default();
    let missing = v["missing"].as_array().cloned().unwrap_or_default();
    let cols = [
        ("username", "STAFF"),
        ("name", "NAME"),
        ("version", "VERSION"),
        ("language", "LANG"),
        ("at", "ACKNOWLEDGED"),
        ("address", "FROM"),
        ("text_sha256", "TEXT SHA-256"),
    ];
    match format {
        super::Format::Json => println!("{}", serde_json::to_string_pretty(v)?),
        super::Format::Csv => csv(&acked, &cols)?,
        super::Format::Table => {
            println!(
                "NDA version {}: {} acknowledged, {} missing",
                cell(&v["version"]),
                acked.len(),
                missing.len()
            );
            table(&acked, &cols);
            if !missing.is_empty() {
                println!("\nMISSING");
                table(
                    &missing,
                    &[
                        ("username", "STAFF"),
                        ("name", "NAME"),
                        ("email", "E-MAIL"),
                        ("status", "STATUS"),
                    ],
                );
            }
        }
    }
    Ok(())
}

/// `staffgate status`: replicas, jobs, outbox.
pub fn status(v: &Value) {
    println!(
        "Change log at entry #{}; asked replica {}.",
        cell(&v["log_head"]),
        cell(&v["replica"]["name"])
    );
    println!();
    let replicas: Vec<Value> = rows_of(&v["replicas"])
        .into_iter()
        .map(|mut r| {
            if r["this"] == true {
                r["name"] = Value::String(format!("{} *", cell(&r["name"])));
            }
            r
        })
        .collect();
    table(
        &replicas,
        &[
            ("name", "REPLICA"),
            ("id", "ID"),
            ("state", "STATE"),
            ("lag_entries", "LAG"),
            ("caught_up_ms_ago", "CAUGHT UP (MS AGO)"),
            ("last_heartbeat_ms_ago", "HEARTBEAT (MS AGO)"),
        ],
    );
    println!();
    table(
        &rows_of(&v["jobs"]),
        &[
            ("job", "JOB"),
            ("holder", "RUNS ON"),
            ("expires_in_ms", "LEASE LEFT (MS)"),
        ],
    );
    if let Some(o) = v.get("outbox") {
        println!();
        println!(
            "Mail outbox: {} waiting (oldest {}), {} sent in the last day; last error: {}",
            cell(&o["waiting"]),
            cell(&o["oldest_waiting_at"]),
            cell(&o["sent_last_day"]),
            cell(&o["last_error"])
        );
    }
}

fn rows_of(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// Rows read into the type the daemon answers with, as cells: an answer that no longer
/// parses as that type is an error here rather than a table of blanks.
pub fn typed<T: serde::Serialize>(rows: &[T]) -> anyhow::Result<Vec<Value>> {
    rows.iter()
        .map(|r| serde_json::to_value(r).map_err(Into::into))
        .collect()
}
