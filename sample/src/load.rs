//! A background CPU load for benchmarks, so they can print their figures both on a quiet
//! machine and under the kind of load a cheap phone carries while the camera and GPS run.
//!
//! The load is one thread spinning on arithmetic until the guard is dropped; it lives in the
//! benchmark process itself so every run brings the same load with it, whatever else the
//! machine is doing. [`load_average`] reads the system's load so a printed figure can say how
//! busy the machine was around it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One busy thread; stops (and is joined) when dropped.
pub struct BusyThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<u64>>,
}

impl BusyThread {
    /// Starts the spinning thread.
    pub fn start() -> BusyThread {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("bench-load".into())
            .spawn(move || {
                // Integer work the optimiser cannot remove (the result is returned).
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                while !flag.load(Ordering::Relaxed) {
                    for _ in 0..10_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                    }
                }
                x
            })
            .ok();
        BusyThread { stop, handle }
    }

    /// Whether the thread could be started (a benchmark says so when it could not).
    pub fn running(&self) -> bool {
        self.handle.is_some()
    }
}

impl Drop for BusyThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = std::hint::black_box(h.join());
        }
    }
}

/// The system's 1-, 5- and 15-minute load averages as `uptime` prints them (`n/a` where the
/// system does not say).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

/// CPU time the calling thread has run so far (Linux `schedstat`, nanoseconds), or `None` where
/// the system does not say. On a machine shared with other work, a thread's CPU time shows the
/// work done far more steadily than the wall clock does.
pub fn thread_cpu() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// CPU time of the whole process so far (user + system, Linux `/proc/self/stat`, in clock
/// ticks of 10 ms), or `None` where the system does not say.
pub fn process_cpu() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold blanks) close with ')'.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(std::time::Duration::from_millis((utime + stime) * 10))
}

/// "quiet" or "loaded" as a benchmark line prints it, with the load average now.
pub fn label(loaded: bool) -> String {
    format!(
        "{} (load avg {})",
        if loaded { "loaded" } else { "quiet" },
        load_average()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_thread_runs_and_stops_when_dropped() {
        let b = BusyThread::start();
        assert!(b.running());
        drop(b);
        assert!(!load_average().is_empty());
        assert!(label(true).starts_with("loaded"));
        if cfg!(target_os = "linux") {
            assert!(thread_cpu().is_some() && process_cpu().is_some());
        }
    }
}
