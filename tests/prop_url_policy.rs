//! Property tests of the URL policy: no input panics, and a private address is refused in
//! every spelling the URL parser accepts for it. `PROPTEST_CASES` sets the run length
//! (`make test` runs a short one, `make fuzz` a long one).

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use url::Url;
use urlstash::core::addr::{reserved_v4, reserved_v6};
use urlstash::core::request::parse_upload;
use urlstash::core::url_policy::{check, parse_file_url, UrlPolicy};

/// Every way the WHATWG URL parser reads an IPv4 address, for one address.
fn spellings(ip: Ipv4Addr) -> Vec<String> {
    let n = u32::from(ip);
    let [a, b, c, d] = ip.octets();
    vec![
        format!("{a}.{b}.{c}.{d}"),
        format!("{n}"),
        format!("0x{n:x}"),
        format!("0X{n:08X}"),
        format!("0{n:o}"),
        format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
        format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
        format!("{a}.{}", (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)),
        format!("{a}.{b}.{}", (u32::from(c) << 8) | u32::from(d)),
        format!("{a}.{b}.{c}.{d}."),
        format!("[::ffff:{a}.{b}.{c}.{d}]"),
        format!("[64:ff9b::{a}.{b}.{c}.{d}]"),
    ]
}

fn private_v4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x7f00_0000 | (n & 0x00ff_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xac10_0000 | (n & 0x000f_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xc0a8_0000 | (n & 0x0000_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xa9fe_0000 | (n & 0x0000_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0x6440_0000 | (n & 0x003f_ffff))),
        any::<u32>().prop_map(|n| Ipv4Addr::from(n & 0x00ff_ffff)),
        any::<u32>().prop_map(|n| Ipv4Addr::from(0xe000_0000 | (n & 0x1fff_ffff))),
    ]
}

fn url_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(https?|ftp|file|gopher|data|ws)://[a-zA-Z0-9.:@\\[\\]%_~-]{0,40}(/[ -~]{0,20})?",
        "https?://\\[[0-9a-fA-F:.]{0,45}\\](:[0-9]{1,6})?/",
        "https?://[0-9xX.]{1,30}(:[0-9]{1,6})?/",
    ]
}

proptest! {
    #[test]
    fn never_panics_and_refusals_are_400(raw in url_ish()) {
        let policy = UrlPolicy::from_vars("", "127.0.0.1:8788").unwrap();
        if let Err(err) = parse_file_url(&raw, &policy) {
            prop_assert_eq!(err.status(), 400);
        }
    }

    #[test]
    fn what_is_allowed_is_public_http(raw in url_ish()) {
        if let Ok(url) = parse_file_url(&raw, &UrlPolicy::default()) {
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert!(url.username().is_empty() && url.password().is_none());
            prop_assert!(matches!(url.port_or_known_default(), Some(80 | 443 | 8080 | 8443)));
            match url.host().unwrap() {
                url::Host::Ipv4(ip) => prop_assert!(reserved_v4(ip).is_none()),
                url::Host::Ipv6(ip) => prop_assert!(reserved_v6(ip).is_none()),
                url::Host::Domain(d) => prop_assert!(d.contains('.') && !d.trim_end_matches('.').ends_with(".localhost")),
            }
        }
    }

    // the property above holds of a policy that refuses everything: a public name is taken
    #[test]
    fn public_names_are_allowed(host in "[a-z][a-z0-9-]{0,20}[a-z0-9]\\.(com|org|net|io)", https in any::<bool>(), path in "[a-z0-9/._-]{0,20}") {
        let scheme = if https { "https" } else { "http" };
        let raw = format!("{scheme}://{host}/{path}");
        let url = parse_file_url(&raw, &UrlPolicy::default());
        prop_assert!(url.as_ref().is_ok_and(|u| u.host_str() == Some(host.as_str())), "{} {:?}", raw, url);
    }

    #[test]
    fn private_v4_is_refused_in_every_spelling(ip in private_v4(), https in any::<bool>(), path in "[a-z0-9/._-]{0,20}") {
        let scheme = if https { "https" } else { "http" };
        for host in spellings(ip) {
            let raw = format!("{scheme}://{host}/{path}");
            let err = parse_file_url(&raw, &UrlPolicy::default()).expect_err(&raw);
            prop_assert!(err.public_message().contains("private or reserved address"), "{}: {}", raw, err.public_message());
        }
    }

    #[test]
    fn spellings_agree(n in any::<u32>()) {
        let ip = Ipv4Addr::from(n);
        let want = check(&Url::parse(&format!("http://{ip}/")).unwrap(), &UrlPolicy::default()).is_ok();
        for host in spellings(ip).into_iter().take(10) {
            let url = Url::parse(&format!("http://{host}/")).unwrap();
            let dotted = ip.to_string();
            prop_assert_eq!(url.host_str(), Some(dotted.as_str()));
            prop_assert_eq!(check(&url, &UrlPolicy::default()).is_ok(), want, "{}", host);
        }
    }

    #[test]
    fn v6_embedding_a_v4_is_refused(n in any::<u32>(), low in any::<u16>()) {
        let v4 = Ipv4Addr::from(n);
        for ip in [v4.to_ipv6_mapped(), v4.to_ipv6_compatible(), Ipv6Addr::from((0x64_ff9b_u128 << 96) | u128::from(n))] {
            let url = Url::parse(&format!("http://[{ip}]/")).unwrap();
            prop_assert!(check(&url, &UrlPolicy::default()).is_err(), "{}", ip);
        }
        if reserved_v4(v4).is_some() {
            let [a, b] = [(n >> 16) as u16, n as u16];
            let six_to_four = Ipv6Addr::new(0x2002, a, b, 0, 0, 0, 0, low);
            let url = Url::parse(&format!("http://[{}]/", six_to_four)).unwrap();
            prop_assert!(check(&url, &UrlPolicy::default()).is_err());
        }
    }

    #[test]
    fn allowlist_never_exempts_scheme_or_credentials(port in 1u16.., user in "[a-z]{1,8}") {
        let policy = UrlPolicy::from_vars("", &format!("127.0.0.1:{port}")).unwrap();
        let allowed = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
        prop_assert!(check(&allowed, &policy).is_ok());
        for raw in [format!("ftp://127.0.0.1:{port}/x"), format!("http://{user}@127.0.0.1:{port}/x"), format!("ws://127.0.0.1:{port}/x")] {
            prop_assert!(check(&Url::parse(&raw).unwrap(), &policy).is_err(), "{}", raw);
        }
        let other = port.wrapping_add(1).max(1);
        if other != port && ![80, 443, 8080, 8443].contains(&other) {
            let raw = format!("http://127.0.0.1:{other}/x");
            prop_assert!(check(&Url::parse(&raw).unwrap(), &policy).is_err(), "{}", raw);
        }
    }

    #[test]
    fn upload_bodies_never_panic_or_500(body in prop_oneof![
        any::<Vec<u8>>(),
        any::<String>().prop_map(String::into_bytes),
        ("[a-z_]{1,12}", any::<String>()).prop_map(|(k, v)| serde_json::json!({ "file_url": "https://example.com/a", k: v }).to_string().into_bytes()),
        (any::<String>(), any::<String>(), any::<String>()).prop_map(|(u, p, n)| serde_json::json!({ "file_url": u, "upload_path": p, "file_name": n }).to_string().into_bytes()),
    ]) {
        if let Err(err) = parse_upload(&body, &UrlPolicy::default()) {
            prop_assert!(matches!(err.status(), 400 | 413), "{:?}", err);
        }
    }
}
