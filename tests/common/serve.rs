//! `cutover serve` as a child process: the binary a user runs, with a data dir of its own, on
//! free loopback ports, waited for until it answers and stopped by its pid. Shared by the API and
//! the browser suites, two test crates: each includes this file as a module of its own
//! (`#[path = "../../common/serve.rs"]`) and adds what only it needs in an `impl` beside it.
//! It reads the including suite's `support::PATIENCE_SECS`.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A loopback port no one listens on now, taken below the kernel's ephemeral range. A port
/// `bind(0)` hands out is one the kernel may hand again, to another test's server or outgoing
/// connection, between this call and the child's own bind: the child then stops with `Address
/// already in use` and never answers. Below the range only another `free_port` could pick it,
/// and each call in this process moves on to the next port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let base = 10_000;
    if low <= base + 1000 {
        // An unusual range: the kernel's choice, as before.
        return std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
    }
    let span = low - base;
    // A start of this process's own, so the two test crates' runs do not walk the same ports.
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(base + offset).expect("below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {base} and {low}");
}

/// The `cutover` binary of this build, without the `CUTOVER_*` settings of the environment the
/// tests run in, so a test's process sees only the settings the test gives it.
pub fn cutover_command() -> Command {
    without_settings(Command::new(env!("CARGO_BIN_EXE_cutover")))
}

fn without_settings(mut cmd: Command) -> Command {
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CUTOVER_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// A running `cutover serve`; killed on drop.
pub struct Served {
    pub address: String,
    /// For the admin listener (metrics, the migration console).
    pub admin_address: String,
    pub data_dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `cutover serve` with `pairs` as settings (`name`, `value`: lowercase, without the
    /// `CUTOVER_` prefix) and waits until its public listener answers. `configure` adds what a
    /// test needs to the command (more environment, where stderr goes); stdout is discarded and
    /// the log is at `warn` unless `configure` says otherwise.
    pub async fn launch(pairs: &[(&str, &str)], configure: impl FnOnce(&mut Command)) -> Served {
        let cutover = Command::new(env!("CARGO_BIN_EXE_cutover"));
        Served::launch_as(cutover, pairs, configure).await
    }

    /// [`launch`](Self::launch) through `program`, which is given `serve` as its argument and
    /// the settings in its environment: a wrapper that sets up the process and then `exec`s
    /// the `cutover` binary with its arguments.
    pub async fn launch_as(
        program: Command,
        pairs: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Served {
        let data_dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let mut cmd = without_settings(program);
        cmd.env("CUTOVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("CUTOVER_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
            .env("CUTOVER_DATA_DIR", data_dir.path())
            .env("CUTOVER_LOG", "warn");
        for (k, v) in pairs {
            cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
        }
        cmd.arg("serve").stdout(Stdio::null());
        configure(&mut cmd);
        let child = cmd.spawn().expect("cutover serve starts");
        let served = Served {
            address: format!("http://127.0.0.1:{port}"),
            admin_address: format!("http://127.0.0.1:{admin}"),
            data_dir,
            child,
        };
        let patience = Duration::from_secs(crate::support::PATIENCE_SECS);
        let deadline = Instant::now() + patience;
        while reqwest::get(format!("{}/healthz", served.address))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "cutover serve did not come up within {patience:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        served
    }

    /// The process id, for tools that act on the process (`prlimit`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most `PATIENCE_SECS`) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal_term();
        self.wait_exit()
    }

    /// SIGKILL: no shutdown work of any kind; waits for the process to be gone.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns at once.
    pub fn signal_term(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.unwrap().success(), "kill -TERM {pid}");
    }

    /// Waits (at most `PATIENCE_SECS`) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let patience = Duration::from_secs(crate::support::PATIENCE_SECS);
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit within {patience:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
