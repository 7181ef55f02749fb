//! `streamd serve`: open the database, bind, announce, serve until SIGTERM/Ctrl-C.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_service::{ServiceFactory, fn_factory, fn_service, map_config};
use actix_web::web;

use crate::web::connection::{self, Timeouts};

use crate::config::Config;
use crate::ingest::{Ingester, Workers};
use crate::media::Media;
use crate::runtime::{RunningServer, prepare_data_dir};
use crate::secrets::{Secrets, SecretsError};
use crate::store::{Store, StoreError, Timestamp};
use crate::web::AppState;

/// How long a graceful stop (SIGTERM) lets answers under way go on.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    DataDir(String),
    #[error(
        "another streamd is already serving data dir {dir}{by}; stop it first or use another --data-dir"
    )]
    AlreadyRunning { dir: String, by: String },
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
        hint: String,
    },
    #[error("object store: {0}")]
    Media(crate::media::MediaError),
    #[error("scheduled backups: {0}")]
    Backup(String),
    #[error("server failed: {0}")]
    Run(std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// At most this much of a viewer's resume position is lost in a crash (see `Store::set_position`).
const PERSIST_EVERY: Duration = Duration::from_secs(5);

pub async fn run(config: Config) -> Result<(), ServeError> {
    let data_dir = config.server.data_dir.clone();
    prepare_data_dir(&data_dir).map_err(ServeError::DataDir)?;
    let backup_key = scheduled_backup_key(&config)?;
    // Right after a crash, the lock can outlive the dead server for a moment: a child it was
    // spawning (ffmpeg, between fork and exec) holds a copy of the database's descriptor. So a
    // locked database is tried again for two seconds before another server is blamed.
    let mut opened = Store::open(&data_dir);
    for _ in 0..20 {
        if !matches!(opened, Err(StoreError::Locked { .. })) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        opened = Store::open(&data_dir);
    }
    let store = opened.map_err(|e| match e {
        StoreError::Locked { .. } => ServeError::AlreadyRunning {
            dir: data_dir.display().to_string(),
            by: RunningServer::read(&data_dir)
                .map(|r| format!(" (pid {}, listening on {})", r.pid, r.listen))
                .unwrap_or_default(),
        },
        other => ServeError::Store(other),
    })?;
    let secrets = Arc::new(Secrets::load_or_create(&config)?);

    let listener = bind(config.server.listen, "--listen")?;
    let bound = listener.local_addr().map_err(ServeError::Run)?;
    let mut config = config;
    config.server.listen = bound;
    let tls_listener = match config.tls.enabled() {
        true => {
            let l = bind(config.tls.listen, "tls.listen")?;
            config.tls.listen = l.local_addr().map_err(ServeError::Run)?;
            Some(l)
        }
        false => None,
    };
    let config = Arc::new(config);
    let tls = crate::tls::start(&config, config.tls.listen.port())?;

    let media = Arc::new(Media::new(&config, &secrets).map_err(ServeError::Media)?);
    if let (Some(every), Some(key)) = (config.backup.every, backup_key) {
        crate::backup::schedule::Schedule {
            store: store.clone(),
            bucket: media.objects(),
            key,
            every,
            keep: config.backup.keep,
        }
        .start();
    }
    let ingester = Ingester::new(store.clone(), config.clone(), media);
    ingester.recover().map_err(ServeError::Store)?;
    let recorder = ingester.clone();
    std::thread::spawn(move || match recorder.record_missing_inventories() {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            movies = n,
            "recorded the objects of movies published before"
        ),
        Err(error) => tracing::warn!(%error, "could not look for movies to record"),
    });
    let workers = Arc::new(Workers::start(ingester.clone(), config.transcode.workers));
    let state = web::Data::new(AppState::new(
        config.clone(),
        store.clone(),
        secrets,
        ingester,
        workers.clone(),
        tls.clone(),
    ));
    let has_admin = store.has_admin().map_err(ServeError::Store)?;

    // Listened for before the first request can be answered: a SIGTERM arriving before the
    // task below first runs would otherwise take the default action and kill the process,
    // answers in flight and all (a loaded CI machine saw exactly that).
    let signals = StopSignals::listen();
    let (stop_tx, stopping) = tokio::sync::watch::channel(false);
    let https = match (tls_listener, &tls) {
        (Some(listener), Some(tls)) => Some((listener, tls.server_config()?)),
        _ => None,
    };
    let server = http_server(listener, https, state.clone(), &config.server, stopping)
        .map_err(ServeError::Run)?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        let graceful = signals.wait().await;
        let _ = stop_tx.send(true);
        if graceful {
            // No new connections; idle ones close on `stopping`; answers under way finish
            // (up to the shutdown timeout) before actix is told to stop at all.
            handle.pause().await;
            let deadline = std::time::Instant::now() + SHUTDOWN_TIMEOUT;
            while connection::open_connections() > 0 && std::time::Instant::now() < deadline {
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        handle.stop(graceful).await;
    });

    RunningServer {
        pid: std::process::id(),
        listen: bound,
    }
    .write(&data_dir)
    .map_err(|e| ServeError::DataDir(format!("cannot write {}: {e}", data_dir.display())))?;

    tracing::info!(data_dir = %data_dir.display(), listen = %bound, "streamd started");
    if config.tls.enabled() {
        tracing::info!(listen = %config.tls.listen, "serving HTTPS");
    }
    eprintln!(
        "streamd is serving {} (data in {})",
        config.public_base(),
        data_dir.display()
    );
    if !has_admin {
        eprintln!(
            "No admin account yet. Create one with:  streamd --data-dir {} user add NAME --admin",
            data_dir.display()
        );
    }

    crate::library::watch::start(
        store.clone(),
        config.library.folders.clone(),
        config.library.settle,
        &data_dir,
    );
    let sweeper = actix_web::rt::spawn(sweep(state.clone()));
    let result = server.await;
    sweeper.abort();
    let store_ = store.clone();
    if let Ok(Err(e)) = web::block(move || store_.persist()).await {
        tracing::warn!(error = %e, "could not persist the last resume positions");
    }
    // No ffmpeg outlives the server: running jobs are killed and go back in the queue.
    let _ = web::block(move || workers.shutdown()).await;
    RunningServer::remove(&data_dir);
    tracing::info!("streamd stopped");
    result.map_err(ServeError::Run)
}

