//! The URL policy as a table: every spelling the `url` crate normalises, allowed and refused,
//! with the rule each refusal names.

#[path = "common/url_cases.rs"]
mod url_cases;

use url::Url;
use urlstash::core::url_policy::{check, parse_file_url, parse_file_url_syntax, UrlPolicy};

/// `None`: allowed. `Some(fragment)`: refused with a message containing `fragment`.
type Case = (&'static str, Option<&'static str>);

const LOOPBACK: Option<&str> = Some("private or reserved address (loopback)");
const PRIVATE: Option<&str> = Some("private or reserved address (RFC 1918 private)");
const LINK_LOCAL: Option<&str> = Some("private or reserved address (link-local)");
const PORT: Option<&str> = Some("port not allowed (allowed: 80, 443, 8080, 8443)");

const DEFAULT_POLICY: &[Case] = &[
    // allowed: public names and addresses on the default ports
    ("https://example.com/a.png", None),
    ("http://example.com/a.png", None),
    ("http://example.com:80/a", None),
    ("https://example.com:443/a", None),
    ("http://example.com:8080/a", None),
    ("https://example.com:8443/a", None),
    ("https://EXAMPLE.COM./a", None),
    ("https://sub.domain.example.co.uk/x?y=1#z", None),
    ("https://xn--bcher-kva.example/a", None),
    ("https://bücher.example/a", None),
    ("http://93.184.216.34/a", None),
    ("http://1.1.1.1/", None),
    ("http://8.8.8.8:8080/", None),
    ("http://[2606:4700:4700::1111]/", None),
    ("https://[2a00:1450:4001::200e]:8443/", None),
    ("http://[2002:808:808::1]/", None),
    ("http://172.32.0.1/", None),
    ("http://100.128.0.1/", None),
    ("http://localhost.example.com/", None),
    ("http://internal.example.com/", None),
    // schemes
    ("ftp://example.com/a", Some("scheme `ftp`")),
    ("file:///etc/passwd", Some("scheme `file`")),
    ("gopher://example.com:70/_x", Some("scheme `gopher`")),
    ("data:text/plain,hi", Some("scheme `data`")),
    ("javascript:alert(1)", Some("scheme `javascript`")),
    ("ws://example.com/", Some("scheme `ws`")),
    ("wss://example.com/", Some("scheme `wss`")),
    ("dict://example.com:11211/", Some("scheme `dict`")),
    ("jar:http://example.com/a!/b", Some("scheme `jar`")),
    // credentials
    ("https://user@example.com/a", Some("credentials")),
    ("https://user:pw@example.com/a", Some("credentials")),
    ("https://:pw@example.com/a", Some("credentials")),
    ("http://example.com@127.0.0.1/", Some("credentials")),
    // ports
    ("http://example.com:22/", PORT),
    ("http://example.com:6379/", PORT),
    ("https://example.com:8444/", PORT),
    ("http://example.com:0/", PORT),
    ("http://example.com:65535/", PORT),
    // internal names
    ("http://localhost/", Some("internal host name (localhost)")),
    ("http://LOCALHOST./", Some("internal host name (localhost)")),
    ("http://%6C%6Fcalhost/", Some("internal host name (localhost)")),
    ("http://ｌｏｃａｌｈｏｓｔ/", Some("internal host name (localhost)")),
    ("http://api.localhost/", Some("internal host name (*.localhost)")),
    ("http://localhost.localdomain/", Some("internal host name (*.localdomain)")),
    ("http://localhost6.localdomain6/", Some("internal host name (*.localdomain)")),
    ("http://localhost4.localdomain4./", Some("internal host name (*.localdomain)")),
    ("http://printer.local/", Some("internal host name (*.local)")),
    ("http://metadata.google.internal/computeMetadata/v1/", Some("internal host name (*.internal)")),
    ("http://router.home.arpa/", Some("internal host name (*.home.arpa)")),
    ("http://intranet/", Some("internal host name (single-label name)")),
    // IPv4 loopback, every spelling
    ("http://127.0.0.1/", LOOPBACK),
    ("http://127.0.0.1:8080/", LOOPBACK),
    ("http://127.1/", LOOPBACK),
    ("http://127.0.1/", LOOPBACK),
    ("http://2130706433/", LOOPBACK),
    ("http://0x7f000001/", LOOPBACK),
    ("http://0x7f.0x0.0x0.0x1/", LOOPBACK),
    ("http://0177.0.0.1/", LOOPBACK),
    ("http://017700000001/", LOOPBACK),
    ("http://0x7f.1/", LOOPBACK),
    ("http://127.000.000.001/", LOOPBACK),
    ("http://127.0.0.1./", LOOPBACK),
    ("http://127.255.255.254/", LOOPBACK),
    ("http://①②⑦.0.0.1/", LOOPBACK),
    ("http://127。0。0。1/", LOOPBACK),
    ("http://%31%32%37.0.0.1/", LOOPBACK),
    // IPv4 other ranges
    ("http://0.0.0.0/", Some("(unspecified)")),
    ("http://0/", Some("(unspecified)")),
    ("http://0.1.2.3/", Some("(this network, 0.0.0.0/8)")),
    ("http://10.0.0.1/", PRIVATE),
    ("http://167772161/", PRIVATE),
    ("http://172.16.0.1/", PRIVATE),
    ("http://172.31.255.255/", PRIVATE),
    ("http://192.168.0.1/", PRIVATE),
    ("http://0xc0.0xa8.1.1/", PRIVATE),
    ("http://100.64.0.1/", Some("(shared address space, CGNAT)")),
    ("http://169.254.169.254/latest/meta-data/", LINK_LOCAL),
    ("http://2852039166/", LINK_LOCAL),
    ("http://0xa9fea9fe/", LINK_LOCAL),
    ("http://192.0.0.170/", Some("(IETF protocol assignments)")),
    ("http://192.0.2.1/", Some("(documentation)")),
    ("http://198.51.100.1/", Some("(documentation)")),
    ("http://203.0.113.1/", Some("(documentation)")),
    ("http://198.18.0.1/", Some("(benchmarking)")),
    ("http://224.0.0.1/", Some("(multicast)")),
    ("http://240.0.0.1/", Some("(reserved, 240.0.0.0/4)")),
    ("http://255.255.255.255/", Some("(broadcast)")),
    ("http://4294967295/", Some("(broadcast)")),
    // IPv6
    ("http://[::1]/", LOOPBACK),
    ("http://[0:0:0:0:0:0:0:1]/", LOOPBACK),
    ("http://[::]/", Some("(unspecified)")),
    ("http://[::ffff:127.0.0.1]/", Some("(IPv4-mapped IPv6)")),
    ("http://[::ffff:7f00:1]/", Some("(IPv4-mapped IPv6)")),
    ("http://[::ffff:169.254.169.254]/", Some("(IPv4-mapped IPv6)")),
    ("http://[::ffff:8.8.8.8]/", Some("(IPv4-mapped IPv6)")),
    ("http://[::127.0.0.1]/", Some("(IPv4-compatible IPv6)")),
    ("http://[64:ff9b::127.0.0.1]/", Some("(NAT64)")),
    ("http://[64:ff9b::a9fe:a9fe]/", Some("(NAT64)")),
    ("http://[2002:7f00:1::]/", Some("(6to4 with a non-public IPv4)")),
    ("http://[2002:c0a8:101::1]/", Some("(6to4 with a non-public IPv4)")),
    ("http://[2001:0:4136:e378::80ff:fffe]/", Some("(Teredo with a non-public IPv4)")),
    ("http://[fc00::1]/", Some("(unique local)")),
    ("http://[fd00:ec2::254]/", Some("(unique local)")),
    ("http://[fe80::1]/", LINK_LOCAL),
    ("http://[ff02::1]/", Some("(multicast)")),
    ("http://[2001:db8::1]/", Some("(documentation)")),
    ("http://[100::1]/", Some("(discard-only)")),
];

