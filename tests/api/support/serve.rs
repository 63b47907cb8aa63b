//! `cutover serve` as a child process, for tests that need their own AWS endpoint settings
//! (environment variables the in-process app would share with every other test), a process to
//! kill, or its signals: the one shared with the browser suite, and what only the API tests do
//! with it.

use crate::helpers::{Auth, OPERATORS, READ_WRITE, authorize, mint, mint_in_groups};

#[path = "../../common/serve.rs"]
mod process;

pub use process::{Served as ServeProcess, cutover_command, free_port};

impl ServeProcess {
    /// `cutover serve` with `pairs` as settings and `env` as more environment (the AWS
    /// endpoints of a test's own); its log goes to the test's stderr.
    pub async fn start(pairs: &[(&str, &str)], env: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::launch(pairs, |cmd| {
            cmd.envs(env.iter().copied());
        })
        .await
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> reqwest::Response {
        let rb = reqwest::Client::new().get(format!("{}{path}", self.address));
        authorize(rb, auth).send().await.unwrap()
    }

    pub async fn status(&self, path: &str, auth: &Auth) -> u16 {
        self.get(path, auth).await.status().as_u16()
    }

    /// A read+write token for `sub` from this process's dev issuer.
    pub fn user(&self, sub: &str) -> Auth {
        Auth::Bearer(mint(self.data_dir.path(), sub, READ_WRITE))
    }

    /// A `GET` on the admin listener as an operator of this process's dev issuer.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        let operator = Auth::Bearer(mint_in_groups(
            self.data_dir.path(),
            "operator",
            "openid",
            &[OPERATORS],
        ));
        let rb = reqwest::Client::new().get(format!("{}{path}", self.admin_address));
        authorize(rb, &operator).send().await.unwrap()
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
