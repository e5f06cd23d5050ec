//! Storage through sqlx: SQLite by default, PostgreSQL when the URL says so.
//!
//! Queries are written once for both through sqlx's `Any` driver (`$1` placeholders, integer
//! millisecond times, no booleans), with one migration set per backend where DDL differs.
//! SQL lives only in this module's files.

pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod channels;
pub mod cleanup;
pub mod key_check;
pub mod leases;
pub mod nda;
pub mod offboardings;
pub mod oidc;
pub mod oidc_pickups;
pub mod outbox;
pub mod people;
pub mod replicas;
pub mod schedule;
pub mod scim;
pub mod scim_groups;
pub mod sessions;
pub mod staff;
pub mod sync;
pub mod tokens;
pub mod totp;
mod tx;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Executor};
use tokio::sync::Mutex;

pub use tx::{StorageFault, Tx, WriteHealth};

/// A storage failure. The cause chain goes to the log; clients see only `internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value did not parse back into its domain type.
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The storage fault behind this error, if it is one (rather than a bug or bad data):
    /// the disk is full, or the database cannot be reached or written now.
    pub fn fault(&self) -> Option<StorageFault> {
        match self {
            StoreError::Database(e) => StorageFault::of(e),
            StoreError::Migrate(_) | StoreError::Corrupt(_) => None,
        }
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by every area.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer; queueing writers here beats spinning on SQLITE_BUSY.
    write_gate: Option<Arc<Mutex<()>>>,
    /// The SQLite database file (its jobs' leases are locks on files beside it).
    sqlite_file: Option<Arc<std::path::PathBuf>>,
    health: Arc<WriteHealth>,
}

impl Store {
    /// Opens the database named by `url`, or the SQLite file in `data_dir`, and migrates it.
    pub async fn open(url: Option<&SecretString>, data_dir: &Path) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = match url {
            Some(u) => u.expose_secret().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("staffgate.db").display()
            ),
        };
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        let pool = match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // FULL: an offboarding that returned must survive a power cut.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(&url).await?,
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&pool).await?,
        }
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let sqlite_file = match backend {
            Backend::Sqlite => Some(Arc::new(sqlite_path(&url)?)),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            backend,
            write_gate,
            sqlite_file,
            health: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where job `name`'s lease lock lives on SQLite; `None` on PostgreSQL, whose leases
    /// are rows (see `replica::lease`).
    pub fn lease_file(&self, name: &str) -> Option<std::path::PathBuf> {
        self.sqlite_file
            .as_deref()
            .map(|db| lease_lock_path(db, name))
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction (see [`Tx`]).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let gate = match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        };
        let begun = Tx::begin(&self.pool, self.backend, gate, self.health.clone()).await;
        if let Err(e) = &begun {
            self.health.failed(e);
        }
        begun
    }

    /// Whether this process can write to the database now, from its latest writes.
    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    /// Runs `sql` (binding `id`, `now`) in a transaction of its own without making the
    /// caller wait: for last-use times, which no answer depends on, and which on SQLite
    /// would otherwise queue behind a long write.
    pub(crate) fn write_behind(
        &self,
        sql: &'static str,
        id: i64,
        now: crate::domain::time::Millis,
    ) {
        let store = self.clone();
        tokio::spawn(async move {
            let written = async {
                let mut tx = store.begin().await?;
                sqlx::query(sql)
                    .bind(id)
                    .bind(now)
                    .execute(tx.conn())
                    .await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = written {
                tracing::debug!(error = %e, sql, "a last-use time was not written; the next use writes it");
            }
        });
    }

    /// A pooled connection for reads outside a transaction.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Answers when the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The file an `sqlite:` URL names, made absolute so every daemon on it agrees.
fn sqlite_path(url: &str) -> Result<std::path::PathBuf, StoreError> {
    use std::str::FromStr;
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    Ok(std::path::absolute(file).unwrap_or_else(|_| file.to_owned()))
}

/// Why a backup could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// PostgreSQL is backed up with its own tools (`pg_dump`), not through staffgate.
    #[error("the database is PostgreSQL: back it up with pg_dump or your usual PostgreSQL backups")]
    NotSqlite,
    #[error("backup file: {0}")]
    File(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Writes a consistent copy of the embedded SQLite database to `target` while the daemon
    /// keeps serving (`VACUUM INTO` reads one snapshot). Channel secrets and TOTP seeds stay
    /// sealed in it; the master key is not in it.
    pub async fn backup_to(&self, target: &Path) -> Result<(), BackupError> {
        if self.backend != Backend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        if target.exists() {
            std::fs::remove_file(target)?;
        }
        // The path is ours (a temporary file), never a caller's text; quotes are doubled anyway.
        let path = target.display().to_string().replace('\'', "''");
        sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{path}'")))
            .execute(&self.pool)
            .await
            .map_err(StoreError::from)?;
        Ok(())
    }
}

/// The lock file that is a SQLite job's lease: `<database>.lease-<job>` beside the database,
/// so every daemon on that file finds the same one.
pub fn lease_lock_path(db: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut file = db.as_os_str().to_owned();
    file.push(format!(".lease-{name}"));
    std::path::PathBuf::from(file)
}
