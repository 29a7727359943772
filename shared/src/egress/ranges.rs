//! What an IP address is, by the IANA special-purpose address registries (IPv4 and IPv6, as of 2025) and the cloud
//! metadata endpoints. IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by
//! the IPv4 address they lead to, because that is where the packets end up.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an address leads, from the app's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Globally reachable.
    Public,
    /// Inside a network (loopback, private, link-local, shared, …): allowed only where the settings allow private
    /// addresses (tests, `dev`, private endpoints).
    Private(&'static str),
    /// Never a destination: cloud metadata (it hands out the machine's credentials), documentation, reserved,
    /// multicast and unspecified addresses.
    Never(&'static str),
}

impl Reach {
    /// The worse of two verdicts (Never over Private over Public).
    fn worst(self, other: Self) -> Self {
        self.max(other)
    }
}

/// Cloud instance-metadata and platform endpoints.
const METADATA_V4: [Ipv4Addr; 6] = [
    Ipv4Addr::new(169, 254, 169, 254), // AWS, Azure IMDS, GCP, OpenStack, Oracle
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task credentials
    Ipv4Addr::new(169, 254, 170, 23),  // AWS EKS pod identity
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(192, 0, 0, 192),     // Oracle Cloud (classic)
];
const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254), // AWS IMDS over IPv6
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),  // AWS EKS pod identity over IPv6
];

/// Classifies any address.
pub fn classify(address: IpAddr) -> Reach {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn in_v6(ip: Ipv6Addr, network: Ipv6Addr, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(network) & mask
}

/// IPv4, by the IANA IPv4 special-purpose registry.
pub fn classify_v4(ip: Ipv4Addr) -> Reach {
    use Reach::{Never, Private, Public};
    if METADATA_V4.contains(&ip) {
        return Never("cloud metadata");
    }
    let table: [([u8; 4], u32, Reach); 17] = [
        ([0, 0, 0, 0], 8, Never("\"this network\"")),
        ([10, 0, 0, 0], 8, Private("private")),
        ([100, 64, 0, 0], 10, Private("shared (carrier-grade NAT)")),
        ([127, 0, 0, 0], 8, Private("loopback")),
        ([169, 254, 0, 0], 16, Private("link-local")),
        ([172, 16, 0, 0], 12, Private("private")),
        // PCP and TURN anycast are the two globally reachable entries of 192.0.0.0/24.
        ([192, 0, 0, 9], 32, Public),
        ([192, 0, 0, 10], 32, Public),
        ([192, 0, 0, 0], 24, Never("IETF protocol assignment")),
        ([192, 0, 2, 0], 24, Never("documentation")),
        ([192, 88, 99, 0], 24, Never("deprecated 6to4 relay anycast")),
        ([192, 168, 0, 0], 16, Private("private")),
        // Benchmarking; also where fake-IP DNS proxies on developer machines answer.
        ([198, 18, 0, 0], 15, Private("benchmarking")),
        ([198, 51, 100, 0], 24, Never("documentation")),
        ([203, 0, 113, 0], 24, Never("documentation")),
        ([224, 0, 0, 0], 4, Never("multicast")),
        ([240, 0, 0, 0], 4, Never("reserved")),
    ];
    table.into_iter().find(|(network, prefix, _)| in_v4(ip, *network, *prefix)).map_or(Public, |(_, _, reach)| reach)
}

/// The IPv4 address in bits `from..from + 32` of `ip`.
fn embedded_v4(ip: Ipv6Addr, from: u32) -> Ipv4Addr {
    Ipv4Addr::from(((u128::from(ip) >> (96 - from)) & 0xffff_ffff) as u32)
}

/// IPv6, by the IANA IPv6 special-purpose registry; outside it, only global unicast (`2000::/3`), unique-local and
/// link-local addresses are destinations.
pub fn classify_v6(ip: Ipv6Addr) -> Reach {
    use Reach::{Never, Private, Public};
    let v6 = |text: &str| text.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    if METADATA_V6.contains(&ip) {
        return Never("cloud metadata");
    }
    if ip.is_unspecified() {
        return Never("unspecified");
    }
    if ip.is_loopback() {
        return Private("loopback");
    }
    // Forms that carry an IPv4 address: where they lead is where the IPv4 address leads.
    if in_v6(ip, v6("::ffff:0:0"), 96) {
        return classify_v4(embedded_v4(ip, 96));
    }
    if in_v6(ip, v6("::"), 96) {
        // IPv4-compatible (deprecated): never public.
        return classify_v4(embedded_v4(ip, 96)).worst(Private("IPv4-compatible"));
    }
    if in_v6(ip, v6("64:ff9b::"), 96) {
        return classify_v4(embedded_v4(ip, 96));
    }
    if in_v6(ip, v6("64:ff9b:1::"), 48) {
        return classify_v4(embedded_v4(ip, 96)).worst(Private("local-use NAT64"));
    }
    if in_v6(ip, v6("2002::"), 16) {
        return classify_v4(embedded_v4(ip, 16));
    }
    if in_v6(ip, v6("2001::"), 32) {
        // Teredo: the server's address in bits 32..64, the client's in the last 32 bits, inverted.
        let client = Ipv4Addr::from(!u32::from(embedded_v4(ip, 96)));
        return classify_v4(embedded_v4(ip, 32)).worst(classify_v4(client));
    }
    let table: [(&str, u32, Reach); 17] = [
        ("100::", 64, Never("discard-only")),
        ("100:0:0:1::", 64, Never("dummy prefix")),
        // The globally reachable entries inside 2001::/23.
        ("2001:1::1", 128, Public),
        ("2001:1::2", 128, Public),
        ("2001:1::3", 128, Public),
        ("2001:3::", 32, Public),
        ("2001:4:112::", 48, Public),
        ("2001:20::", 28, Public),
        ("2001:30::", 28, Public),
        ("2001::", 23, Never("IETF protocol assignment")),
        ("2001:db8::", 32, Never("documentation")),
        ("3fff::", 20, Never("documentation")),
        ("5f00::", 16, Never("segment routing (SRv6)")),
        ("fc00::", 7, Private("unique local")),
        ("fe80::", 10, Private("link-local")),
        ("fec0::", 10, Private("site-local")),
        ("ff00::", 8, Never("multicast")),
    ];
    if let Some((_, _, reach)) = table.into_iter().find(|(network, prefix, _)| in_v6(ip, v6(network), *prefix)) {
        return reach;
    }
    if in_v6(ip, v6("2000::"), 3) { Public } else { Never("reserved by IETF") }
}
