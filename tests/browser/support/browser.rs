//! A headless Chromium session that keeps its console: every test ends by checking it holds
//! no errors and no Content-Security-Policy violations.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::chromedriver::Chromedriver;

pub struct Browser {
    pub client: Client,
    driver_url: String,
    session: String,
}

/// Debian's Chromium, when chromedriver does not find it by itself.
const DEBIAN_CHROMIUM: &str = "/usr/bin/chromium";

impl Browser {
    pub async fn open(driver: &Chromedriver) -> Browser {
        let mut options = json!({
            "args": [
                "--headless=new",
                // The tests run as root in a container, where Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,860",
                "--hide-scrollbars",
            ],
        });
        if std::path::Path::new(DEBIAN_CHROMIUM).exists() {
            options["binary"] = json!(DEBIAN_CHROMIUM);
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            // The browser log holds console errors, failed loads and CSP violations.
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        let session = client
            .session_id()
            .await
            .unwrap()
            .expect("the session has an id");
        Browser {
            client,
            driver_url: driver.url.clone(),
            session,
        }
    }

    /// The browser log since the last call (chromedriver's `se/log` extension command).
    pub async fn console(&self) -> Vec<Value> {
        let res = reqwest::Client::new()
            .post(format!(
                "{}/session/{}/se/log",
                self.driver_url, self.session
            ))
            .json(&json!({ "type": "browser" }))
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["value"].as_array().cloned().unwrap_or_default()
    }

    /// Fails on any error in the console, and on any CSP report whatever its level. `allowed`:
    /// substrings of messages that are expected (each use says why).
    pub async fn assert_clean_console(&self, allowed: &[&str]) {
        let bad: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|entry| {
                let message = entry["message"].as_str().unwrap_or_default();
                let severe = entry["level"] == "SEVERE";
                let csp = message.contains("Content Security Policy");
                (severe || csp) && !allowed.iter().any(|a| message.contains(a))
            })
            .collect();
        assert!(bad.is_empty(), "console errors: {bad:#?}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.unwrap()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
