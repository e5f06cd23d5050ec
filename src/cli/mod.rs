//! The command line: `serve` runs the daemon; every other command talks to the running
//! daemon's API, so what it does takes effect in the daemon's memory at once.

mod client;
mod commands;
mod render;
mod sync;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use commands::run;

#[derive(Parser)]
#[command(
    name = "staffgate",
    version,
    about = "Brokered, instantly revocable staff access to customer channels"
)]
pub struct Cli {
    /// The daemon's address.
    #[arg(
        long,
        env = "STAFFGATE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true,
        help_heading = "Connection"
    )]
    pub url: String,
    /// Admin API key (default: the bootstrap key file in the data directory).
    #[arg(
        long,
        env = "STAFFGATE_ADMIN_KEY",
        hide_env_values = true,
        global = true,
        help_heading = "Connection"
    )]
    pub admin_key: Option<String>,
    /// Where to find bootstrap-admin.key when no key is given.
    #[arg(
        long,
        env = "STAFFGATE_DATA_DIR",
        default_value = "./staffgate-data",
        global = true,
        help_heading = "Connection"
    )]
    pub data_dir: PathBuf,
    /// How listings and records print: an aligned table, CSV, or JSON (times in RFC 3339).
    #[arg(
        long,
        value_enum,
        default_value = "table",
        global = true,
        help_heading = "Output"
    )]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve {
        /// TOML configuration file; STAFFGATE_* variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Staff members (manual directory source).
    #[command(subcommand)]
    Staff(StaffCmd),
    /// Channels and their secrets.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Cedar policies.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Brokered tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Take every access away from someone now and print the receipt, or schedule it.
    Offboard {
        /// The person leaving.
        username: String,
        /// Why (kept on the receipt and in the audit log; at most 500 characters).
        #[arg(long)]
        reason: String,
        /// The moment to do it (RFC 3339, e.g. 2026-12-31T18:00:00+03:00) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Wait until every live replica confirmed (at most this long; default 10s).
        /// Exits 3 when one did not.
        #[arg(long, num_args = 0..=1, default_missing_value = "10s", value_name = "UP_TO", conflicts_with = "at")]
        wait: Option<String>,
    },
    /// Make an offboarded person active again (no old token comes back).
    Reinstate {
        /// The person coming back.
        username: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Offboarding receipts: every one, newest first, or one person's.
    #[command(subcommand)]
    Offboardings(OffboardingsCmd),
    /// Who can reach which channel, why, and when they last did.
    Access {
        /// Only this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Only this person.
        #[arg(long)]
        staff: Option<String>,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Admin API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// SCIM push sources: the tokens their identity providers present.
    #[command(subcommand)]
    Scim(ScimCmd),
    /// A consistent copy of the embedded SQLite database, made while the daemon serves.
    /// Channel secrets and TOTP seeds stay sealed; back up the master key separately.
    Backup {
        /// Where to write the copy.
        file: PathBuf,
    },
    /// Replicas (lag, readiness), background jobs and who runs them, the mail outbox.
    Status,
    /// Scheduled offboardings: list, or cancel one.
    Scheduled {
        /// Cancel this scheduled offboarding.
        #[arg(long, value_name = "ID")]
        cancel: Option<i64>,
    },
    /// NDA acknowledgements, for HR.
    #[command(subcommand)]
    Nda(NdaCmd),
    /// Sync staff from the directory now and print the plan: joiners, movers, leavers and
    /// the mass-deprovisioning guard's verdict. Without SOURCE, every configured source.
    Sync {
        /// The `[ldap.<name>]` source.
        source: Option<String>,
        /// Show what would change; change nothing.
        #[arg(long, conflicts_with = "confirm")]
        dry_run: bool,
        /// Apply a plan the guard held, by its id (see `--status`).
        #[arg(long, value_name = "PLAN")]
        confirm: Option<i64>,
        /// Print each source's status and the held plans instead.
        #[arg(long, conflicts_with_all = ["confirm", "dry_run", "source"])]
        status: bool,
    },
}

#[derive(Subcommand)]
pub enum OffboardingsCmd {
    /// Every receipt, newest first.
    List {
        /// Only people whose username or name contains this.
        #[arg(long)]
        search: Option<String>,
        /// How many (at most 500).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One person's receipt, with where every replica stands now.
    Show {
        /// The person offboarded.
        username: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand)]
pub enum StaffCmd {
    /// Create or update a staff member.
    Add {
        /// Their login name.
        username: String,
        /// Where receipts and notices about them go.
        #[arg(long)]
        email: String,
        /// Their display name.
        #[arg(long)]
        name: String,
        /// A directory group, as policies test it. Repeatable.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Create as pending (first login not done) instead of active.
        #[arg(long)]
        pending: bool,
    },
    /// Everyone staffgate knows, with status and groups.
    List,
    /// One person's record.
    Show {
        /// The person.
        username: String,
    },
    /// Forget a person's TOTP (lost phone): their sessions and tokens end; they enrol again.
    ResetTotp {
        /// The person.
        username: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Mark a pending person's first login done by hand (where requirements are off).
    Activate {
        /// The person.
        username: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum NdaCmd {
    /// Who acknowledged which NDA version, when and from where; and who is still missing.
    Report {
        /// A version other than the one in force.
        #[arg(long)]
        version: Option<String>,
    },
}

#[derive(Args)]
pub struct ChannelAdd {
    /// The channel's id: lowercase letters, digits and '-' (it is in the broker's path).
    pub id: String,
    /// telegram, bearer, header or query; left out with --preset.
    #[arg(long)]
    pub kind: Option<String>,
    /// A known API's rule table: whatsapp-cloud, vk or viber (sets the kind).
    #[arg(long)]
    pub preset: Option<String>,
    /// The real API's base URL, e.g. https://api.telegram.org/.
    #[arg(long)]
    pub upstream: String,
    /// Header the secret goes in (kind header).
    #[arg(long)]
    pub header: Option<String>,
    /// Query parameter the secret goes in (kind query).
    #[arg(long)]
    pub param: Option<String>,
    /// "METHOD PATH ACTION", e.g. "POST /v17.0/*/messages send". Repeatable.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// Tags policies can test, e.g. support. Repeatable.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
}

#[derive(Subcommand)]
pub enum ChannelCmd {
    /// Create or update a channel.
    Add(ChannelAdd),
    /// Store the channel's secret, read from standard input.
    SetSecret {
        /// The channel.
        id: String,
    },
    /// Every channel: kind, upstream, whether its secret is set.
    List,
    /// Revoke every live token for the channel.
    RevokeTokens {
        /// The channel.
        id: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Validate a policy directory offline.
    Check {
        /// The directory of `.cedar` files.
        #[arg(default_value = "./policies")]
        dir: PathBuf,
    },
    /// Ask the daemon to reload its policies.
    Reload,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Issue a token for a staff member on a channel.
    Issue {
        /// The person the token is bound to.
        #[arg(long)]
        staff: String,
        /// The channel it reaches.
        #[arg(long)]
        channel: String,
        /// Comma-separated: read,send (default: everything policy permits).
        #[arg(long)]
        actions: Option<String>,
        /// Lifetime such as 30m or 2h.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Tokens with their state, expiry and last use.
    List {
        /// Only this person's.
        #[arg(long)]
        staff: Option<String>,
        /// Only this channel's.
        #[arg(long)]
        channel: Option<String>,
    },
    /// Revoke one token by id, or all of one person's with --staff.
    Revoke {
        /// The token's id (see `token list`).
        id: Option<i64>,
        /// Every live token of this person instead.
        #[arg(long)]
        staff: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Entries oldest first, from after SEQ.
    List {
        /// Start after this entry.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// How many (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Check the hash chain; names the first altered, removed or reordered entry.
    Verify,
}

#[derive(Subcommand)]
pub enum ScimCmd {
    /// Bearer tokens for a source's identity provider.
    #[command(subcommand)]
    Token(ScimTokenCmd),
}

#[derive(Subcommand)]
pub enum ScimTokenCmd {
    /// A new token for SOURCE, printed once.
    Create {
        /// The `[scim.<name>]` source.
        source: String,
    },
    /// Every SCIM token: source, created, revoked.
    List,
    /// Revoke one SCIM token.
    Revoke {
        /// The token's id (see `scim token list`).
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// A new key, printed once.
    Create {
        /// What it is for, e.g. hr-portal.
        name: String,
        /// admin, hr or auditor.
        #[arg(long)]
        role: String,
        /// The staff member who holds it (offboarding revokes it).
        #[arg(long)]
        staff: Option<String>,
    },
    /// Every key: role, holder, last use.
    List,
    /// Revoke one key.
    Revoke {
        /// The key's id (see `key list`).
        id: i64,
    },
    /// Print a fresh key text for STAFFGATE_BOOTSTRAP_ADMIN_KEY (offline).
    Generate,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand and every argument says what it is for in `--help`.
    #[test]
    fn every_subcommand_and_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "staffgate", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
