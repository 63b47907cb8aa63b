//! `chromedriver` on a free loopback port, stopped (by its pid) when dropped.

use std::process::{Child, Command, Stdio};

use super::served::free_port;

pub struct Chromedriver {
    pub url: String,
    child: Child,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    pub fn installed() -> bool {
        Command::new("chromedriver")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub async fn start() -> Chromedriver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Chromedriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let status = format!("{}/status", driver.url);
        let what = format!("chromedriver to come up on {}", driver.url);
        super::eventually(super::PATIENCE_SECS, &what, || async {
            let res = reqwest::get(&status).await.ok()?;
            res.status().is_success().then_some(())
        })
        .await;
        driver
    }
}