fn assert_case(policy: &UrlPolicy, raw: &str, want: Option<&str>) {
    let got = parse_file_url(raw, policy);
    match (want, got) {
        (None, Ok(_)) => {}
        (None, Err(e)) => panic!("{raw}: refused ({}) but should be allowed", e.public_message()),
        (Some(_), Ok(u)) => panic!("{raw}: allowed as {u} but should be refused"),
        (Some(fragment), Err(e)) => {
            let msg = e.public_message();
            assert_eq!(e.status(), 400, "{raw}");
            assert!(msg.contains(fragment), "{raw}: {msg:?} does not contain {fragment:?}");
            assert!(msg.starts_with("file_url rejected: ") || msg.starts_with("invalid `file_url`"), "{raw}: {msg}");
        }
    }
}

#[test]
fn default_policy_table() {
    assert!(DEFAULT_POLICY.len() >= 60, "{} cases", DEFAULT_POLICY.len());
    let policy = UrlPolicy::default();
    for (raw, want) in DEFAULT_POLICY {
        assert_case(&policy, raw, *want);
    }
}

#[test]
fn allowlist_exempts_only_address_and_port() {
    let policy = UrlPolicy::from_vars("", "127.0.0.1:8788,10.1.2.3,[::1]:9000").unwrap();
    let cases: &[Case] = &[
        ("http://127.0.0.1:8788/sample.png", None),
        ("http://2130706433:8788/sample.png", None),
        ("http://0x7f.1:8788/x", None),
        ("http://127.0.0.1:8789/", LOOPBACK),
        ("http://127.0.0.1/", LOOPBACK),
        ("http://127.0.0.2:8788/", LOOPBACK),
        ("http://10.1.2.3/", None),
        ("http://10.1.2.3:8080/", None),
        ("http://10.1.2.3:22/", PORT),
        ("http://10.1.2.4/", PRIVATE),
        ("http://[::1]:9000/", None),
        ("http://[::1]/", LOOPBACK),
        ("ftp://127.0.0.1:8788/", Some("scheme `ftp`")),
        ("http://u:p@127.0.0.1:8788/", Some("credentials")),
        ("http://localhost:8788/", Some("internal host name (localhost)")),
    ];
    for (raw, want) in cases {
        assert_case(&policy, raw, *want);
    }
}