fn bind(addr: std::net::SocketAddr, flag: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).map_err(|source| ServeError::Bind {
        addr,
        hint: match source.kind() {
            std::io::ErrorKind::AddrInUse => {
                format!(" (the port is in use: stop what uses it, or pick another with {flag})")
            }
            std::io::ErrorKind::PermissionDenied if addr.port() < 1024 => format!(
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE: see the README's \
                 \"Running as a service\", or pick another with {flag})"
            ),
            _ => String::new(),
        },
        source,
    })
}

/// The key scheduled backups are sealed with; refuses to start when they are asked for without
/// one (they hold password hashes and signing secrets, in a bucket a CDN may read).
fn scheduled_backup_key(config: &Config) -> Result<Option<crate::backup::BackupKey>, ServeError> {
    if config.backup.every.is_none() {
        return Ok(None);
    }
    match crate::backup::BackupKey::find(config, None) {
        Ok(Some(key)) => Ok(Some(key)),
        Ok(None) => Err(ServeError::Backup(format!(
            "backup.every is set but there is no backup key, and backups in the object store are \
             encrypted: set backup.key to a file outside the data dir holding a secret of at \
             least {} characters (openssl rand -hex 32 > backup.key), or set {}",
            crate::backup::sealed::MIN_SECRET_CHARS,
            crate::backup::sealed::ENV
        ))),
        Err(e) => Err(ServeError::Backup(e.to_string())),
    }
}

