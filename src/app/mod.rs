//! Wiring: reads the configuration once, builds every area with its own part, binds.

pub(crate) mod jobs;
mod listener;
mod master_key;
mod serve;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::broker::{self, Broker};
use crate::channels::{Channels, Registry};
use crate::compliance::Compliance;
use crate::config::Config;
use crate::directory::Directory;
use crate::directory::sync::Syncer;
use crate::offboarding::Offboarding;
use crate::policy::{self, Engine};
use crate::signin::Signin;
use crate::store::Store;
use crate::tokens::{Tokens, Verifier};
use crate::web::{self, AppState};
use tls::Tls;

/// Why the daemon could not start. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("OpenID Connect: {0}")]
    Oidc(#[from] crate::directory::oidc::OidcError),
    #[error(transparent)]
    KeyCheck(#[from] master_key::KeyCheckError),
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Policy(#[from] policy::PolicyLoadError),
    #[error("channels: {0}")]
    Channels(#[from] crate::channels::ChannelError),
    #[error("NDA texts: {0}")]
    Nda(#[from] crate::compliance::nda::NdaError),
    #[error(
        "compliance.require_nda is on but {0} holds no NDA version; add one, or set STAFFGATE_REQUIRE_NDA=false"
    )]
    NoNda(String),
    #[error("bootstrap admin key: {0}")]
    Bootstrap(#[from] crate::apikeys::KeyError),
    #[error(transparent)]
    Mail(#[from] crate::mail::sender::MailSetupError),
    #[error("TLS certificate or key ({cert}, {key}): {source}")]
    Tls {
        cert: String,
        key: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A built, bound daemon, not yet serving.
pub struct Application {
    listener: TcpListener,
    /// `broker.listen`: the broker on an origin of its own.
    broker_listener: Option<TcpListener>,
    tls: Option<Tls>,
    pub state: Arc<AppState>,
    follower: Option<crate::replica::Follower>,
    activity: broker::activity::ActivityFlusher,
    limits: crate::config::ServerLimits,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, StartError> {
        // rustls needs one process-wide crypto provider when several could be linked in
        // (the listener, PostgreSQL, SMTP and LDAP clients all use it): ring, everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (store, key) = open_store(&config).await?;
        let nda_dir = config.policies.join("nda");

        // Read before any state is loaded, so the follower re-applies whatever commits
        // between loading and following.
        let (start_seq, _) = crate::store::audit::head(store.pool()).await?;
        let presence = Arc::new(crate::replica::Presence::new(
            store.clone(),
            replica_name(&config),
            config.max_staleness,
            config.recover_after,
            crate::replica::LeaseTiming::from_ttl(config.lease_ttl),
        ));
        let notices = crate::mail::Notices::new(config.mail.clone());
        let offboarding_notices = notices.clone();
        let mail = crate::mail::sender::relay(&config.mail)?;
        if let Some(host) = &config.mail.host {
            tracing::info!(relay = %host, security = ?config.mail.security, "mail through the relay");
        }
        let bundle = policy::load_dir(&config.policies)?;
        tracing::info!(policies = bundle.origin.len(), dir = %config.policies.display(), "policies loaded");
        let engine = Arc::new(Engine::new(bundle));
        let verifier = Arc::new(Verifier::default());
        let registry = Arc::new(Registry::default());

        let channels = Channels {
            store: store.clone(),
            registry: registry.clone(),
            key: key.clone(),
            engine: engine.clone(),
            verifier: verifier.clone(),
        };
        let count = channels.load().await?;
        let tokens = Tokens {
            store: store.clone(),
            verifier: verifier.clone(),
            engine: engine.clone(),
            config: config.tokens.clone(),
            writer: crate::tokens::batch::IssuanceBatcher::start(store.clone()),
        };
        let live = tokens.load().await?;
        tracing::info!(channels = count, tokens = live, "verifier loaded");

        if let Some(path) = crate::apikeys::bootstrap(
            &store,
            &config.data_dir,
            config.bootstrap_admin_key.as_ref(),
        )
        .await?
        {
            tracing::warn!(path = %path.display(), "created the bootstrap admin API key; it is in this file (mode 0600)");
        }

        let metrics = Arc::new(crate::metrics::Metrics::default());
        let (activity, writer) =
            broker::activity::start(store.clone(), config.activity_flush, metrics.clone());
        let broker = Broker {
            freshness: presence.freshness.clone(),
            channels: registry.clone(),
            verifier: verifier.clone(),
            engine: engine.clone(),
            activity,
            client: broker::client(&config.broker),
            config: config.broker.clone(),
        };
        let owed = Arc::new(crate::offboarding::Owed::default());
        let offboarding = || Offboarding {
            store: store.clone(),
            verifier: verifier.clone(),
            engine: engine.clone(),
            channels: registry.clone(),
            notices: offboarding_notices.clone(),
            owed: owed.clone(),
            presence: presence.clone(),
        };
        let sync = Arc::new(
            Syncer::new(
                store.clone(),
                verifier.clone(),
                engine.clone(),
                registry.clone(),
                offboarding(),
                config.ldap.clone(),
            )
            .with_push_limits(config.scim.iter().map(|s| (s.name.clone(), s.guard)))
            .with_pull_sources(config.scim_pull.clone()),
        );
        for source in &config.scim {
            let base = format!("/scim/v2/{}", source.name);
            sync.board.register(&source.name, &base, "push");
        }
        for source in &config.ldap {
            tracing::info!(source = %source.name, url = %source.url, base = %source.base_dn, "directory source configured");
        }
        let compliance = Arc::new(Compliance::new(
            store.clone(),
            verifier.clone(),
            config.compliance.clone(),
            nda_dir.clone(),
            notices,
        )?);
        announce_requirements(&config, &compliance, &store, &nda_dir).await?;
        compliance.refresh_gate().await?;
        let oidc = Arc::new(crate::directory::oidc::Providers::new(
            &config.oidc,
            &config.mail.public_url,
        )?);
        oidc.discover_in_background();
        let signin = Signin {
            oidc,
            store: store.clone(),
            syncer: sync.clone(),
            config: config.signin.clone(),
            key: key.clone(),
            compliance: compliance.clone(),
            verifier: verifier.clone(),
        };
        let rules = crate::compliance::Rules {
            store: store.clone(),
            engine: engine.clone(),
            compliance: compliance.clone(),
            dir: config.policies.clone(),
        };
        let (store_for_scim, sync_for_scim) = (store.clone(), sync.clone());
        let (listener, broker_listener, tls) = bind(&config).await?;
        let broker_url = config.broker_url(
            listener.local_addr().ok(),
            broker_listener.as_ref().and_then(|l| l.local_addr().ok()),
            tls.is_some(),
        );
        let state = Arc::new(AppState {
            directory: Directory {
                store: store.clone(),
                verifier: verifier.clone(),
                engine: engine.clone(),
            },
            offboarding: offboarding(),
            channels,
            tokens,
            broker,
            engine,
            registry,
            store,
            rules: rules.clone(),
            sync,
            signin,
            compliance,
            metrics,
            presence: presence.clone(),
            mail,
            provisioning: crate::provisioning::Provisioning {
                store: store_for_scim,
                syncer: sync_for_scim,
                sources: config.scim.clone(),
                queue: Default::default(),
            },
            console: config.console.clone(),
            broker_url,
        });
        let follower = crate::replica::Follower {
            store: state.store.clone(),
            verifier: verifier.clone(),
            engine: state.engine.clone(),
            channels: Channels {
                store: state.store.clone(),
                registry: state.registry.clone(),
                key: key.clone(),
                engine: state.engine.clone(),
                verifier: verifier.clone(),
            },
            compliance: state.compliance.clone(),
            rules,
            presence,
            start: start_seq,
            listen_url: config
                .database_url
                .as_ref()
                .map(|u| u.expose_secret().to_owned())
                .filter(|u| u.starts_with("postgres")),
        };
        Ok(Application {
            listener,
            broker_listener,
            limits: config.server,
            tls,
            state,
            follower: Some(follower),
            activity: writer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Where the broker listens when `broker.listen` is set.
    pub fn broker_addr(&self) -> Option<SocketAddr> {
        self.broker_listener
            .as_ref()
            .map(|l| l.local_addr().expect("bound listener has an address"))
    }

    /// Serves until `shutdown` resolves, then flushes activity.
    pub async fn run(
        mut self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let forget = tokio::spawn(forget_expired(self.state.clone()));
        let heartbeat = tokio::spawn(self.state.presence.clone().heartbeat());
        let follower = self.follower.take().map(|f| tokio::spawn(f.run()));
        let jobs = jobs::spawn(&self.state);
        let state = self.state.clone();
        let (main, broker) = web::routers(self.state, self.broker_listener.is_some());
        let metrics = state.metrics.clone();
        let guard = |name| listener::ConnectionGuard::new(self.limits, metrics.clone(), name);
        let mut listening = vec![serve::Listening {
            listener: self.listener,
            router: main,
            guard: guard("main"),
        }];
        if let (Some(listener), Some(router)) = (self.broker_listener, broker) {
            listening.push(serve::Listening {
                listener,
                router,
                guard: guard("broker"),
            });
        }
        let tls = self.tls.map(|t| t.config);
        let served = serve::serve_all(listening, tls, shutdown).await;
        forget.abort();
        heartbeat.abort();
        if let Some(f) = follower {
            f.abort();
        }
        jobs::stop(&state, jobs).await;
        state.presence.stopped().await;
        // Write the last activity batch even if serving failed.
        self.activity.stop().await;
        served?;
        Ok(())
    }
}

/// Says loudly, in the log and the audit log, when a first-login requirement is off.
async fn announce_requirements(
    config: &Config,
    compliance: &Compliance,
    store: &Store,
    nda_dir: &std::path::Path,
) -> Result<(), StartError> {
    let c = &config.compliance;
    if c.require_nda && compliance.nda().is_empty() {
        return Err(StartError::NoNda(nda_dir.display().to_string()));
    }
    for (on, what, var) in [
        (
            c.require_totp,
            "two-factor authentication",
            "STAFFGATE_REQUIRE_TOTP",
        ),
        (
            c.require_nda,
            "NDA acknowledgement",
            "STAFFGATE_REQUIRE_NDA",
        ),
    ] {
        if !on {
            tracing::warn!(
                requirement = what,
                setting = var,
                "FIRST-LOGIN REQUIREMENT TURNED OFF: tokens are issued without {what}"
            );
            let change = crate::audit::Change::RequirementOff {
                setting: var.to_string(),
                requirement: what.to_string(),
            };
            crate::audit::record_alone(store, &crate::audit::Actor::system(), &change).await?;
        }
    }
    Ok(())
}

/// Once a minute: expired tokens leave the verifier's memory, and the NDA block list
/// follows the calendar (a new version can take effect at midnight).
/// How long the verifier keeps a token after it expired.
const EXPIRED_KEPT_MS: i64 = 10 * 60 * 1000;

async fn forget_expired(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        if let Err(e) = state.compliance.refresh_gate().await {
            tracing::warn!(error = %e, "NDA gate refresh failed");
        }
        // Kept a while past expiry: a response still streaming re-checks its token (for
        // revocation) and must find it.
        let n = state
            .tokens
            .verifier
            .forget_expired(crate::domain::time::now_millis() - EXPIRED_KEPT_MS);
        if n > 0 {
            tracing::debug!(forgotten = n, "expired tokens dropped from the verifier");
        }
    }
}

impl Application {
    /// Reloads policies and the TLS certificate on SIGHUP for as long as the daemon runs.
    pub fn reload_on_sighup(&self) {
        let state = self.state.clone();
        let tls = self.tls.clone();
        #[cfg(unix)]
        tokio::spawn(async move {
            let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hup.recv().await.is_some() {
                // A refused reload is logged and audited by the service; nothing to add here.
                let _ = state.rules.reload_on_signal().await;
                if let Some(tls) = &tls {
                    tls.reload().await;
                }
            }
        });
    }
}

/// The database (created on first start, migrated) and the master key it is sealed under.
async fn open_store(
    config: &Config,
) -> Result<(Store, Arc<crate::secrets::MasterKey>), StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let store = Store::open(config.database_url.as_ref(), &config.data_dir).await?;
    tracing::info!(backend = ?store.backend(), "database ready");
    let (key, created) = master_key::establish(&store, &config.master_key_path()).await?;
    if created {
        tracing::warn!(path = %config.master_key_path().display(), "created a new master key; back it up apart from the database");
    }
    Ok((store, Arc::new(key)))
}

/// The listeners (the main one, and the broker's own when `broker.listen` is set) and the
/// TLS certificate, when configured.
async fn bind(
    config: &Config,
) -> Result<(TcpListener, Option<TcpListener>, Option<Tls>), StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let broker_listener = match config.broker.listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen { addr, source })?,
        ),
        None => None,
    };
    let tls = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => Some(Tls::load(cert, key).await?),
        _ => None,
    };
    Ok((listener, broker_listener, tls))
}

/// This replica's name: configured, or host:port.
fn replica_name(config: &Config) -> String {
    config.replica_name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "staffgate".into());
        format!("{host}:{}", config.listen.port())
    })
}

/// A short description of the database, with no credentials.
pub fn describe_database(config: &Config) -> String {
    match &config.database_url {
        None => format!("sqlite:{}", config.data_dir.join("staffgate.db").display()),
        Some(url) => {
            let text = url.expose_secret();
            reqwest::Url::parse(text)
                .map(|u| {
                    format!(
                        "{}://{}{}",
                        u.scheme(),
                        u.host_str().unwrap_or(""),
                        u.path()
                    )
                })
                .unwrap_or_else(|_| "(unparsable url)".into())
        }
    }
}
