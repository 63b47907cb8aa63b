//! `cutover healthcheck`: the container's own liveness probe (Docker `HEALTHCHECK`, ECS
//! `healthCheck`), so the runtime image needs no curl. It asks `/healthz`, not `/readyz`: a
//! dependency outage makes the instance unready (the balancer stops sending it traffic) but must
//! not get the container replaced, which would not fix S3 and would lose the drain.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;

use super::stdout::outln;
use crate::config::Settings;

/// Shorter than the image's `HEALTHCHECK --timeout`, so a hung server reads as a failed check.
const TIMEOUT: Duration = Duration::from_secs(3);

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let url = format!("http://{}/healthz", local(settings.listen));
    let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
    let res = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(res.status().is_success(), "GET {url}: {}", res.status());
    outln!("ok");
    Ok(())
}

/// The address to reach a listener bound to `addr` from the same host: an unspecified address
/// (`0.0.0.0`, `::`) is reached on loopback.
fn local(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_on_every_address_is_checked_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(local(any).to_string(), "127.0.0.1:8080");
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(local(v6).to_string(), "[::1]:8080");
        let one: SocketAddr = "10.0.0.5:8080".parse().unwrap();
        assert_eq!(local(one), one);
    }
}
