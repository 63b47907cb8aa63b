//! With a real subscriber writing lines, as the service's does.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::*;

/// The `info` lines written while the guard lives.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}

impl Lines {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn matching(&self, text: &str) -> Vec<String> {
        let all = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        all.lines()
            .filter(|l| l.contains(text))
            .map(str::to_string)
            .collect()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One refused request from `client`, whose gate writes two lines (as the JWT path and the
/// brake do) and whose access log follows their decision.
async fn refused_request(log: &Arc<RefusalLog>, client: &str) {
    let ((), decided) = deciding(log.clone(), ip(client), async {
        refusal!(reason = "bad signature", "JWT rejected");
        refusal!("authentication failures over quota");
    })
    .await;
    if decided == Some(true) {
        tracing::info!("request");
    }
}

#[tokio::test]
async fn a_flood_from_one_network_logs_its_first_refusals_and_then_how_many_it_suppressed() {
    let lines = Lines::default();
    let _guard = lines.install();
    let log = Arc::new(RefusalLog::new(3, Duration::from_secs(60), 16));
    let start = Instant::now();
    // 3 + 7 requests from one /24, from different addresses.
    for i in 0..10 {
        refused_request(&log, &format!("203.0.113.{i}")).await;
    }
    assert_eq!(lines.matching("JWT rejected").len(), 3, "the first 3 only");
    assert_eq!(lines.matching("over quota").len(), 3, "the same requests");
    assert_eq!(lines.matching(" request").len(), 3);
    // Another network is not held up by the flood.
    refused_request(&log, "198.51.100.7").await;
    assert_eq!(lines.matching("JWT rejected").len(), 4);
    // The interval ends: the next refusal says what was suppressed (by request, not by line).
    assert!(log.admit_at(ip("192.0.2.1"), start + Duration::from_secs(61)));
    let said = lines.matching("suppressed");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("… and 7 more refusals from 203.0.113.0/24 in the last 6"),
        "{said:?}"
    );
    // And the flooding network starts again.
    assert!(log.admit_at(ip("203.0.113.1"), start + Duration::from_secs(62)));
}

#[test]
fn ipv6_clients_count_by_their_64_and_the_table_of_networks_is_bounded() {
    let lines = Lines::default();
    let _guard = lines.install();
    let log = RefusalLog::new(1, Duration::from_secs(60), 2);
    let t = Instant::now();
    assert!(log.admit_at(ip("2001:db8:1:2::1"), t));
    assert!(!log.admit_at(ip("2001:db8:1:2:ffff::9"), t), "same /64");
    assert!(log.admit_at(ip("2001:db8:1:3::1"), t), "another /64");
    // The table is full: a third network is counted, not stored, and not logged.
    for i in 0..5 {
        assert!(!log.admit_at(ip(&format!("10.0.{i}.1")), t));
    }
    assert_eq!(log.lock().networks.len(), 2);
    log.admit_at(ip("10.9.9.9"), t + Duration::from_secs(60));
    let said = lines.matching("suppressed");
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(
        said.iter()
            .any(|l| l.contains("1 more refusals from 2001:db8:1:2::/64"))
    );
    assert!(
        said.iter()
            .any(|l| l.contains("5 more refusals from networks beyond the first 2")),
        "{said:?}"
    );
}

#[test]
fn a_line_outside_a_request_is_always_logged() {
    assert!(logged());
}