/// The HTTP/1.1 service on `listener`, built by hand rather than by `HttpServer` so that each
/// connection is read by [`connection::serve`] first (`sendfile` for objects, 414 for request
/// lines actix cannot parse) and handed to actix request by request. Otherwise as
/// `HttpServer::listen` builds it: one app per worker, TCP_NODELAY, the peer address for rate
/// limiting. Signals are [`StopSignals`]'; `stopping` tells each connection when the stop begins.
fn http_server(
    listener: TcpListener,
    https: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    state: web::Data<AppState>,
    server: &crate::config::ServerConfig,
    stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<actix_web::dev::Server> {
    let timeouts = Timeouts {
        keep_alive: server.keep_alive,
        request_timeout: server.request_timeout,
    };
    let mut builder = actix_server::Server::build()
        .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
        .disable_signals();
    if let Some((tls_listener, tls_config)) = https {
        let state = state.clone();
        let stopping = stopping.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
        // A handshake gets as long as a request head: a client stalling in it is closed then.
        let handshake = timeouts.request_timeout;
        builder = builder.listen("streamd-https", tls_listener, move || {
            let app = crate::web::app(state.clone());
            let http = actix_http::HttpService::build()
                .keep_alive(timeouts.keep_alive)
                .client_request_timeout(timeouts.request_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .secure()
                // How handlers tell an HTTPS request (HSTS, no redirect): actix's own
                // `AppConfig::secure` cannot be set from outside.
                .on_connect_ext(|_, ext| {
                    ext.insert(crate::web::https::OverTls);
                })
                .finish(map_config(app, |_| actix_web::dev::AppConfig::default()));
            let acceptor = acceptor.clone();
            let stopping = stopping.clone();
            fn_factory(move || {
                let new_http = http.new_service(());
                let acceptor = acceptor.clone();
                let stopping = stopping.clone();
                async move {
                    let http = std::rc::Rc::new(new_http.await.map_err(|_| ())?);
                    Ok::<_, ()>(fn_service(move |io: actix_rt::net::TcpStream| {
                        crate::web::https::serve(
                            io,
                            acceptor.clone(),
                            http.clone(),
                            handshake,
                            stopping.clone(),
                        )
                    }))
                }
            })
        })?;
    }
    Ok(builder
        .listen("streamd", listener, move || {
            let app = crate::web::app(state.clone());
            let http = actix_http::HttpService::build()
                .keep_alive(timeouts.keep_alive)
                .client_request_timeout(timeouts.request_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                // The host and address given to the app only stand in for requests without a
                // Host header; nothing of ours reads them.
                .h1(map_config(app, |_| actix_web::dev::AppConfig::default()));
            let state = state.clone();
            let stopping = stopping.clone();
            fn_factory(move || {
                let new_http = http.new_service(());
                let state = state.clone();
                let stopping = stopping.clone();
                async move {
                    let http = std::rc::Rc::new(new_http.await.map_err(|_| ())?);
                    Ok::<_, ()>(fn_service(move |io: actix_rt::net::TcpStream| {
                        connection::serve(
                            io,
                            http.clone(),
                            state.clone(),
                            timeouts,
                            stopping.clone(),
                        )
                    }))
                }
            })
        })?
        .run())
}

/// The signals that stop streamd. SIGTERM (systemd, `kill`) lets answers being sent finish
/// for up to the shutdown timeout; Ctrl-C and SIGQUIT stop at once. actix-server's own handlers
/// do the same, but nothing below actix would hear of them: [`connection::serve`] must close
/// idle keep-alive connections when the stop begins.
struct StopSignals(
    Option<(
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
    )>,
);

impl StopSignals {
    /// Installs the handlers now (inside the runtime).
    fn listen() -> StopSignals {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) {
            (Ok(term), Ok(int), Ok(quit)) => StopSignals(Some((term, int, quit))),
            _ => {
                tracing::warn!("cannot listen for signals: stop streamd with SIGKILL");
                StopSignals(None)
            }
        }
    }

    /// Waits for one and says whether the stop is graceful.
    async fn wait(self) -> bool {
        let Some((mut term, mut int, mut quit)) = self.0 else {
            return std::future::pending().await;
        };
        let graceful = tokio::select! {
            _ = term.recv() => true,
            _ = int.recv() => false,
            _ = quit.recv() => false,
        };
        tracing::info!(graceful, "stopping");
        graceful
    }
}

/// Housekeeping: make resume positions durable every few seconds; drop expired sessions and
/// idle rate-limit entries every minute.
async fn sweep(state: web::Data<AppState>) {
    let mut tick = actix_web::rt::time::interval(PERSIST_EVERY);
    let mut ticks: u32 = 0;
    loop {
        tick.tick().await;
        let store = state.store.clone();
        if let Ok(Err(e)) = web::block(move || store.persist()).await {
            tracing::warn!(error = %e, "persisting resume positions failed");
        }
        ticks = ticks.wrapping_add(1);
        if ticks % (SWEEP_EVERY.as_secs() / PERSIST_EVERY.as_secs()) as u32 != 0 {
            continue;
        }
        let store = state.store.clone();
        match web::block(move || store.purge_expired_sessions(Timestamp::now())).await {
            Ok(Ok(n)) if n > 0 => tracing::debug!(removed = n, "expired sessions purged"),
            Ok(Err(e)) => tracing::warn!(error = %e, "session sweep failed"),
            _ => {}
        }
        state.limiter.shrink();
    }
}
