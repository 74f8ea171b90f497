//! `file_url`s and what the server's syntax rules answer for each: `None` (only the network
//! rules, the server's, remain) or the 400's message (field `file_url`). Checked on the host
//! against `core` (`tests/url_policy_table.rs`) and in the browser against the client, which
//! parses with the browser's `URL` (`tests/client.rs`): what it refuses before sending, it
//! refuses with the same answer; a string the browser cannot read is left to the server.

#![allow(dead_code)]

pub const FILE_URL_CASES: &[(&str, Option<&str>)] = &[
    // accepted by the syntax rules
    ("https://example.com/a.png", None),
    ("  http://example.com/a b.png ", None),
    ("HTTPS://EXAMPLE.com:8443/x", None),
    ("https://example.com./a", None),
    ("http://127.0.0.1:8788/a.png", None),
    ("http://localhost/a.png", None),
    ("http://[::1]:9/x", None),
    ("http://0x7f.1/", None),
    ("http://2130706433/", None),
    ("http://1.2.3/", None),
    ("https://bücher.example/a.png", None),
    ("https://xn--bcher-kva.example/a.png", None),
    ("https://XN--BCHER-KVA.example/a.png", None),
    ("http://a*b.example/", None),
    ("http://a!b$c.example/", None),
    ("https://ＥＸＡＭＰＬＥ.com/", None),
    ("https://ex\u{AD}ample.com/", None),
    ("https://example.com/%zz?q=ü#f", None),
    ("http:example.com/a", None),
    ("http:\\\\example.com\\a", None),
    ("https://example.com:0443/", None),
    ("\u{1}https://example.com/\u{1}", None),
    ("https://exa\tmple.com/", None),
    // refused before parsing
    ("", Some("missing required field `file_url`")),
    ("   ", Some("missing required field `file_url`")),
    // not a URL, with the `url` crate's reason
    ("not a url", Some("invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)")),
    ("/relative/path.png", Some("invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)")),
    ("x.test/a.png", Some("invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)")),
    ("//x.test/a.png", Some("invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)")),
    ("1http://x.test/", Some("invalid `file_url`: not a valid URL (it must be absolute, like https://example.com/file.png)")),
    ("http://", Some("invalid `file_url`: not a valid URL (empty host)")),
    ("https://:443/", Some("invalid `file_url`: not a valid URL (empty host)")),
    ("https://@/x", Some("invalid `file_url`: not a valid URL (empty host)")),
    ("https://user@/x", Some("invalid `file_url`: not a valid URL (empty host)")),
    ("http://\u{AD}/", Some("invalid `file_url`: not a valid URL (empty host)")),
    ("https://x.test:99999/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("https://x.test:8o/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("https://x.test:-1/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("http://1.2.3.4.5/", Some("invalid `file_url`: not a valid URL (invalid IPv4 address)")),
    ("http://999.1.1.1/", Some("invalid `file_url`: not a valid URL (invalid IPv4 address)")),
    ("http://0x100000000/", Some("invalid `file_url`: not a valid URL (invalid IPv4 address)")),
    ("http://[::1/", Some("invalid `file_url`: not a valid URL (invalid IPv6 address)")),
    ("http://[::g]/", Some("invalid `file_url`: not a valid URL (invalid IPv6 address)")),
    ("http://[1:2:3:4:5:6:7:8:9]/", Some("invalid `file_url`: not a valid URL (invalid IPv6 address)")),
    ("http://a b/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("https://exa<mple.com/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("https://x%00.test/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("https://x%zz.test/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("http://a%20b/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("file://a b/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("file://a:1/", Some("invalid `file_url`: not a valid URL (its host is not a valid host name)")),
    ("foo://a b/", Some("invalid `file_url`: not a valid URL (invalid domain character)")),
    ("foo://[x]/", Some("invalid `file_url`: not a valid URL (invalid IPv6 address)")),
    ("foo://h:x/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("foo://u@/x", Some("invalid `file_url`: not a valid URL (empty host)")),
    // a URL, but not one to fetch
    ("ftp://example.com/a.png", Some("file_url rejected: scheme `ftp` is not allowed (use http or https)")),
    ("file:///etc/passwd", Some("file_url rejected: scheme `file` is not allowed (use http or https)")),
    ("javascript:alert(1)", Some("file_url rejected: scheme `javascript` is not allowed (use http or https)")),
    ("data:image/png;base64,AAAA", Some("file_url rejected: scheme `data` is not allowed (use http or https)")),
    ("ws://example.com/", Some("file_url rejected: scheme `ws` is not allowed (use http or https)")),
    ("foo:bar", Some("file_url rejected: scheme `foo` is not allowed (use http or https)")),
    ("https://user:pw@example.com/a.png", Some("file_url rejected: credentials in the URL are not allowed")),
    ("https://user@example.com/a.png", Some("file_url rejected: credentials in the URL are not allowed")),
    ("https://:pw@example.com/a.png", Some("file_url rejected: credentials in the URL are not allowed")),
    // internationalized names, in Unicode and in Punycode, with the other rules
    ("https://bücher.example:99999/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("https://xn--bcher-kva.example:99999/", Some("invalid `file_url`: not a valid URL (invalid port number)")),
    ("ftp://xn--bcher-kva.example/a", Some("file_url rejected: scheme `ftp` is not allowed (use http or https)")),
    ("https://u@xn--bcher-kva.example/a", Some("file_url rejected: credentials in the URL are not allowed")),
    ("https://u@XN--BCHER-KVA.example/a", Some("file_url rejected: credentials in the URL are not allowed")),
];

/// Host names the server refuses by IDNA's Unicode data (`its host is not a valid host
/// name`): the client sends them for the server to answer (the browser's data can differ).
pub const IDNA_DATA_CASES: &[&str] = &[
    "http://xn--a/",
    "http://xn--abc-.example/",
    "http://a.xn--/",
    "https://a＠b.test/",
    "https://a\u{200D}b.test/",
    "https://\u{FFFD}.test/",
];

/// Pieces that steer a URL parser through schemes, slashes, userinfo, brackets, ports,
/// percent escapes, IPv4 numbers, Punycode and the Unicode that IDNA maps, drops or
/// refuses; strings made of them are checked in the browser (`tests/client.rs`): the
/// client never refuses one the `url` crate accepts.
pub const URL_PIECES: &[&str] = &[
    "http:", "HTTPS:", "file:", "ftp:", "ws:", "foo:", "a+b.c-d:", "1a:", ":", "/", "//", "\\", "@", "a@", ":@",
    "[", "]", "[::1]", "[::ffff:1.2.3.4]", "[1::", "[g]", "?", "#", "%", "%00", "%2e", "%41", "%zz", "%40", "%3a",
    "0", "1", "255", "256", "4294967296", "0x", "0x7f", "08", ".", "..", "a", "b.c", "xn--", "xn--nxasmq6b", "c:", "c|",
    "xn--a", "xn--abc-", "xn--bcher-kva", "XN--BCHER-KVA", "xn--ls8h", "xn--zca", "xn--a-ecp", "xn--55qx5d", "-", "*", "%20", "%C3%BC", "%ff", "xn--*-", "XN--A", "xn%2D%2Da", "ｘｎ--bcher-kva", "xn--*-0x7f", "xn--xn--55qx5d",
    "localhost", "ü", "\u{AD}", "。", "ß", "٠", "\u{200D}", "ａ", "＠", "：", "／", " ", "\t", "\n", "\u{0}", "\u{1}", "<", "^", "|",
    ":80", ":65535", ":65536", ":0000000000080", ":8o", "x.test", "-",
];
