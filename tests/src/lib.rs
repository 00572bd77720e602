//! End-to-end harness: real device stores (`gridwalk-core`) against a real sync server on
//! loopback, either in this process (fast, for most tests and the property test) or as a child
//! process that a test can SIGKILL and restart on the same data and port (for crash tests).
//!
//! Everything here is test scaffolding; `unwrap` on setup failures is deliberate — a harness
//! that cannot start a server should stop the test loudly.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use chrono::Utc;
use gridwalk_core::sync::{CancelToken, HttpOptions, HttpTransport, SyncOptions, SyncReport};
use gridwalk_core::*;
use gridwalk_sync_server::{Config, Server};

pub use gridwalk_sync_server::admin::{DEMO_GRID, DEMO_GRID_2, DEMO_PASSWORD};

/// A server running on a tokio runtime of its own thread, on an ephemeral loopback port.
pub struct InProcessServer {
    pub url: String,
    pub addr: SocketAddr,
    pub server: Server,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    /// The server's own PostgreSQL database (`demo_on`), dropped after the server stops.
    _db: Option<gridwalk_sync_server::postgres::scratch::ScratchDb>,
}

impl InProcessServer {
    /// A fresh server with the demo organisation and users, cheap password hashing.
    pub fn demo() -> InProcessServer {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::with_data_dir(dir.path()).argon2_light();
        let mut s = InProcessServer::start(config);
        s._dir = Some(dir);
        s
    }

    /// [`InProcessServer::demo`] on a fresh PostgreSQL database made on the server of
    /// `postgres_url` (a role that may create databases), or on SQLite when `None`.
    pub fn demo_on(postgres_url: Option<&str>) -> InProcessServer {
        let Some(url) = postgres_url else {
            return InProcessServer::demo();
        };
        let dir = tempfile::tempdir().unwrap();
        let db = gridwalk_sync_server::postgres::scratch::ScratchDb::create(url).unwrap();
        let mut config = Config::with_data_dir(dir.path()).argon2_light();
        config.database = Some(db.url.clone());
        let mut s = InProcessServer::start(config);
        s._dir = Some(dir);
        s._db = Some(db);
        s
    }

    /// Starts `config` (seeding the demo org) and returns once the port is bound.
    pub fn start(config: Config) -> InProcessServer {
        let server = Server::open(config).unwrap();
        server.admin().seed_demo().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let srv = server.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                gridwalk_sync_server::serve(listener, srv, async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        InProcessServer {
            url: format!("http://{addr}"),
            addr,
            server,
            shutdown: Some(tx),
            thread: Some(thread),
            _dir: None,
            _db: None,
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

static BUILD_SERVER: Once = Once::new();

/// Path of the `gridwalk-server` binary, built once per test process (cheap when up to date).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test-binary> → target/<profile>/gridwalk-server
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("gridwalk-server");
    BUILD_SERVER.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "-q",
            "-p",
            "gridwalk-sync-server",
            "--bin",
            "gridwalk-server",
        ]);
        if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building gridwalk-server failed");
    });
    assert!(bin.exists(), "{} missing", bin.display());
    bin
}

/// The server as a child process, killable at any moment and restartable on the same data.
pub struct ServerProcess {
    pub url: String,
    pub port: u16,
    pub data: PathBuf,
    child: Option<Child>,
    extra: Vec<String>,
}

