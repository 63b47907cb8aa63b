//! A TCP forwarder to moto for the outage tests, put between one AWS service and `cutover serve`
//! (through `AWS_ENDPOINT_URL_<SERVICE>`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::moto;

/// Forwards to moto until it is made to stall or is cut; cut on drop.
pub struct MotoProxy {
    pub url: String,
    stalled: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl MotoProxy {
    pub async fn start() -> Self {
        let upstream = moto::endpoint().trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stalled, stall) = watch::channel(false);
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (upstream, mut stall) = (upstream.clone(), stall.clone());
                let conn = tokio::spawn(async move {
                    if !*stall.borrow() {
                        let Ok(mut out) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => return,
                            _ = stall.wait_for(|s| *s) => {}
                        }
                    }
                    // Hold the connection open and answer nothing.
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    drop(inbound);
                });
                registry.lock().unwrap().push(conn.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        MotoProxy {
            url,
            stalled,
            tasks,
        }
    }

    /// Swallows everything from now on, pooled connections included: nothing is answered and
    /// nothing is closed.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Drops every connection, existing ones included, and refuses new ones.
    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Drop for MotoProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
