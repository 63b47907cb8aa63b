//! nginx (Debian's package) in front of an upstream, asking a verifier with `auth_request`: the
//! forward-auth neighbour of the gateway tests. The config is `nginx.conf.tmpl` (also what the
//! docs show), written into a temp dir that holds every file nginx writes; nginx runs in the
//! foreground as the current user, listens on a free loopback port, and is killed by pid when
//! the fixture is dropped.
//!
//! Like the browser suite, the tests "fail, never skip" where they are meant to run: without
//! nginx on the `PATH` a test is a no-op after a note, unless `NGINX_TESTS=1` (set by
//! `scripts/test`, which installs nginx) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The config the fixture runs (and the docs show), with `@PREFIX@`, `@LISTEN@`, `@UPSTREAM@`
/// and `@VERIFY@` to fill.
pub const TEMPLATE: &str = include_str!("nginx.conf.tmpl");

/// Returns from the enclosing test unless nginx can be run.
#[macro_export]
macro_rules! needs_nginx {
    () => {
        if !$crate::support::nginx::available() {
            return;
        }
    };
}

fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    // Debian installs it in /usr/sbin, which a user's PATH may lack.
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// Whether this run can start nginx: always when it is installed; when it is not,
/// `NGINX_TESTS=1` makes that a failure, and otherwise the test passes as a no-op after a note.
pub fn available() -> bool {
    if binary().is_some() {
        return true;
    }
    if std::env::var("NGINX_TESTS").as_deref() == Ok("1") {
        panic!(
            "NGINX_TESTS=1 but nginx is not installed: apt-get install -y nginx (scripts/test does)"
        );
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "note: nginx is not installed, so the nginx tests pass as no-ops; \
         run scripts/test, or apt-get install -y nginx"
    );
    false
}

/// A running nginx; killed (by pid) and its temp dir removed when dropped.
pub struct Nginx {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx on a free loopback port in front of `upstream` (`host:port`), asking `verify`
    /// (a full URL, for cutover `http://127.0.0.1:<port>/gateway/verify`) about every request.
    /// Returns once it answers HTTP.
    pub async fn start(upstream: &str, verify: &str) -> Self {
        let nginx =
            binary().expect("nginx is not installed (check support::nginx::available first)");
        // A free port can be taken between our probe and nginx's bind: try again, a few times.
        let mut last = String::new();
        for _ in 0..5 {
            let port = crate::support::serve::free_port();
            let dir = tempfile::tempdir().unwrap();
            let conf = render(dir.path(), &format!("127.0.0.1:{port}"), upstream, verify);
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            // -e: the error log before the config is read (Debian's default is /var/log/nginx).
            let child = Command::new(&nginx)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut started = Nginx { port, child, dir };
            match started.ready().await {
                Ok(()) => return started,
                Err(why) => last = why,
            }
        }
        panic!("nginx did not start: {last}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What nginx logged (its error log), for a failing test's message.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Waits until nginx accepts connections, or says why it exited.
    async fn ready(&mut self) -> Result<(), String> {
        let port = self.port;
        let mut exited = None;
        let up = super::poll(30, || {
            let status = self.child.try_wait().unwrap();
            if status.is_some() {
                exited = status;
                return std::future::ready(Some(false));
            }
            let ok = std::net::TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_secs(1),
            )
            .is_ok();
            std::future::ready(ok.then_some(true))
        })
        .await;
        match (up, exited) {
            (Some(true), _) => Ok(()),
            (_, Some(status)) => Err(format!("exited with {status}: {}", self.error_log())),
            _ => Err(format!("no answer on port {port}: {}", self.error_log())),
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Child::kill signals this child's pid only.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The template with its names filled; also makes the temp dirs nginx expects.
pub fn render(prefix: &Path, listen: &str, upstream: &str, verify: &str) -> String {
    std::fs::create_dir_all(prefix.join("tmp")).unwrap();
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    TEMPLATE
        .replace("@PREFIX@", &prefix.display().to_string())
        .replace("@LISTEN@", listen)
        .replace("@UPSTREAM@", upstream)
        .replace("@VERIFY@", verify)
}
