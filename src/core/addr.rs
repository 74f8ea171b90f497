//! Which IP addresses are not on the public internet (IANA special-purpose registries), by
//! name, so a refusal can say which rule it applied.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The special-purpose range `ip` falls in, or `None` for a public unicast address.
pub fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "this network, 0.0.0.0/8",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "RFC 1918 private",
        (100, 64..=127, _) => "shared address space, CGNAT",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "IETF protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay anycast",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved, 240.0.0.0/4",
        _ => return None,
    };
    Some(range)
}

/// The special-purpose range `ip` falls in, or `None` for a public unicast address.
/// Addresses that embed an IPv4 address (mapped, compatible, NAT64) are refused whatever
/// they embed; 6to4 and Teredo are refused when an embedded address is not public.
pub fn reserved_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let range = match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        [0, 0, 0, 0, 0, 0xffff, _, _] => "IPv4-mapped IPv6",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible IPv6",
        [0, 0, 0, 0, 0xffff, 0, _, _] => "IPv4-translated IPv6",
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => "NAT64",
        [0x64, 0xff9b, 1, ..] => "NAT64 local use",
        [0x100, 0, 0, 0, ..] => "discard-only",
        [0x2001, 0, ..] => {
            let server = embedded(s[2], s[3]);
            let client = embedded(!s[6], !s[7]);
            if reserved_v4(server).is_some() || reserved_v4(client).is_some() {
                "Teredo with a non-public IPv4"
            } else {
                return None;
            }
        }
        [0x2001, 0x2, 0, ..] => "benchmarking",
        [0x2001, 0x10..=0x2f, ..] => "ORCHID",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x3fff, 0..=0x0fff, ..] => "documentation",
        [0x2002, hi, lo, ..] => match reserved_v4(embedded(hi, lo)) {
            Some(_) => "6to4 with a non-public IPv4",
            None => return None,
        },
        [0xfc00..=0xfdff, ..] => "unique local",
        [0xfe80..=0xfebf, ..] => "link-local",
        [0xfec0..=0xfeff, ..] => "site-local",
        [0xff00..=0xffff, ..] => "multicast",
        // Only 2000::/3 is allocated as global unicast; everything else is reserved.
        [0x2000..=0x3fff, ..] => return None,
        _ => "reserved",
    };
    Some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_ranges() {
        let cases = [
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this network, 0.0.0.0/8")),
            ("10.0.0.1", Some("RFC 1918 private")),
            ("172.15.255.255", None),
            ("172.16.0.1", Some("RFC 1918 private")),
            ("172.31.255.255", Some("RFC 1918 private")),
            ("172.32.0.0", None),
            ("192.168.1.1", Some("RFC 1918 private")),
            ("100.63.255.255", None),
            ("100.64.0.1", Some("shared address space, CGNAT")),
            ("100.127.255.255", Some("shared address space, CGNAT")),
            ("100.128.0.0", None),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("169.254.169.254", Some("link-local")),
            ("192.0.0.8", Some("IETF protocol assignments")),
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("192.88.99.1", Some("6to4 relay anycast")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.20.0.1", None),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("240.0.0.1", Some("reserved, 240.0.0.0/4")),
            ("255.255.255.255", Some("broadcast")),
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
        ];
        for (ip, want) in cases {
            assert_eq!(reserved_v4(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn v6_ranges() {
        let cases = [
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::ffff:127.0.0.1", Some("IPv4-mapped IPv6")),
            ("::ffff:8.8.8.8", Some("IPv4-mapped IPv6")),
            ("::127.0.0.1", Some("IPv4-compatible IPv6")),
            ("::ffff:0:a00:1", Some("IPv4-translated IPv6")),
            ("64:ff9b::7f00:1", Some("NAT64")),
            ("64:ff9b::808:808", Some("NAT64")),
            ("64:ff9b:1::1", Some("NAT64 local use")),
            ("100::1", Some("discard-only")),
            // Teredo: server 65.54.227.120, client 192.0.2.45 obfuscated (documentation)
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo with a non-public IPv4")),
            // Teredo: client 127.0.0.1 obfuscated
            ("2001:0:4136:e378::80ff:fffe", Some("Teredo with a non-public IPv4")),
            // Teredo with public server and client 8.8.8.8
            ("2001:0:4136:e378::f7f7:f7f7", None),
            ("2001:2::1", Some("benchmarking")),
            ("2001:10::1", Some("ORCHID")),
            ("2001:db8::1", Some("documentation")),
            ("3fff::1", Some("documentation")),
            ("2002:7f00:1::1", Some("6to4 with a non-public IPv4")),
            ("2002:a9fe:a9fe::1", Some("6to4 with a non-public IPv4")),
            ("2002:808:808::1", None),
            ("fc00::1", Some("unique local")),
            ("fd12:3456::1", Some("unique local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("4000::1", Some("reserved")),
            ("::2:3:4:5:6", Some("reserved")),
            ("2606:4700:4700::1111", None),
            ("2a00:1450:4001::200e", None),
        ];
        for (ip, want) in cases {
            assert_eq!(reserved_v6(ip.parse().unwrap()), want, "{ip}");
        }
    }
}
