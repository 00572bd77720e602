//! The network around an upload: the real sync server in-process (killable and restartable on
//! the same data folder), and a TCP proxy in front of it that counts every byte on the wire,
//! can drop all connections at a chosen upstream byte, and can flip one byte inside the body of
//! the next PATCH (a chunk damaged on the way).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gridwalk_sync_server::{Config, Server};

#[allow(unused_imports)]
pub use gridwalk_sync_server::admin::{DEMO_GRID, DEMO_PASSWORD};

/// A server on a loopback port, on its own runtime.
pub struct ServerHandle {
    rt: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
    pub server: Server,
    pub data_dir: PathBuf,
}

impl ServerHandle {
    /// Opens (or reopens) the server on `data_dir` with the demo org and users.
    pub fn start(data_dir: &Path) -> ServerHandle {
        let config = Config::with_data_dir(data_dir).argon2_light();
        let server = Server::open(config).expect("open server");
        server.admin().seed_demo().expect("seed demo");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let s = server.clone();
        rt.spawn(async move {
            let _ = gridwalk_sync_server::serve(listener, s, std::future::pending()).await;
        });
        ServerHandle {
            rt: Some(rt),
            addr,
            server,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Stops the server like a crash: tasks are dropped mid-request, nothing drains.
    pub fn kill(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }

    pub fn uploads(&self) -> Arc<gridwalk_sync_server::uploads::Uploads> {
        self.server.state().uploads.clone()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Bytes through the proxy.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Client → server, everything (request lines, headers, bodies).
    pub up: AtomicU64,
    /// Server → client.
    pub down: AtomicU64,
    /// Body bytes of PATCH requests forwarded (complete or cut): chunk bytes on the wire.
    pub patch_body: AtomicU64,
    /// Connections dropped on purpose.
    pub cuts: AtomicU64,
}

impl ProxyStats {
    pub fn total(&self) -> u64 {
        self.up.load(Ordering::SeqCst) + self.down.load(Ordering::SeqCst)
    }
}

struct Ctl {
    target: Mutex<SocketAddr>,
    /// Drop every connection when `up` reaches this (then disarm).
    cut_at_up: AtomicU64,
    /// PATCH bodies still to damage.
    corrupt: AtomicU32,
    live: Mutex<Vec<TcpStream>>,
}

/// A counting, cutting, corrupting TCP proxy.
pub struct Proxy {
    pub addr: SocketAddr,
    pub stats: Arc<ProxyStats>,
    ctl: Arc<Ctl>,
}

impl Proxy {
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let stats = Arc::new(ProxyStats::default());
        let ctl = Arc::new(Ctl {
            target: Mutex::new(target),
            cut_at_up: AtomicU64::new(u64::MAX),
            corrupt: AtomicU32::new(0),
            live: Mutex::new(Vec::new()),
        });
        let (s, c) = (stats.clone(), ctl.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let target = *c.target.lock().unwrap();
                let Ok(server) = TcpStream::connect(target) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                {
                    let mut live = c.live.lock().unwrap();
                    live.retain(|t| t.peer_addr().is_ok());
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                let (s1, c1) = (s.clone(), c.clone());
                let (cr, sw) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || pump_up(cr, sw, &s1, &c1));
                let s2 = s.clone();
                std::thread::spawn(move || pump_down(server, client, &s2));
            }
        });
        Proxy { addr, stats, ctl }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends new connections to another server (after a restart).
    pub fn retarget(&self, target: SocketAddr) {
        *self.ctl.target.lock().unwrap() = target;
    }

    /// Drops every connection once the upstream counter reaches `at` bytes.
    pub fn cut_at(&self, at: u64) {
        self.ctl.cut_at_up.store(at, Ordering::SeqCst);
    }

    /// Damages one byte in each of the next `n` PATCH bodies.
    pub fn corrupt_next_patches(&self, n: u32) {
        self.ctl.corrupt.store(n, Ordering::SeqCst);
    }

    /// Drops every open connection now.
    pub fn cut_now(&self) {
        cut_all(&self.ctl, &self.stats);
    }
}

fn cut_all(ctl: &Ctl, stats: &ProxyStats) {
    for t in ctl.live.lock().unwrap().drain(..) {
        let _ = t.shutdown(Shutdown::Both);
    }
    stats.cuts.fetch_add(1, Ordering::SeqCst);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn content_length(headers: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(headers).to_ascii_lowercase();
    text.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Client → server, parsing request heads to find PATCH bodies.
fn pump_up(mut from: TcpStream, mut to: TcpStream, stats: &ProxyStats, ctl: &Ctl) {
    let mut hist: Vec<u8> = Vec::new();
    let mut pos = 0usize; // next unparsed byte of `hist`
    let mut body_left = 0u64;
    let mut in_patch = false;
    let mut flip_at: Option<usize> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Decide the cut first: bytes past it never reach the wire and are not parsed.
        let before = stats.up.fetch_add(n as u64, Ordering::SeqCst);
        let cut = ctl.cut_at_up.load(Ordering::SeqCst);
        let mut keep = n;
        let mut cutting = false;
        if before + n as u64 >= cut {
            keep = cut.saturating_sub(before) as usize;
            stats.up.fetch_sub((n - keep) as u64, Ordering::SeqCst);
            cutting = ctl
                .cut_at_up
                .compare_exchange(cut, u64::MAX, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
        }
        let base = hist.len();
        hist.extend_from_slice(&buf[..keep]);
        while pos < hist.len() {
            if body_left > 0 {
                let take = (body_left as usize).min(hist.len() - pos);
                if let Some(f) = flip_at {
                    if f >= pos && f < pos + take {
                        hist[f] ^= 0x5A;
                        flip_at = None;
                    }
                }
                if in_patch {
                    stats.patch_body.fetch_add(take as u64, Ordering::SeqCst);
                }
                body_left -= take as u64;
                pos += take;
                continue;
            }
            let Some(end) = find(&hist[pos..], b"\r\n\r\n") else {
                break;
            };
            let head = &hist[pos..pos + end];
            body_left = content_length(head);
            in_patch = head.starts_with(b"PATCH ");
            if in_patch && body_left > 0 {
                let pending = ctl.corrupt.load(Ordering::SeqCst);
                if pending > 0
                    && ctl
                        .corrupt
                        .compare_exchange(pending, pending - 1, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                {
                    flip_at = Some(pos + end + 4 + (body_left / 2) as usize);
                }
            }
            pos += end + 4;
        }
        if to.write_all(&hist[base..]).is_err() {
            break;
        }
        if cutting {
            let _ = to.flush();
            cut_all(ctl, stats);
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn pump_down(mut from: TcpStream, mut to: TcpStream, stats: &ProxyStats) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        stats.down.fetch_add(n as u64, Ordering::SeqCst);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
