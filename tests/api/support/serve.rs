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
        let up = super::poll(super::PATIENCE_SECS, || async {
            reqwest::get(format!("{}/healthz", p.address))
                .await
                .ok()
                .map(|_| ())
        });
        assert!(up.await.is_some(), "cutover serve did not come up");
        p
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> reqwest::Response {
        let rb = reqwest::Client::new().get(format!("{}{path}", self.address));
        authorize(rb, auth).send().await.unwrap()
    }

    pub async fn status(&self, path: &str, auth: &Auth) -> u16 {
        self.get(path, auth).await.status().as_u16()
    }

    /// Sends SIGTERM and waits (at most `PATIENCE_SECS`) for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
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
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(sent.unwrap().success(), "kill -TERM {pid}");
    }

    /// Waits (at most `PATIENCE_SECS`) for the process to exit.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let patience = std::time::Duration::from_secs(super::PATIENCE_SECS);
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit within {patience:?} of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// A read+write token for `sub` from this process's dev issuer.
    pub fn user(&self, sub: &str) -> Auth {
        Auth::Bearer(mint(self.data_dir.path(), sub, READ_WRITE))
    }
}

/// An HTTP/1.1 request on a connection of its own, sent with `Expect: 100-continue`: the
/// server's `100 Continue` proves it has parsed the head and handed the request to its handler,
/// so a test knows the request is in flight without sleeping. The body follows in
/// [`HeldRequest::finish`].
pub struct HeldRequest {
    stream: tokio::net::TcpStream,
    received: Vec<u8>,
}

impl ServeProcess {
    /// The public listener's `host:port`, for raw connections.
    pub fn socket_address(&self) -> String {
        self.address.trim_start_matches("http://").to_string()
    }

    /// Sends the head of `method path` (with `headers` and a body of `body_len` bytes, of which
    /// `first` goes now) and waits for the server's `100 Continue`.
    pub async fn hold(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: usize,
        first: &[u8],
    ) -> HeldRequest {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.socket_address())
            .await
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: {body_len}\r\n",
            self.socket_address()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut received = Vec::new();
        while !String::from_utf8_lossy(&received).contains("100 Continue\r\n\r\n") {
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before 100 Continue: {received:?}");
            received.extend_from_slice(&buf[..n]);
        }
        stream.write_all(first).await.unwrap();
        HeldRequest { stream, received }
    }
}

impl HeldRequest {
    /// Sends the rest of the body, reads until the server closes, and returns the final status
    /// (the one after `100 Continue`) and the response as text.
    pub async fn finish(mut self, rest: &[u8]) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(rest).await.unwrap();
        self.stream.read_to_end(&mut self.received).await.unwrap();
        let text = String::from_utf8_lossy(&self.received).into_owned();
        let status = text
            .split("\r\n")
            .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
            .map(|rest| rest[..3].parse::<u16>().unwrap())
            .filter(|code| *code != 100)
            .last()
            .unwrap_or_else(|| panic!("no final response in {text:?}"));
        (status, text)
    }
}
