//! Gridwalk sync server: signs grid workers in, takes the changes their phones push, and feeds
//! every device the records of its scope — plus the case closed loop that supervisors drive.
//!
//! Design in one paragraph: one SQLite database ([`sqlite`], the default) or PostgreSQL
//! ([`postgres`], several instances on one database) behind a synchronous [`storage`]
//! trait (handlers call it on the blocking pool), sync rules written once against a tiny
//! transaction trait ([`engine`], [`cases`]), and the wire types, clocks and merge taken from
//! `gridwalk-protocol` so phone and server cannot drift. Every record carries a global revision
//! assigned in commit order; a pull is "records of my grids with a revision above my cursor".
//! `docs/protocol.md` documents the HTTP API; `src/README.md` maps files to concerns.

pub mod admin;
pub mod auth;
pub mod blobs;
pub mod cases;
pub mod config;
pub mod conformance;
pub mod console;
pub mod cursor;
pub mod engine;
pub mod error;
mod group;
pub mod http;
mod memo;
pub mod photos;
pub mod postgres;
pub mod sessions;
pub mod sqlite;
pub mod storage;
pub mod throttle;
mod upload_dir;
pub mod uploads;

use std::future::Future;
use std::sync::Arc;

pub use admin::{Admin, Bootstrap, BootstrapReport, UserSpec};
pub use config::{Argon2Config, Config};
pub use error::{ApiError, Error, Result};
pub use storage::{Principal, Storage};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub config: Arc<Config>,
    pub passwords: auth::Passwords,
    /// A hash verified for unknown user names, so login timing does not reveal who exists.
    pub(crate) dummy_hash: Arc<String>,
    /// Photo uploads and the blob store (`uploads.rs`, `blobs.rs`).
    pub uploads: Arc<uploads::Uploads>,
}

/// An opened server: storage plus configuration, ready to serve or administer.
#[derive(Clone)]
pub struct Server {
    state: AppState,
}

impl Server {
    /// Opens (or creates) the database: PostgreSQL at `config.database` when set, else SQLite
    /// under `config.data_dir`.
    pub fn open(config: Config) -> Result<Server> {
        config.check()?;
        let storage: Arc<dyn Storage> = match &config.database {
            Some(url) => Arc::new(
                crate::postgres::PgStorage::open(url, config.database_pool)?
                    .with_writers(config.database_writers)
                    .with_group_limit(config.push_group_limit),
            ),
            None => Arc::new(
                sqlite::SqliteStorage::open(&config.db_path(), config.readers)?
                    .with_group_limit(config.push_group_limit),
            ),
        };
        let passwords = auth::Passwords::new(config.argon2);
        let dummy_hash = passwords.hash("not-a-real-password")?;
        let uploads = uploads::Uploads::open(&config.blob_root(), config.uploads.clone())?;
        Ok(Server {
            state: AppState {
                storage,
                config: Arc::new(config),
                passwords,
                dummy_hash: Arc::new(dummy_hash),
                uploads: Arc::new(uploads),
            },
        })
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    pub fn storage(&self) -> Arc<dyn Storage> {
        self.state.storage.clone()
    }

    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// The admin API (bootstrap, users, devices, demo seed).
    pub fn admin(&self) -> Admin {
        Admin::new(
            self.state.storage.clone(),
            self.state.passwords,
            self.state.config.access_ttl_secs,
            self.state.config.refresh_ttl_secs,
        )
    }

    /// The HTTP application.
    pub fn router(&self) -> axum::Router {
        http::router(self.state.clone())
    }
}

/// Serves `server` on `listener` until `shutdown` completes, then drains open requests.
/// Handlers see each connection's peer address (sign-in throttling per address).
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Server,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        server
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
