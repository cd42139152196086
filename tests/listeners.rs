//! Listener options (`[[listener]]`, `docs/behaviour.md` Transport) through real sockets:
//! two listeners with different framings both pay; an allow-list closes an address it does not
//! list without a reply (counted) and admits one it does; a PROXY protocol v2 listener pays a
//! claim sent after a valid header, applies its allow-list to the header's client address, and
//! closes a connection that sends a claim without the header.
//!
//! The metrics recorder is process-global and the tests of this binary run in parallel, so each
//! counter is read as a difference, and only a counter no other test here moves is compared
//! exactly.

mod support;

use std::net::SocketAddr;

use durgate::config::{Framing, ListenerConfig};
use durgate::ncpdp::build::ClaimBuilder;
use durgate::server::{metrics, proxy};
use support::{days_ago, start_gateway_with, statuses, Client, Person, ATORVASTATIN_10MG};

/// Loopback, a fresh port.
const LOOPBACK_ANY_PORT: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

fn claim(tag: &str, rx: u64) -> Vec<u8> {
    let claim: ClaimBuilder =
        Person::adult(&format!("{tag}{rx:06}")).b1(rx, ATORVASTATIN_10MG, days_ago(1));
    claim.encode()
}

fn listener(framing: Framing, allow: &[&str], proxy_protocol: bool) -> ListenerConfig {
    ListenerConfig {
        addr: SocketAddr::from(LOOPBACK_ANY_PORT),
        framing: Some(framing),
        allow: allow.iter().map(|entry| entry.parse().unwrap()).collect(),
        proxy_protocol,
    }
}

/// A gateway with exactly `listeners` (no `listen` address); their bound addresses in order.
async fn gateway_with(listeners: Vec<ListenerConfig>) -> (support::TestGateway, Vec<SocketAddr>) {
    let gateway = start_gateway_with(|config| {
        config.listen.clear();
        config.listeners = listeners;
    })
    .await;
    let addrs = gateway.gateway.as_ref().unwrap().claim_addrs.clone();
    (gateway, addrs)
}

/// The value of counter `name` with exactly the one label `label=value` (0 when absent).
fn counter(name: &str, label: &str, value: &str) -> u64 {
    let series = format!("{name}{{{label}=\"{value}\"}} ");
    metrics::render()
        .lines()
        .find_map(|line| line.strip_prefix(&series)?.trim().parse::<f64>().ok())
        .map_or(0, |count| count as u64)
}

/// A client on `addr` that has sent a PROXY v2 header naming `client`.
async fn proxied_client(addr: SocketAddr, client: &str) -> Client {
    let header = proxy::header_for(client.parse().unwrap(), addr);
    let mut connected = Client::connect(addr).await;
    connected.write_raw(&header).await.unwrap();
    connected
}

fn not_allowed_connections() -> u64 {
    counter("durgate_connections_total", "outcome", "not_allowed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_stx_listener_and_a_len4_listener_both_pay() {
    let (gateway, addrs) = gateway_with(vec![
        listener(Framing::StxEtx, &[], false),
        listener(Framing::Len4, &[], false),
    ])
    .await;
    let mut stx = Client::connect_with(addrs[0], Framing::StxEtx).await;
    assert_eq!(statuses(&stx.send(&claim("TWOSTX", 1)).await), "P");
    let mut len4 = Client::connect_with(addrs[1], Framing::Len4).await;
    assert_eq!(statuses(&len4.send(&claim("TWOLEN", 2)).await), "P");
    // Each listener keeps its own framing: STX/ETX bytes on the len4 port are not a claim.
    let mut wrong = Client::connect_with(addrs[1], Framing::StxEtx).await;
    assert!(wrong.try_reply_to(&claim("TWOBAD", 3)).await.is_none());
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allow_list_closes_an_address_it_does_not_list_and_admits_one_it_does() {
    let (gateway, addrs) = gateway_with(vec![
        listener(Framing::StxEtx, &["10.0.0.0/8", "2001:db8::/32"], false),
        listener(Framing::StxEtx, &["127.0.0.0/8"], false),
    ])
    .await;
    let before = not_allowed_connections();
    let mut outside = Client::connect(addrs[0]).await;
    let _ = outside.try_send_only(&claim("OUTSIDE", 1)).await;
    assert!(
        outside.is_closed_by_gateway().await,
        "closed without a reply"
    );
    assert!(not_allowed_connections() > before, "counted as not_allowed");
    let mut inside = Client::connect(addrs[1]).await;
    assert_eq!(statuses(&inside.send(&claim("INSIDE", 2)).await), "P");
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_listener_pays_after_a_header_and_checks_the_client_it_names() {
    let (gateway, addrs) =
        gateway_with(vec![listener(Framing::StxEtx, &["192.0.2.0/24"], true)]).await;
    let addr = addrs[0];
    let closed_not_allowed =
        || counter("durgate_connections_closed_total", "reason", "not_allowed");
    let before = closed_not_allowed();
    // The socket peer is 127.0.0.1 (the "load balancer"), outside the list: the header counts.
    let mut proxied = proxied_client(addr, "192.0.2.7:40000").await;
    assert_eq!(statuses(&proxied.send(&claim("PROXIED", 1)).await), "P");
    assert_eq!(statuses(&proxied.send(&claim("PROXIED", 2)).await), "P");
    let mut outside = proxied_client(addr, "198.51.100.9:40001").await;
    let _ = outside.try_send_only(&claim("PROXYOUT", 3)).await;
    assert!(
        outside.is_closed_by_gateway().await,
        "closed without a reply"
    );
    assert_eq!(closed_not_allowed(), before + 1);
    gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_listener_closes_a_connection_that_sends_a_claim_without_the_header() {
    let (gateway, addrs) = gateway_with(vec![listener(Framing::StxEtx, &[], true)]).await;
    let refused = || counter("durgate_frames_refused_total", "reason", "proxy_header");
    let before = refused();
    let mut bare = Client::connect(addrs[0]).await;
    let _ = bare.try_send_only(&claim("BARE", 1)).await;
    assert!(bare.is_closed_by_gateway().await, "closed without a reply");
    assert_eq!(refused(), before + 1);
    // A LOCAL header (a balancer's health check) leaves the socket's peer, allowed here: paid.
    let mut local = Client::connect(addrs[0]).await;
    local.write_raw(&proxy::local_header()).await.unwrap();
    assert_eq!(statuses(&local.send(&claim("LOCAL", 2)).await), "P");
    gateway.stop().await;
}
