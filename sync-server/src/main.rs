//! `gridwalk-server`: runs the sync server and administers its organisation and users.
//!
//! Settings come from (lowest to highest) defaults, an optional JSON file (`--config`), then
//! flags or their `GRIDWALK_SERVER_*` environment variables. `serve` prints
//! `listening on <addr>` to stdout once the socket is bound (`--listen 127.0.0.1:0` picks a free
//! port), so scripts and tests can wait for that line. Logs go to stderr.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gridwalk_protocol::Role;
use gridwalk_sync_server::{Config, Server, UserSpec};

#[derive(Parser)]
#[command(name = "gridwalk-server", version, about = "Gridwalk sync server")]
struct Cli {
    /// JSON config file (keys of `Config`; missing keys keep their defaults).
    #[arg(long, global = true, env = "GRIDWALK_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Data folder (holds gridwalk.db). Default ./data.
    #[arg(long, global = true, env = "GRIDWALK_SERVER_DATA")]
    data: Option<PathBuf>,
    /// PostgreSQL database (`postgres://user:password@host:port/db`) instead of SQLite in the
    /// data folder; photo blobs stay in the data folder. Every subcommand uses it.
    #[arg(
        long,
        global = true,
        env = "GRIDWALK_SERVER_DATABASE",
        hide_env_values = true
    )]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Create org units and users from a JSON or CSV file (repeatable).
    Bootstrap {
        #[arg(long)]
        file: PathBuf,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage devices.
    #[command(subcommand)]
    Device(DeviceCmd),
    /// The console's audit log of reveals.
    #[command(subcommand)]
    Audit(AuditCmd),
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Verify the hash chain of the audit log; exits non-zero naming the first bad entry.
    Verify,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on. Default 127.0.0.1:8787 (loopback only).
    #[arg(long, env = "GRIDWALK_SERVER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Seed the CLI demo's organisation and demo users (see src/README.md).
    #[arg(long, env = "GRIDWALK_SERVER_DEMO")]
    demo: bool,
    /// Access token lifetime in seconds.
    #[arg(long, env = "GRIDWALK_SERVER_ACCESS_TTL")]
    access_ttl: Option<u64>,
    /// Refresh token lifetime in seconds.
    #[arg(long, env = "GRIDWALK_SERVER_REFRESH_TTL")]
    refresh_ttl: Option<u64>,
    /// Cheap password hashing: tests only, never in production.
    #[arg(long, env = "GRIDWALK_SERVER_INSECURE_FAST_HASH")]
    insecure_fast_hash: bool,
    /// Folder of photo blobs and unfinished uploads, shared by every instance of a deployment
    /// (default: the data folder).
    #[arg(long, env = "GRIDWALK_SERVER_BLOB_DIR")]
    blob_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user. The password is read from --password / GRIDWALK_SERVER_PASSWORD or stdin.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// grid_worker | grid_leader | community | street | district
        #[arg(long)]
        role: String,
        /// Org unit the user is attached to (a grid for grid workers).
        #[arg(long)]
        org: String,
        /// Extra grids (repeatable).
        #[arg(long = "grid")]
        grids: Vec<String>,
        #[arg(long, env = "GRIDWALK_SERVER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Disable a user: refused on their next request; every session of the user ends.
    Disable { username: String },
    /// Enable a disabled user (their devices sign in again: old sessions stay ended).
    Enable { username: String },
    /// Set a new password (from --password / GRIDWALK_SERVER_PASSWORD or stdin); every session
    /// of the user ends.
    Passwd {
        username: String,
        #[arg(long, env = "GRIDWALK_SERVER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

#[derive(Subcommand)]
enum DeviceCmd {
    /// Revoke a device: refused on its next request, also for new logins.
    Revoke { device_id: String },
}

fn read_password(given: Option<String>) -> Result<String, String> {
    if let Some(p) = given {
        return Ok(p);
    }
    eprint!("密码 / password: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read password: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn load_config(cli: &Cli) -> Result<Config, String> {
    let mut config = match &cli.config {
        Some(p) => Config::from_file(p).map_err(|e| format!("config {}: {e}", p.display()))?,
        None => Config::default(),
    };
    if let Some(d) = &cli.data {
        config.data_dir = d.clone();
    }
    if let Some(url) = &cli.database {
        config.database = Some(url.clone());
    }
    Ok(config)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

fn serve(mut config: Config, args: ServeArgs) -> Result<(), String> {
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(t) = args.access_ttl {
        config.access_ttl_secs = t;
    }
    if let Some(t) = args.refresh_ttl {
        config.refresh_ttl_secs = t;
    }
    if args.insecure_fast_hash {
        config = config.argon2_light();
    }
    if let Some(d) = args.blob_dir {
        config.blob_dir = Some(d);
    }
    let server = Server::open(config).map_err(|e| e.to_string())?;
    if args.demo {
        let r = server.admin().seed_demo().map_err(|e| e.to_string())?;
        tracing::info!(
            org_units = r.org_units,
            users_added = r.users_added,
            "demo organisation seeded"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(server.config().listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", server.config().listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // One write, errors ignored: a script that read the first line and closed the pipe
        // must not kill the server with a failed print.
        let mut banner = format!("listening on {addr}\n");
        if args.demo {
            banner.push_str(&format!(
                "控制台 / console: http://{addr}/console/  (示例账号 / demo supervisor: {} / {})\n",
                gridwalk_sync_server::admin::DEMO_SUPERVISOR,
                gridwalk_sync_server::admin::DEMO_PASSWORD
            ));
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        drop(out);
        let database = match &server.config().database {
            Some(url) => gridwalk_sync_server::postgres::redact_url(url),
            None => server.config().db_path().display().to_string(),
        };
        tracing::info!(%addr, data = %server.config().data_dir.display(), %database, "serving");
        gridwalk_sync_server::serve(listener, server, shutdown_signal())
            .await
            .map_err(|e| e.to_string())
    })
}

fn run(cli: Cli) -> Result<(), String> {
    let config = load_config(&cli)?;
    match cli.command {
        Command::Serve(args) => serve(config, args),
        Command::Bootstrap { file } => {
            let server = Server::open(config).map_err(|e| e.to_string())?;
            let r = server
                .admin()
                .bootstrap_file(&file)
                .map_err(|e| e.to_string())?;
            println!(
                "组织单元 / org units: {}，新增用户 / users added: {}，已存在 / skipped: {}",
                r.org_units,
                r.users_added,
                r.users_skipped.len()
            );
            Ok(())
        }
        Command::User(cmd) => {
            let server = Server::open(config).map_err(|e| e.to_string())?;
            let admin = server.admin();
            match cmd {
                UserCmd::Add {
                    username,
                    display_name,
                    role,
                    org,
                    grids,
                    password,
                } => {
                    let role = Role::parse(&role).ok_or("未知角色 / unknown role")?;
                    let password = read_password(password)?;
                    let id = admin
                        .add_user(&UserSpec {
                            username,
                            display_name,
                            role,
                            org_code: org,
                            grids,
                            password,
                        })
                        .map_err(|e| e.to_string())?;
                    println!("{id}");
                }
                UserCmd::Disable { username } => {
                    admin.disable_user(&username).map_err(|e| e.to_string())?
                }
                UserCmd::Enable { username } => {
                    admin.enable_user(&username).map_err(|e| e.to_string())?
                }
                UserCmd::Passwd { username, password } => {
                    let password = read_password(password)?;
                    admin
                        .set_password(&username, &password)
                        .map_err(|e| e.to_string())?
                }
            }
            Ok(())
        }
        Command::Audit(AuditCmd::Verify) => {
            let db = config.db_path();
            if config.database.is_none() && !db.is_file() {
                return Err(format!("没有数据库 / no database at {}", db.display()));
            }
            let server = Server::open(config).map_err(|e| e.to_string())?;
            let storage = server.storage();
            let verdict = gridwalk_sync_server::console::audit::verify(&*storage)
                .map_err(|e| e.to_string())?;
            match verdict.first_break {
                None => {
                    println!(
                        "审计日志完整：{} 条 / audit log intact: {} entries",
                        verdict.entries, verdict.entries
                    );
                    Ok(())
                }
                Some(b) => Err(format!("审计日志被篡改 / audit log tampered: {b}")),
            }
        }
        Command::Device(DeviceCmd::Revoke { device_id }) => {
            let server = Server::open(config).map_err(|e| e.to_string())?;
            server
                .admin()
                .revoke_device(&device_id)
                .map_err(|e| e.to_string())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            ExitCode::FAILURE
        }
    }
}