impl ServerProcess {
    /// Starts `gridwalk-server serve --demo` on a free port with its data in `data`.
    pub fn start(data: &Path, extra: &[&str]) -> ServerProcess {
        let mut p = ServerProcess {
            url: String::new(),
            port: 0,
            data: data.to_path_buf(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        p.spawn();
        p
    }

    fn spawn(&mut self) {
        let listen = format!("127.0.0.1:{}", self.port);
        let mut last_err = String::new();
        for _ in 0..50 {
            let mut child = Command::new(server_binary())
                .args(["serve", "--demo", "--insecure-fast-hash", "--data"])
                .arg(&self.data)
                .args(["--listen", &listen])
                .args(&self.extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let mut bound = None;
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(a) = line.trim().strip_prefix("listening on ") {
                    bound = a.parse::<SocketAddr>().ok();
                    break;
                }
                line.clear();
            }
            match bound {
                Some(addr) => {
                    // Keep draining stdout so the server never blocks on a full pipe.
                    std::thread::spawn(move || {
                        let mut sink = String::new();
                        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                            sink.clear();
                        }
                    });
                    self.port = addr.port();
                    self.url = format!("http://{addr}");
                    self.child = Some(child);
                    return;
                }
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = format!("server did not bind {listen}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        panic!("{last_err}");
    }

    /// SIGKILL: no shutdown, no flush beyond what the server committed.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A device: a store file of its own, with a settable clock (to skew it by days).
pub struct Device {
    pub store: Store,
    pub transport: HttpTransport,
    /// Offset of this device's wall clock from the real one.
    pub clock: Arc<Mutex<chrono::Duration>>,
    pub name: String,
}

impl Device {
    /// Opens `dir/<name>.db` and signs in as `user` to `url`.
    pub fn login(dir: &Path, name: &str, url: &str, user: &str) -> Device {
        Device::login_with(dir, name, url, user, HttpOptions::default())
    }

    /// [`Device::login`] with transport options (e.g. the full-clock records phones from
    /// before the compact encoding ask for).
    pub fn login_with(
        dir: &Path,
        name: &str,
        url: &str,
        user: &str,
        options: HttpOptions,
    ) -> Device {
        let clock = Arc::new(Mutex::new(chrono::Duration::zero()));
        let mut store = Store::open(dir.join(format!("{name}.db"))).unwrap();
        let c = clock.clone();
        store.set_now_fn(Arc::new(move || Utc::now() + *c.lock().unwrap()));
        let transport = HttpTransport::with_options(url, options).unwrap();
        store
            .login(&transport, user, DEMO_PASSWORD, Some(name))
            .unwrap();
        Device {
            store,
            transport,
            clock,
            name: name.into(),
        }
    }

    /// Sets this device's wall clock to the real time plus `by` (a phone whose clock is wrong).
    pub fn skew(&self, by: chrono::Duration) {
        *self.clock.lock().unwrap() = by;
    }

    /// One sync with fast retries (tests should not sleep for seconds).
    pub fn sync(&self) -> Result<SyncReport, gridwalk_core::sync::SyncError> {
        self.store.sync(
            &self.transport,
            &fast_options(),
            &mut |_| {},
            &CancelToken::new(),
        )
    }
}

/// Sync options with quick retries for tests.
pub fn fast_options() -> SyncOptions {
    SyncOptions {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        max_attempts: 8,
        ..SyncOptions::default()
    }
}

/// A household in `grid` with the given room.
pub fn household(grid: &str, room: &str) -> HouseholdInput {
    HouseholdInput {
        grid_code: grid.into(),
        address: Address {
            community: "幸福社区".into(),
            building: "3栋".into(),
            unit: Some("2单元".into()),
            floor: Some(5),
            room: Some(room.into()),
            text: None,
        },
        housing_type: HousingType::Owned,
        care_tier: CareTier::Routine,
        tags: vec![],
        location: None,
        notes: None,
    }
}

/// A resident of `household_id` without an ID number.
pub fn resident(household_id: &str, name: &str) -> ResidentInput {
    ResidentInput {
        household_id: household_id.into(),
        name: name.into(),
        id_number: None,
        phone: Some("13912345678".into()),
        gender: None,
        birth_date: None,
        relation: Relation::Head,
        residency: Residency::Registered,
        special_groups: vec![],
        moved_in_on: None,
        notes: None,
    }
}

/// Rows of `table` (a trusted table name from the test).
pub fn count(store: &Store, table: &str) -> i64 {
    store
        .read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
        .unwrap()
}

/// Pending outbox rows.
pub fn pending(store: &Store) -> i64 {
    store.read(changes::counts).unwrap().0
}
