//! The IP/CIDR allow-list of one claim listener (`[[listener]] allow`): who may connect.
//!
//! Tier 3. `server::listener` asks [`AllowList::admits`] right after accept, with the socket's
//! peer, before anything is read or a TLS handshake starts; on a `proxy_protocol` listener it
//! asks after `server::proxy` has read the header, with the client address the header names.
//! A refused connection is closed unread, counted (`durgate_connections_total{outcome=
//! "not_allowed"}`) and logged at most once per second with its address (an IP address is no
//! PHI here). IPv4 and IPv6 entries; an IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`) matches the
//! IPv4 entries.
//!
//! Must never: read from the socket, or refuse anyone when the list is empty.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::log_limit::LogLimit;
use super::metrics;

/// The addresses one listener admits; empty = everyone.
#[derive(Clone, Debug, Default)]
pub struct AllowList {
    nets: Vec<IpNet>,
}

impl AllowList {
    /// A list that admits everyone.
    pub const fn everyone() -> AllowList {
        AllowList { nets: Vec::new() }
    }

    /// The entries of a validated `[[listener]] allow` (bounded there by
    /// `limits::LISTENER_ALLOW_ENTRIES_MAX`).
    pub fn new(nets: Vec<IpNet>) -> AllowList {
        AllowList { nets }
    }

    /// Whether `peer` may connect.
    pub fn admits(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.nets.is_empty() || self.nets.iter().any(|net| net.contains(&peer))
    }
}

/// At most one "not allowed" line per second (the counter counts every one).
static NOT_ALLOWED_LOG: LogLimit = LogLimit::new(1_000);

/// Counts and (rate-limited) logs a connection from `client` the allow-list refused.
pub fn refused(client: SocketAddr) {
    metrics::connection_not_allowed();
    if let Some(unlogged) = NOT_ALLOWED_LOG.due(crate::clock::unix_ms()) {
        tracing::warn!(%client, unlogged, "connection closed: address not in the allow-list");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        AllowList::new(entries.iter().map(|entry| entry.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_empty_list_admits_everyone() {
        assert!(AllowList::everyone().admits(ip("203.0.113.9")));
        assert!(AllowList::everyone().admits(ip("2001:db8::1")));
    }

    #[test]
    fn ipv4_and_ipv6_blocks_admit_their_addresses_only() {
        let allow = list(&["10.1.0.0/16", "192.0.2.7/32", "2001:db8:20::/48"]);
        assert!(allow.admits(ip("10.1.255.3")));
        assert!(allow.admits(ip("192.0.2.7")));
        assert!(allow.admits(ip("2001:db8:20:ffff::1")));
        assert!(!allow.admits(ip("10.2.0.1")));
        assert!(!allow.admits(ip("192.0.2.8")));
        assert!(!allow.admits(ip("2001:db8:21::1")));
        assert!(!allow.admits(ip("127.0.0.1")));
    }

    #[test]
    fn an_ipv4_mapped_ipv6_peer_matches_the_ipv4_entries() {
        let allow = list(&["127.0.0.0/8"]);
        assert!(allow.admits(ip("::ffff:127.0.0.1")));
        assert!(!allow.admits(ip("::ffff:10.0.0.1")));
        assert!(!allow.admits(ip("::1")));
    }
}
