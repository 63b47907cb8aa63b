//! The log under a flood of refusals, read from a `cutover serve`'s own stderr (JSON lines): the
//! first refusals of a client network are logged whole, the rest are not, and another network
//! is still heard.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::serve::ServeProcess;

/// A `cutover serve` whose log (JSON lines, at `info`) goes to a file.
struct Logged {
    serve: ServeProcess,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn serve(pairs: &[(&str, &str)]) -> Logged {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let serve = ServeProcess::launch(pairs, |cmd| {
        cmd.env("CUTOVER_LOG", "info")
            .env("CUTOVER_LOG_FORMAT", "json")
            .stderr(stderr);
    })
    .await;
    Logged {
        serve,
        log,
        _dir: dir,
    }
}

impl Logged {
    /// A request with a token no issuer signed, from `client` (behind the trusted proxy).
    async fn refused(&self, client: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/api/photos", self.serve.address))
            .header("authorization", "Bearer not.a.token")
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The `info` lines with `message`, once there are at least `want` of them (the log is
    /// written before each answer leaves, so this only guards against a slow file system);
    /// the deadline is generous, the count is exact.
    async fn lines(&self, message: &str, want: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(crate::support::PATIENCE_SECS);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let found: Vec<Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|l| l["level"] == "INFO" && l["fields"]["message"] == message)
                // The refusals' own, not the start's probe of `/healthz`.
                .filter(|l| l["fields"]["path"] != "/healthz")
                .collect();
            if found.len() >= want || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn a_flood_from_one_network_logs_its_first_ten_refusals_whole_and_another_network_still_logs()
{
    let app = serve(&[
        ("trusted_proxies", "127.0.0.1"),
        // The brake answers 429 from the sixth failure of an address on, which logs too.
        ("auth_failures_per_minute", "5"),
    ])
    .await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(app.refused("203.0.113.7").await);
    }
    assert_eq!(&statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Ten requests of 203.0.113.0/24 logged, each whole: five rejected tokens, five brakes,
    // and their ten access log lines; the fifteen others none.
    let rejected = app.lines("JWT rejected", 5).await;
    assert_eq!(rejected.len(), 5, "{rejected:?}");
    let braked = app.lines("authentication failures over quota", 5).await;
    assert_eq!(braked.len(), 5, "{braked:?}");
    assert_eq!(
        braked[0]["fields"]["network"], "203.0.113.0/24",
        "no address"
    );
    let access = app.lines("request", 10).await;
    assert_eq!(access.len(), 10, "{access:?}");
    assert_eq!(
        access
            .iter()
            .filter(|l| l["fields"]["status"] == 429)
            .count(),
        5
    );
    // Another network is heard through the flood.
    assert_eq!(app.refused("198.51.100.7").await, 401);
    assert_eq!(app.lines("JWT rejected", 6).await.len(), 6);
    assert_eq!(app.lines("request", 11).await.len(), 11);
}

#[tokio::test]
async fn refusals_made_before_100_continue_are_counted_per_network_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = serve(&[("trusted_proxies", "127.0.0.1")]).await;
    let host = app.serve.address.trim_start_matches("http://").to_string();
    for _ in 0..12 {
        let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = "POST /api/uploads HTTP/1.1\r\nHost: cutover\r\nExpect: 100-continue\r\n\
                    Content-Length: 10\r\nX-Forwarded-For: 192.0.2.9\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        // The head is enough: the server closes only after its disconnect timeout.
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the head");
            answer.extend_from_slice(&buf[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    let logged = app.lines("refused before 100 Continue", 10).await;
    assert_eq!(logged.len(), 10, "{logged:?}");
}

#[tokio::test]
async fn a_key_refused_by_one_api_s_policy_is_logged_naming_that_api_and_never_the_key() {
    let up = crate::support::upstream::Upstream::start();
    let config = format!(
        "[[upstreams]]\nname = \"orders\"\nprefix = \"/orders\"\nurl = \"{}\"\napi_keys = \"never\"\n",
        up.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let serve = ServeProcess::launch(&[], |cmd| {
        cmd.env("CUTOVER_LOG", "info")
            .env("CUTOVER_LOG_FORMAT", "json")
            .env("CUTOVER_CONFIG_TOML", &config)
            .stderr(stderr);
    })
    .await;
    let app = Logged {
        serve,
        log,
        _dir: dir,
    };
    let secret = "a-key-that-must-never-be-logged";
    let res = app
        .serve
        .get("/orders/x", &crate::helpers::Auth::Key(secret.into()))
        .await;
    assert_eq!(res.status(), 401);
    let access = app.lines("request", 1).await;
    assert_eq!(access.len(), 1, "{access:?}");
    assert_eq!(access[0]["fields"]["api"], "orders");
    assert_eq!(access[0]["fields"]["failure"], "keys_not_accepted");
    let text = std::fs::read_to_string(&app.log).unwrap();
    assert!(!text.contains(secret), "the key is never logged");
}
