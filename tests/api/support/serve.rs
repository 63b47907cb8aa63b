//! `cutover serve` as a child process, for tests that need their own AWS endpoint settings
//! (environment variables the in-process app would share with every other test).

use crate::helpers::{Auth, READ_WRITE, authorize, cutover_command, mint};

/// A running `cutover serve`; killed on drop.
pub struct ServeProcess {
    pub address: String,
    pub admin_address: String,
    pub data_dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServeProcess {
    pub async fn start(pairs: &[(&str, &str)], env: &[(&str, &str)]) -> ServeProcess {
        let data_dir = tempfile::tempdir().unwrap();
        let (port, admin) = (free_port(), free_port());
        let mut cmd = cutover_command();
        cmd.env("CUTOVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("CUTOVER_ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
            .env("CUTOVER_DATA_DIR", data_dir.path())
            .env("CUTOVER_LOG", "warn");
        for (k, v) in pairs {
            cmd.env(format!("CUTOVER_{}", k.to_uppercase()), v);
        }
        cmd.envs(env.iter().copied());
        let child = cmd
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("cutover serve starts");
        let p = ServeProcess {
            address: format!("http://127.0.0.1:{port}"),
            admin_address: format!("http://127.0.0.1:{admin}"),
            data_dir,
            child,
        };
        for _ in 0..200 {
            if reqwest::get(format!("{}/healthz", p.address)).await.is_ok() {
                return p;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("cutover serve did not come up");
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> reqwest::Response {
        let rb = reqwest::Client::new().get(format!("{}{path}", self.address));
        authorize(rb, auth).send().await.unwrap()
    }

    pub async fn status(&self, path: &str, auth: &Auth) -> u16 {
        self.get(path, auth).await.status().as_u16()
    }

    /// Sends SIGTERM and waits (at most 10 s) for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(sent.unwrap().success(), "kill -TERM {pid}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within 10 s of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// A read+write token for `sub` from this process's dev issuer.
    pub fn user(&self, sub: &str) -> Auth {
        Auth::Bearer(mint(self.data_dir.path(), sub, READ_WRITE))
    }
}
