//! Start-up: data folder, database and migrations, the seed, the listener.

use crate::{config::Config, routes, state::AppState};
use anyhow::Context;
use identity::seed::{SeedInput, SeedReport};
use leptos::config::LeptosOptions;
use std::{future::Future, net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;

/// A server that is ready to serve: database migrated and seeded, port bound.
pub struct Application {
    /// The data folder's lock, held while serving (no restore under a running server).
    _lock: std::fs::File,
    listener: TcpListener,
    /// Where `/metrics` listens, when configured.
    metrics: Option<TcpListener>,
    state: AppState,
    seed_report: SeedReport,
}

impl Application {
    /// Prepares everything; the port is bound when this returns, so a caller that asked for
    /// port 0 can read the real one from [`Application::addr`].
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data folder {}",
                config.data_dir.display()
            )
        })?;
        let lock = crate::operator::lock_for_serving(&config.data_dir)?;
        let db = identity::store::db::connect(&config.database_url())
            .await
            .context("cannot open the database")?;
        identity::store::db::migrate(&db).await?;
        identity::password::configure(config.password_checks);
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("cannot listen on {}", config.addr))?;
        let addr = listener.local_addr()?;
        let metrics = match config.metrics_addr {
            Some(metrics_addr) => {
                crate::metrics::handle();
                Some(TcpListener::bind(metrics_addr).await.with_context(|| {
                    format!("cannot listen on {metrics_addr} (IDP_METRICS_ADDR)")
                })?)
            }
            None => None,
        };
        let public_url: Arc<str> = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .into();
        let seed_report = identity::seed::seed(
            &db,
            SeedInput {
                public_url: &public_url,
                admin_password: config.admin_password.as_ref().map(|s| s.expose()),
            },
        )
        .await
        .context("cannot create the initial data")?;
        let leptos = LeptosOptions::builder()
            .output_name("frontend")
            .site_root(config.site_dir.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let keys = Arc::new(
            identity::keys::KeyStore::open(db.clone())
                .await
                .context("cannot load the signing keys")?,
        );
        let provider = identity::oauth::Provider::new(db.clone(), keys, &public_url);
        let state = AppState {
            provider,
            db,
            config: Arc::new(config),
            public_url,
            leptos,
            rejections: Arc::default(),
        };
        tracing::info!(%addr, public_url = %state.public_url, "ready");
        Ok(Self {
            _lock: lock,
            listener,
            metrics,
            state,
            seed_report,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` listens, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The external base URL in effect.
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// What the seed created at this start.
    pub fn seed_report(&self) -> &SeedReport {
        &self.seed_report
    }

    /// The shared state (tests use its database).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let keys = self.state.provider.keys.clone();
        let db = self.state.db.clone();
        // Every 30 s: pick up keys rotated elsewhere (another instance, `server
        // rotate-keys`), end impersonation sessions that are over (past their hard limit,
        // signed out, or no longer allowed), revoking what they issued (their tokens
        // already stopped counting; this records the end), and record the expiry of
        // impersonation requests not decided or not used in time.
        let reload = tokio::spawn(async move {
            let mut every = tokio::time::interval(KEY_RELOAD_INTERVAL);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(error) = keys.reload().await {
                    tracing::warn!("reloading the signing keys failed: {error}");
                }
                match identity::impersonation::session::end_due(&db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(ended = n, "impersonation sessions over"),
                    Err(error) => {
                        tracing::warn!("ending expired impersonation sessions failed: {error}")
                    }
                }
                match identity::impersonation::approval::expire_due(&db).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, "impersonation requests expired"),
                    Err(error) => {
                        tracing::warn!("expiring impersonation requests failed: {error}")
                    }
                }
            }
        });
        let transport = crate::mailer::Transport::from_config(&self.state.config)
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let from = self
            .state
            .config
            .mail_from
            .parse()
            .map_err(|e| std::io::Error::other(format!("IDP_MAIL_FROM: {e}")))?;
        let mailer = tokio::spawn(crate::mailer::run(
            self.state.db.clone(),
            transport,
            from,
            self.state.config.mail_retry_secs,
        ));
        let deliverer = crate::deliverer::Deliverer::new(
            self.state.db.clone(),
            self.state.provider.keys.clone(),
            self.state.provider.issuer.clone(),
            self.state.config.outbound,
            self.state.config.delivery_retry_secs,
        )
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        let deliverer = tokio::spawn(deliverer.run());
        let metrics = self.metrics.map(|listener| {
            let router = crate::metrics::router(self.state.clone());
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!("the metrics listener stopped: {error}");
                }
            })
        });
        let router = routes::router(self.state);
        let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        reload.abort();
        mailer.abort();
        deliverer.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        served
    }
}

/// How often a running server re-reads the signing keys.
pub const KEY_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
