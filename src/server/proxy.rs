//! PROXY protocol v2 (the binary header a load balancer sends first, `[[listener]]
//! proxy_protocol = true`): which client the connection is really from.
//!
//! Tier 3. On a `proxy_protocol` listener `server::listener` calls [`read_header`] on the raw
//! socket before the TLS handshake and before any framing, within the connection's read
//! deadline; the client address it returns is what the allow-list (`server::allow`) checks and
//! what the connection's log lines name. A LOCAL header (the balancer's own health check) and
//! an address family without IP addresses (UNSPEC, UNIX) leave the socket's peer in place.
//! TLVs are read and ignored. A connection without a valid header is closed
//! (`durgate_connections_closed_total` and `durgate_frames_refused_total`,
//! `reason="proxy_header"`).
//!
//! Must never: read a byte beyond the header (what follows belongs to TLS or the framing: the
//! 16-byte fixed part is read exactly, then exactly the length it announces), accept an
//! announced length above `limits::PROXY_V2_ADDRESS_BYTES_MAX`, or panic on any input.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

use crate::limits::{PROXY_V2_ADDRESS_BYTES_MAX, PROXY_V2_FIXED_BYTES};

/// The 12 bytes every v2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Address bytes of AF_INET over TCP/UDP: source and destination address, then ports.
const INET_BYTES: usize = 12;
/// Address bytes of AF_INET6.
const INET6_BYTES: usize = 36;

/// Why a PROXY v2 header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    #[error("no PROXY protocol v2 signature")]
    Signature,
    #[error("PROXY protocol version {0} (expected 2)")]
    Version(u8),
    #[error("PROXY protocol command {0} (expected LOCAL or PROXY)")]
    Command(u8),
    #[error("PROXY header announces {0} address bytes (at most PROXY_V2_ADDRESS_BYTES_MAX)")]
    TooLong(usize),
    #[error("PROXY address family {family:#04x} needs more than the {len} bytes announced")]
    Short { family: u8, len: usize },
    #[error("PROXY address family {0:#04x} is unknown")]
    Family(u8),
    #[error("no complete PROXY header within {0:?}")]
    Timeout(Duration),
    #[error("reading the PROXY header: {0}")]
    Io(std::io::ErrorKind),
    #[error("the gateway is shutting down")]
    Shutdown,
}

/// What the fixed part says: the command, the family byte and the length that follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// PROXY (`true`) or LOCAL (`false`).
    pub proxied: bool,
    pub family: u8,
    pub len: usize,
}

/// Checks the 16-byte fixed part.
pub fn parse_fixed(fixed: &[u8; PROXY_V2_FIXED_BYTES]) -> Result<Fixed, ProxyError> {
    if fixed[..SIGNATURE.len()] != SIGNATURE {
        return Err(ProxyError::Signature);
    }
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0f);
    if version != 2 {
        return Err(ProxyError::Version(version));
    }
    let proxied = match command {
        0 => false,
        1 => true,
        other => return Err(ProxyError::Command(other)),
    };
    let len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if len > PROXY_V2_ADDRESS_BYTES_MAX {
        return Err(ProxyError::TooLong(len));
    }
    Ok(Fixed {
        proxied,
        family: fixed[13],
        len,
    })
}

/// The client (source) address in the address part, or `None` when the socket's peer stands
/// (LOCAL, UNSPEC, UNIX). TLVs after the addresses are ignored.
pub fn parse_addresses(fixed: Fixed, body: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    if !fixed.proxied {
        return Ok(None);
    }
    let short = || ProxyError::Short {
        family: fixed.family,
        len: body.len(),
    };
    match fixed.family >> 4 {
        0 | 3 => Ok(None),
        1 => {
            let part = body.get(..INET_BYTES).ok_or_else(short)?;
            let ip = Ipv4Addr::new(part[0], part[1], part[2], part[3]);
            Ok(Some(SocketAddr::from((ip, port(part[8], part[9])))))
        }
        2 => {
            let part = body.get(..INET6_BYTES).ok_or_else(short)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&part[..16]);
            let ip = Ipv6Addr::from(octets);
            Ok(Some(SocketAddr::from((ip, port(part[32], part[33])))))
        }
        _ => Err(ProxyError::Family(fixed.family)),
    }
}

fn port(high: u8, low: u8) -> u16 {
    u16::from_be_bytes([high, low])
}

/// Parses a whole header held in memory (fixed part and address part, nothing after).
pub fn parse(header: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
    let incomplete = ProxyError::Io(std::io::ErrorKind::UnexpectedEof);
    let fixed: &[u8; PROXY_V2_FIXED_BYTES] = header
        .get(..PROXY_V2_FIXED_BYTES)
        .and_then(|part| part.try_into().ok())
        .ok_or(ProxyError::Signature)?;
    let fixed = parse_fixed(fixed)?;
    let body = header
        .get(PROXY_V2_FIXED_BYTES..PROXY_V2_FIXED_BYTES + fixed.len)
        .ok_or(incomplete)?;
    parse_addresses(fixed, body)
}

/// Reads exactly one header from `stream` within `deadline` (or until shutdown) and returns
/// the client address it names (`None`: the socket's peer stands).
pub async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<SocketAddr>, ProxyError> {
    tokio::select! {
        read = tokio::time::timeout(deadline, read_exactly_one(stream)) => match read {
            Ok(outcome) => outcome,
            Err(_) => Err(ProxyError::Timeout(deadline)),
        },
        _ = shutdown.changed() => Err(ProxyError::Shutdown),
    }
}

