//! Which address a request comes from: the socket peer, unless that peer is one of
//! `CUTOVER_TRUSTED_PROXIES`; then the right-most address of `X-Forwarded-For` that is not itself
//! a trusted proxy. Everything left of that address was written by the client and could be
//! anything, so it is never read.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// `forwarded_for`: the `X-Forwarded-For` field lines, in the order received.
    pub fn resolve(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for.iter().flat_map(|line| line.split(','));
        for hop in hops.rev() {
            // An unreadable hop breaks the chain: the last address a trusted proxy vouched for
            // is the best answer there is.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// The bucket an address counts against. An IPv6 client usually holds a whole /64, so keying
/// on single IPv6 addresses would give a guesser 2^64 fresh buckets.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        let net = |s: &&str| s.parse().unwrap_or_else(|_| IpNet::from(ip(s)));
        TrustedProxies::new(list.iter().map(net).collect())
    }

    #[test]
    fn forwarded_for_is_ignored_when_the_peer_is_not_a_trusted_proxy() {
        let none = proxies(&[]);
        assert_eq!(none.resolve(ip("10.0.0.9"), &["1.2.3.4"]), ip("10.0.0.9"));
        let other = proxies(&["10.1.0.0/16"]);
        assert_eq!(other.resolve(ip("10.0.0.9"), &["1.2.3.4"]), ip("10.0.0.9"));
    }

    #[test]
    fn a_trusted_peer_yields_the_right_most_untrusted_hop() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client wrote 6.6.6.6 itself; 1.2.3.4 is what the first trusted proxy saw.
        assert_eq!(
            p.resolve(ip("10.0.0.1"), &["6.6.6.6, 1.2.3.4, 192.168.1.1"]),
            ip("1.2.3.4")
        );
        assert_eq!(p.resolve(ip("10.0.0.1"), &["1.2.3.4"]), ip("1.2.3.4"));
    }

    #[test]
    fn several_field_lines_are_one_list_in_order() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.resolve(ip("10.0.0.1"), &["6.6.6.6", "1.2.3.4, 10.0.0.2"]),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn a_trusted_peer_without_forwarded_for_is_the_client() {
        let p = proxies(&["127.0.0.1"]);
        assert_eq!(p.resolve(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
    }

    #[test]
    fn when_every_hop_is_trusted_the_left_most_is_the_client() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.resolve(ip("10.0.0.1"), &["10.0.0.3, 10.0.0.2"]),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_trusted_address() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            p.resolve(ip("10.0.0.1"), &["1.2.3.4, garbage, 10.0.0.2"]),
            ip("10.0.0.2")
        );
        assert_eq!(p.resolve(ip("10.0.0.1"), &["garbage"]), ip("10.0.0.1"));
    }

    #[test]
    fn hops_with_ports_and_mapped_ipv4_are_understood() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.resolve(ip("10.0.0.1"), &["1.2.3.4:5678"]), ip("1.2.3.4"));
        assert_eq!(
            p.resolve(ip("10.0.0.1"), &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            p.resolve(ip("::ffff:10.0.0.1"), &["1.2.3.4"]),
            ip("1.2.3.4")
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_prefix_and_ipv4_per_address() {
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("2001:db8:1:2:ffff::9")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("1.2.3.4")), ip("1.2.3.4"));
    }
}
