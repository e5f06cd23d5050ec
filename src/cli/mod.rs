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
        global = true
    )]
    pub url: String,
    /// Admin API key (default: the bootstrap key file in the data directory).
    #[arg(
        long,
        env = "STAFFGATE_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    pub admin_key: Option<String>,
    /// Where to find bootstrap-admin.key when no key is given.
    #[arg(
        long,
        env = "STAFFGATE_DATA_DIR",
        default_value = "./staffgate-data",
        global = true
    )]
    pub data_dir: PathBuf,
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
        username: String,
        #[arg(long)]
        reason: String,
        /// The moment to do it (RFC 3339, e.g. 2026-12-31T18:00:00+03:00) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Wait until every live replica confirmed (at most this long; default 10s).
        /// Exits 3 when one did not.
        #[arg(long, num_args = 0..=1, default_missing_value = "10s", value_name = "UP_TO", conflicts_with = "at")]
        wait: Option<String>,
        /// Print the receipt as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an offboarded person active again (no old token comes back).
    Reinstate {
        username: String,
        #[arg(long)]
        reason: String,
    },
    /// Who can reach which channel, why, and when they last did.
    Access {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        #[arg(long)]
        channel: Option<String>,
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
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
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
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long = "group")]
        groups: Vec<String>,
        /// Create as pending (first login not done) instead of active.
        #[arg(long)]
        pending: bool,
    },
    List,
    Show {
        username: String,
    },
    /// Forget a person's TOTP (lost phone): their sessions and tokens end; they enrol again.
    ResetTotp {
        username: String,
        #[arg(long)]
        reason: String,
    },
    /// Mark a pending person's first login done by hand (where requirements are off).
    Activate {
        username: String,
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
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(Args)]
pub struct ChannelAdd {
    pub id: String,
    /// telegram, bearer, header or query; left out with --preset.
    #[arg(long)]
    pub kind: Option<String>,
    /// A known API's rule table: whatsapp-cloud, vk or viber (sets the kind).
    #[arg(long)]
    pub preset: Option<String>,
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
        id: String,
    },
    List,
    /// Revoke every live token for the channel.
    RevokeTokens {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum PolicyCmd {
    /// Validate a policy directory offline.
    Check {
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
        #[arg(long)]
        staff: String,
        #[arg(long)]
        channel: String,
        /// Comma-separated: read,send (default: everything policy permits).
        #[arg(long)]
        actions: Option<String>,
        /// Lifetime such as 30m or 2h.
        #[arg(long)]
        ttl: Option<String>,
    },
    List {
        #[arg(long)]
        staff: Option<String>,
        #[arg(long)]
        channel: Option<String>,
    },
    /// Revoke one token by id, or all of one person's with --staff.
    Revoke {
        id: Option<i64>,
        #[arg(long)]
        staff: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum AuditCmd {
    List {
        #[arg(long, default_value_t = 0)]
        after: i64,
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
        source: String,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum KeyCmd {
    Create {
        name: String,
        #[arg(long)]
        role: String,
        /// The staff member who holds it (offboarding revokes it).
        #[arg(long)]
        staff: Option<String>,
    },
    List,
    Revoke {
        id: i64,
    },
    /// Print a fresh key text for STAFFGATE_BOOTSTRAP_ADMIN_KEY (offline).
    Generate,
}