#[test]
fn own_hosts_are_refused() {
    let own = |s: &str| Url::parse(s).unwrap();
    let policy = UrlPolicy::from_vars("", "127.0.0.1:8787,127.0.0.1:8788")
        .unwrap()
        .with_own_host(&own("https://files.example.com/"))
        .with_own_host(&own("http://127.0.0.1:8787/api/v1/files/upload/url"));
    let cases: &[Case] = &[
        ("https://files.example.com/f/k/a.png", Some("the service's own host")),
        ("http://FILES.example.com:8080/", Some("the service's own host")),
        ("https://files.example.com./", Some("the service's own host")),
        ("http://127.0.0.1:8787/api/v1/health", Some("the service's own host")),
        ("http://127.0.0.1:8788/sample.png", None),
        ("https://example.com/", None),
        ("https://other.files.example.com/", None),
    ];
    for (raw, want) in cases {
        assert_case(&policy, raw, *want);
    }
    // every redirect hop goes through the same check
    assert!(check(&own("http://[::ffff:a9fe:a9fe]/"), &policy).is_err());
}

/// The tables the browser test holds the client to (`tests/common/url_cases.rs`): what the
/// server's syntax rules answer, message for message.
#[test]
fn the_clients_table_is_the_servers_syntax_verdict() {
    let idna = "invalid `file_url`: not a valid URL (its host is not a valid host name)";
    let idna_cases = url_cases::IDNA_DATA_CASES.iter().map(|raw| (*raw, Some(idna)));
    for (raw, want) in url_cases::FILE_URL_CASES.iter().copied().chain(idna_cases) {
        let got = parse_file_url_syntax(raw).err().map(|e| (e.status(), e.public_message()));
        assert_eq!(got, want.map(|msg| (400, msg.to_owned())), "{raw:?}");
    }
}
