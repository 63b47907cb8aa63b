//! A DynamoDB that stops answering: requests get a 503 with `Retry-After` in seconds, instead
//! of hanging for as long as the connection stays open.

use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::assert_problem;
use crate::support::moto;
use crate::support::serve::ServeProcess;

/// A TCP forwarder to moto that can be made to swallow everything, pooled connections included.
struct StallingProxy {
    url: String,
    stall: watch::Sender<bool>,
}

impl StallingProxy {
    async fn start() -> Self {
        let upstream = moto::endpoint().trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stall, stalled) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (upstream, mut stalled) = (upstream.clone(), stalled.clone());
                tokio::spawn(async move {
                    if !*stalled.borrow() {
                        let Ok(mut out) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => return,
                            _ = stalled.wait_for(|s| *s) => {}
                        }
                    }
                    // Hold the connection open and answer nothing.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    drop(inbound);
                });
            }
        });
        StallingProxy { url, stall }
    }

    fn stall(&self) {
        self.stall.send_replace(true);
    }
}

#[tokio::test]
async fn when_dynamodb_stops_answering_requests_get_a_503_within_seconds_instead_of_hanging() {
    let proxy = StallingProxy::start().await;
    let storage = moto::storage_pairs().await;
    let pairs: Vec<(&str, &str)> = storage
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let serve = ServeProcess::start(&pairs, &[("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url)]).await;
    let alice = serve.user("alice");
    assert_eq!(serve.get("/api/photos", &alice).await.status(), 200);

    proxy.stall();
    let started = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(30), serve.get("/api/photos", &alice))
        .await
        .expect("the request hung for 30 s");
    let waited = started.elapsed();
    assert!(res.headers().contains_key("retry-after"));
    assert_problem(res, 503).await;
    assert!(
        waited < Duration::from_secs(15),
        "answered after {waited:?}"
    );
}