async fn read_exactly_one<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<SocketAddr>, ProxyError> {
    let io = |error: std::io::Error| ProxyError::Io(error.kind());
    let mut fixed = [0u8; PROXY_V2_FIXED_BYTES];
    stream.read_exact(&mut fixed).await.map_err(io)?;
    let fixed = parse_fixed(&fixed)?;
    let mut body = [0u8; PROXY_V2_ADDRESS_BYTES_MAX];
    let body = body
        .get_mut(..fixed.len)
        .ok_or(ProxyError::TooLong(fixed.len))?;
    stream.read_exact(body).await.map_err(io)?;
    parse_addresses(fixed, body)
}

/// A v2 PROXY header naming `client` (to `server`) over TCP, for tests and tools.
pub fn header_for(client: SocketAddr, server: SocketAddr) -> Vec<u8> {
    let mut header = SIGNATURE.to_vec();
    header.push(0x21);
    let addresses = match (client, server) {
        (SocketAddr::V4(client), SocketAddr::V4(server)) => {
            header.push(0x11);
            [client.ip().octets().to_vec(), server.ip().octets().to_vec()].concat()
        }
        (client, server) => {
            header.push(0x21);
            let v6 = |addr: SocketAddr| match addr {
                SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped().octets(),
                SocketAddr::V6(v6) => v6.ip().octets(),
            };
            [v6(client).to_vec(), v6(server).to_vec()].concat()
        }
    };
    let len = addresses.len() + 4;
    header.extend_from_slice(&(len as u16).to_be_bytes());
    header.extend_from_slice(&addresses);
    header.extend_from_slice(&client.port().to_be_bytes());
    header.extend_from_slice(&server.port().to_be_bytes());
    header
}

/// A v2 LOCAL header (no addresses), for tests and tools.
pub fn local_header() -> Vec<u8> {
    let mut header = SIGNATURE.to_vec();
    header.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_ipv4_and_an_ipv6_header_name_their_client() {
        let server = addr("10.0.0.1:7070");
        let client = addr("192.0.2.7:40000");
        assert_eq!(parse(&header_for(client, server)), Ok(Some(client)));
        let client6 = addr("[2001:db8::7]:40001");
        let server6 = addr("[2001:db8::1]:7070");
        assert_eq!(parse(&header_for(client6, server6)), Ok(Some(client6)));
    }

    #[test]
    fn local_unspec_and_unix_leave_the_socket_peer_and_tlvs_are_ignored() {
        assert_eq!(parse(&local_header()), Ok(None));
        let mut unspec = SIGNATURE.to_vec();
        unspec.extend_from_slice(&[0x21, 0x00, 0x00, 0x00]);
        assert_eq!(parse(&unspec), Ok(None));
        let mut with_tlv = header_for(addr("192.0.2.7:1"), addr("10.0.0.1:2"));
        with_tlv[15] += 4;
        with_tlv.extend_from_slice(&[0x04, 0x00, 0x01, 0xaa]);
        assert_eq!(parse(&with_tlv), Ok(Some(addr("192.0.2.7:1"))));
    }

    #[test]
    fn malformed_headers_are_refused_with_their_reason() {
        let good = header_for(addr("192.0.2.7:1"), addr("10.0.0.1:2"));
        let with = |at: usize, byte: u8| {
            let mut header = good.clone();
            header[at] = byte;
            parse(&header)
        };
        assert_eq!(with(0, b'X'), Err(ProxyError::Signature));
        assert_eq!(with(12, 0x11), Err(ProxyError::Version(1)));
        assert_eq!(with(12, 0x22), Err(ProxyError::Command(2)));
        assert_eq!(with(13, 0x41), Err(ProxyError::Family(0x41)));
        assert_eq!(with(14, 0xff), Err(ProxyError::TooLong(0xff0c)));
        let short = ProxyError::Short {
            family: 0x21,
            len: 12,
        };
        assert_eq!(with(13, 0x21), Err(short));
        assert!(parse(&good[..20]).is_err());
        assert_eq!(parse(b"\x02claim"), Err(ProxyError::Signature));
        let v1 = b"PROXY TCP4 192.0.2.7 10.0.0.1 1 2\r\n";
        assert_eq!(parse(v1), Err(ProxyError::Signature));
    }

    #[tokio::test]
    async fn the_reader_takes_the_header_and_not_a_byte_more() {
        let header = header_for(addr("192.0.2.7:1"), addr("10.0.0.1:2"));
        let sent = [header.as_slice(), b"\x02claim\x03"].concat();
        let mut stream = sent.as_slice();
        let (_stop, mut shutdown) = watch::channel(false);
        let read = read_header(&mut stream, Duration::from_secs(1), &mut shutdown).await;
        assert_eq!(read, Ok(Some(addr("192.0.2.7:1"))));
        assert_eq!(stream, b"\x02claim\x03");
    }

    #[tokio::test]
    async fn a_header_that_never_completes_times_out() {
        let (client, mut server) = tokio::io::duplex(64);
        let (_stop, mut shutdown) = watch::channel(false);
        let read = read_header(&mut server, Duration::from_millis(50), &mut shutdown).await;
        assert_eq!(read, Err(ProxyError::Timeout(Duration::from_millis(50))));
        drop(client);
    }

    proptest! {
        #[test]
        fn any_bytes_are_parsed_or_refused_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_header_after_the_signature_is_parsed_or_refused_without_panicking(
            rest in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let header = [SIGNATURE.as_slice(), &rest].concat();
            let _ = parse(&header);
        }
    }
}
