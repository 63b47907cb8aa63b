//! Building the service from settings: the backends (chosen in `backends.rs`), the two
//! listeners, and the background tasks. Tests build exactly this, on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::auth::Authenticator;
use crate::auth::api_key::ApiKeys;
use crate::auth::client_quota::ClientQuotas;
use crate::auth::jwt::JwtVerifier;
use crate::backends::{DevParts, Issuers, ServeBackends};
use crate::config::{IssuerSettings, Settings, StorageSettings};
use crate::control::FallbackFlag;
use crate::http;
use crate::http::dev_issuer::DevOAuth;
use crate::http::gate::deprecation::DeprecationNotice;
use crate::http::state::AppState;
use crate::ledger::LedgerStore;
use crate::ledger::heartbeat::Heartbeat;
use crate::metrics::Metrics;
use crate::metrics::report::{DeltaSink, Reporter};
use crate::periodic::{Background, Task};

pub struct Application {
    port: u16,
    admin_port: u16,
    server: Server,
    admin: Server,
    reporters: Vec<Arc<Reporter>>,
    ledger_flush: Arc<crate::ledger::flush::Flusher>,
    background: Background,
}

/// The background reporters: the traffic heartbeat into the ledger's store always; the metrics
/// sink when it is one that is pushed to (CloudWatch; Prometheus is pulled from `/metrics`, so
/// it needs no reporter), which the ledger's flush hands its per-key figures.
fn start_reporters(
    bg: &Background,
    settings: &Settings,
    sink: Option<Arc<dyn DeltaSink>>,
    metrics: &Metrics,
    store: Arc<dyn LedgerStore>,
) -> Vec<Arc<Reporter>> {
    let heartbeat = Reporter::new(metrics.clone(), Arc::new(Heartbeat::new(store)));
    heartbeat.spawn(bg, Task::Heartbeat, settings.metrics.usage_flush);
    let mut reporters = vec![heartbeat];
    if let Some(sink) = sink {
        let publisher = Reporter::new(metrics.clone(), sink);
        publisher.spawn(bg, Task::MetricsReport, settings.metrics.interval);
        reporters.push(publisher);
    }
    reporters
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let metrics = Metrics::default();
        let ServeBackends {
            stores: backends,
            issuers: Issuers { dev, trusted },
            metrics_sink,
            limits,
            revocation_queue,
        } = ServeBackends::build(&settings, &metrics).await?;
        // Every issuer's keys at once: one slow pool does not hold up the others'.
        futures_util::future::join_all(trusted.iter().map(|i| i.jwks().load())).await;
        let jwt = JwtVerifier::new(&settings.jwt, trusted);
        // The dev issuer's machine clients (`cutover dev-clients`); a real issuer has none.
        let (dev_issuer, dev_clients) = match dev {
            Some(DevParts { issuer, clients }) => (Some(issuer), Some(clients)),
            None => (None, None),
        };

        let keys = ApiKeys::new(backends.keys.clone());
        keys.load().await;

        let flag = FallbackFlag::new(settings.fallback.initial);
        flag.refresh(backends.control.as_ref()).await;

        let cursor_key = backends
            .metadata
            .cursor_key()
            .await
            .context("reading the cursor signing key")?;

        let session_key = backends
            .sessions
            .session_key()
            .await
            .context("reading the console's session key")?;

        let control = backends.control.clone();

        let limits = Arc::new(limits);
        let site = settings
            .web
            .app
            .then(|| Arc::new(crate::http::api::app::WebApp::new(&settings.web)));
        let ledger = crate::ledger::Ledger {
            recorder: Default::default(),
            store: backends.ledger.clone(),
            days: settings.ledger.days,
            published: metrics_sink.as_ref().map(|pushed| pushed.keys.clone()),
            first_uses: Default::default(),
        };
        let ledger_flush = crate::ledger::flush::Flusher::new(ledger.clone());

        // Created here so readiness can read it; its loops start only once both listeners are
        // bound (below). A panicking run is counted under its task's name.
        let background = {
            let metrics = metrics.clone();
            Background::new(move |task| metrics.background_failed(task))
        };
        let guides = crate::auth::guides::MigrationGuides::new(&settings);
        let deprecation = DeprecationNotice::new(&settings.fallback, guides.clone(), flag.clone());
        let state = web::Data::new(AppState {
            auth: Authenticator {
                jwt,
                keys,
                flag,
                guides,
                scopes: settings.scopes.clone(),
                mismatch: settings.api_keys.credential_mismatch,
                clients: ClientQuotas::new(&settings.rate, dev_clients.clone()),
                keyless_apis: settings
                    .gateway
                    .upstreams
                    .iter()
                    .filter(|u| u.key_policy == crate::config::KeyPolicy::Never)
                    .map(|u| crate::common::Route::upstream(&u.name).api())
                    .collect(),
            },
            deprecation,
            objects: backends.objects,
            metadata: backends.metadata,
            uploads: settings.uploads.clone(),
            upload_gate: crate::http::api::upload_guard::UploadGate::new(&settings.uploads),
            cursor_key,
            metrics: metrics.clone(),
            dev_issuer,
            limits,
            ledger,
            audit: backends.audit,
            audit_retention_days: settings.audit.retention_days,
            background: background.clone(),
            apis: settings
                .gateway
                .api_names()
                .map(|name| match name {
                    crate::common::BUILTIN_API => crate::common::BUILTIN_API,
                    upstream => crate::common::Route::upstream(upstream).api(),
                })
                .collect(),
        });

        // The assertions' signing keys and the upstreams' own keys: read before anything is
        // served, so a store that cannot give them stops the start.
        let assertions = crate::gateway::assertion::Assertions::load(
            backends.gateway_keys.clone(),
            &settings.gateway,
        )
        .await
        .context("reading the gateway's signing keys")?;
        let upstream_keys = crate::gateway::upstream_key::UpstreamKeys::load(
            &settings.gateway.upstreams,
            backends.upstream_secrets.clone(),
        )
        .await?;
        let gateway = web::Data::new(http::gateway::Gateway::new(
            &settings.gateway,
            assertions.clone(),
            upstream_keys.clone(),
        ));

        let listener = TcpListener::bind(settings.listen)
            .with_context(|| format!("binding CUTOVER_LISTEN {}", settings.listen))?;
        let admin_listener = TcpListener::bind(settings.admin_listen)
            .with_context(|| format!("binding CUTOVER_ADMIN_LISTEN {}", settings.admin_listen))?;
        let port = listener.local_addr()?.port();
        let admin_port = admin_listener.local_addr()?.port();
        // After binding: the dev issuer accepts the console's callback on the admin port, and the
        // console redeems its codes at the public one.
        let dev_oauth = state
            .dev_issuer
            .clone()
            .zip(dev_clients.clone())
            .map(|(issuer, clients)| {
                DevOAuth::new(issuer, clients, control.clone(), &settings, admin_port)
            })
            .map(web::Data::new);
        let console_signin = web::Data::new(
            crate::http::admin::signin::SignIn::new(
                settings.console.clone(),
                crate::http::admin::signin::IdentityProvider::of(&settings, listener.local_addr()?),
                backends.sessions.clone(),
                session_key,
            )
            .context("building the console's sign-in")?,
        );

        let origins = settings.cors_origins.clone();
        // actix's own default is 30 s too; the setting lets a deployment match its grace period.
        let drain = settings.shutdown_timeout.as_secs();
        let public_state = state.clone();
        let app_state = state.clone();
        // Built by hand for its `Expect: 100-continue` check (see `routes::expect`).
        let public = http::conn::expect::Listener {
            listener,
            max_upload: settings.uploads.max_bytes,
            shutdown_timeout: drain,
            state: state.clone(),
            gateway: gateway.clone(),
        };
        let server = http::conn::expect::serve(public, move || {
            App::new()
                .app_data(public_state.clone())
                .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
                .wrap(from_fn(http::conn::observe::observe))
                .configure(|cfg| {
                    if let Some(site) = &site {
                        crate::http::api::app::routes(cfg, site.clone());
                    }
                    if let Some(oauth) = &dev_oauth {
                        crate::http::dev_issuer::routes(cfg, oauth.clone());
                    }
                })
                .configure(http::api::public)
                // Last: its default service (the proxy, else 404) replaces the API's.
                .configure(|cfg| http::gateway::routes(cfg, gateway.clone()))
        })?;
        if !settings.admin.auth {
            tracing::warn!(
                admin = %settings.admin_listen,
                "CUTOVER_ADMIN_AUTH=off: the admin listener asks for no sign-in (allowed on loopback only)"
            );
        }
        let admin_settings = web::Data::new(settings.admin.clone());
        let admin = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(admin_settings.clone())
                .app_data(console_signin.clone())
                .wrap(from_fn(http::admin::operator::require_operator))
                .configure(http::admin::routes)
        })
        .workers(1)
        .tcp_nodelay(true)
        .shutdown_timeout(drain)
        .listen(admin_listener)?
        .disable_signals()
        .run();
        // Started once both listeners are bound, so a failed start leaves no task behind.
        let auth = &app_state.auth;
        for issuer in auth.jwt.issuers() {
            issuer
                .jwks()
                .spawn_refresh(&background, settings.jwt.jwks_refresh);
        }
        auth.keys
            .spawn_refresh(&background, settings.api_keys.refresh);
        assertions.spawn_refresh(&background, settings.api_keys.refresh);
        upstream_keys.spawn_refresh(&background, settings.api_keys.refresh);
        auth.flag
            .spawn_poller(&background, control, settings.fallback.poll);
        app_state.limits.spawn_sweeper(&background);
        if let Some(clients) = &dev_clients {
            clients.spawn_refresh(&background);
        }
        let reporters = start_reporters(
            &background,
            &settings,
            metrics_sink.map(|pushed| pushed.sink),
            &metrics,
            backends.ledger.clone(),
        );
        ledger_flush.spawn(&background, settings.metrics.usage_flush);
        if let Some(queue) = revocation_queue {
            queue.spawn(&background);
        }
        announce(&settings, port, admin_port);
        Ok(Application {
            port,
            admin_port,
            server,
            admin,
            reporters,
            ledger_flush,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The background loops: tests add one to see a failure reported.
    pub fn background(&self) -> &Background {
        &self.background
    }

    /// Handles that stop both listeners (tests, signal handling).
    pub fn handles(&self) -> (ServerHandle, ServerHandle) {
        (self.server.handle(), self.admin.handle())
    }

    /// Serves until both listeners stop, then reports what the last interval counted (the
    /// migration ledger, the heartbeat, CloudWatch), so a graceful shutdown loses no metrics.
    /// The ledger first: its flush hands CloudWatch the last per-key figures.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (a, b) = tokio::join!(self.server, self.admin);
        self.background.stop().await;
        self.ledger_flush.last(crate::common::unix_now()).await;
        for reporter in &self.reporters {
            reporter.flush().await;
        }
        a.and(b)
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "DELETE"])
        .allowed_headers(["authorization", "x-api-key", "content-type"])
        .expose_headers([
            "location",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "deprecation",
            "sunset",
            "link",
            "x-request-id",
        ])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// One line that says what this instance is, and warnings for settings that will surprise.
fn announce(settings: &Settings, port: u16, admin_port: u16) {
    let ip = settings.listen.ip();
    let admin_ip = settings.admin_listen.ip();
    let storage = match settings.storage {
        StorageSettings::Local => "local",
        StorageSettings::Aws { .. } => "aws",
    };
    let issuers: Vec<&str> = settings
        .jwt
        .issuers
        .iter()
        .map(|i| match &i.source {
            IssuerSettings::Dev => "dev issuer",
            IssuerSettings::External { issuer, .. } => issuer.as_str(),
        })
        .collect();
    let issuer = issuers.join(", ");
    tracing::info!(
        api = %format!("http://{ip}:{port}"),
        admin = %format!("http://{admin_ip}:{admin_port}"),
        storage,
        issuer,
        "cutover is serving"
    );
    if settings.dev_issuer() {
        tracing::warn!(
            "the dev issuer is on: tokens from `cutover token` are accepted, and anyone who \
             reaches the public listener can sign in as any user at /oauth2/authorize; set \
             CUTOVER_JWT_ISSUER and CUTOVER_JWT_CLIENT_IDS to use Cognito"
        );
    }
    let fallback = &settings.fallback;
    if fallback.migration_url.is_none() {
        tracing::info!(
            "CUTOVER_MIGRATION_URL is not set: warn and deny answers cannot point key clients \
             to the migration guide"
        );
    }
    if fallback.deprecation.is_none() || fallback.sunset.is_none() {
        tracing::info!(
            "CUTOVER_DEPRECATION_DATE / CUTOVER_SUNSET_DATE not both set: in warn mode the \
             Deprecation date is this start and no Sunset header is sent"
        );
    }
}
