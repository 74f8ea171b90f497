//! Which URLs the Worker may fetch: parsing a client's `file_url` and the one policy check
//! that runs before every request to an origin, each redirect hop included.
//!
//! Rules, in order: http(s) only; a host; no credentials; no internal host names (`localhost`,
//! `*.localhost`, `*.localdomain` (and `4`, `6`), `*.local`, `*.internal`, `*.home.arpa`, single labels) and not the service's
//! own host; then, unless `PRIVATE_FETCH_ALLOWLIST` names the host, no private or reserved IP
//! literal (every spelling: the `url` crate has already normalised `2130706433`, `0x7f.1`,
//! `0177.0.0.1`, `127.1` and `[::ffff:127.0.0.1]` to an address) and only allowed ports.

use url::{Host, Url};

use super::addr::{reserved_v4, reserved_v6};
use super::error::Error;
pub use super::url_syntax::MAX_URL_CHARS;
use super::url_syntax::{check_syntax, file_url_input, UrlParts};

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: u8 = 5;
/// Ports fetched when `ALLOWED_PORTS` is not set.
pub const DEFAULT_PORTS: &[u16] = &[80, 443, 8080, 8443];

/// Host name suffixes that never name a public host.
/// (`.localdomain`: `localhost.localdomain` and its kin name loopback in many `/etc/hosts`.)
const INTERNAL_SUFFIXES: &[&str] = &[".localhost", ".localdomain", ".localdomain4", ".localdomain6", ".local", ".internal", ".home.arpa"];

/// What the policy allows. Built from configuration, plus the request's own host at the
/// entry point ([`UrlPolicy::with_own_host`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allowed_ports: Vec<u16>,
    /// `PRIVATE_FETCH_ALLOWLIST`: exempt from the private-address and port rules only.
    pub private_allowlist: Vec<Exempt>,
    /// Hosts of the service itself (`PUBLIC_BASE_URL`, the request's host): never fetched.
    pub own_hosts: Vec<(Host, Option<u16>)>,
}

/// One `PRIVATE_FETCH_ALLOWLIST` entry: `host` (private address allowed, ports still
/// limited to the allowed ones) or `host:port` (that port too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exempt {
    pub host: Host,
    pub port: Option<u16>,
}

impl Default for UrlPolicy {
    fn default() -> Self {
        UrlPolicy { allowed_ports: DEFAULT_PORTS.to_vec(), private_allowlist: Vec::new(), own_hosts: Vec::new() }
    }
}

impl UrlPolicy {
    /// Builds the policy from `ALLOWED_PORTS` (comma list of ports; empty: the defaults) and
    /// `PRIVATE_FETCH_ALLOWLIST` (comma list of `host` or `host:port`). `Err` names the
    /// malformed item, or one that could never take effect: an internal host name (never
    /// fetched, whatever the list says), or a host name without a port (a name is never a
    /// private address, so only a port can be exempted for it).
    pub fn from_vars(ports: &str, allowlist: &str) -> Result<UrlPolicy, String> {
        let mut policy = UrlPolicy::default();
        let items = |s: &str| s.split(',').map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        let ports = items(ports);
        if !ports.is_empty() {
            policy.allowed_ports =
                ports.iter().map(|p| p.parse::<u16>().ok().filter(|&n| n != 0).ok_or_else(|| format!("port {p:?} (1 to 65535)"))).collect::<Result<_, _>>()?;
        }
        for entry in items(allowlist) {
            if entry.contains('*') {
                return Err(format!("allowlist entry {entry:?}: no wildcards, name each host"));
            }
            let (host, port) = host_and_port(&entry).ok_or_else(|| format!("allowlist entry {entry:?}"))?;
            if let Host::Domain(name) = &host {
                if let Some(rule) = internal_name(name) {
                    return Err(format!("allowlist entry {entry:?}: an internal host name ({rule}) is never fetched; name its address (127.0.0.1:PORT)"));
                }
                if port.is_none() {
                    return Err(format!("allowlist entry {entry:?}: a host name exempts only a port; write {entry}:PORT, or name an IP address"));
                }
            }
            policy.private_allowlist.push(Exempt { host, port });
        }
        Ok(policy)
    }

    /// The same policy, also refusing `url`'s host (the service's own address).
    pub fn with_own_host(mut self, url: &Url) -> UrlPolicy {
        if let Some(host) = url.host() {
            self.own_hosts.push((host.to_owned(), url.port_or_known_default()));
        }
        self
    }

    fn exempt(&self, host: &Host, port: Option<u16>) -> Option<&Exempt> {
        self.private_allowlist.iter().find(|e| &e.host == host && e.port.is_none_or(|p| Some(p) == port))
    }
}

/// `host` or `host:port` normalised exactly as a URL's host is.
fn host_and_port(entry: &str) -> Option<(Host, Option<u16>)> {
    if entry.contains(['/', '@', '?', '#']) {
        return None;
    }
    let url = Url::parse(&format!("http://{entry}/")).ok()?;
    let explicit = entry.rsplit(']').next().is_some_and(|tail| tail.contains(':'));
    Some((url.host()?.to_owned(), if explicit { url.port_or_known_default() } else { None }))
}

/// Parses the client's `file_url` and applies the policy to it.
pub fn parse_file_url(raw: &str, policy: &UrlPolicy) -> Result<Url, Error> {
    let url = parse(raw)?;
    check(&url, policy)?;
    Ok(url)
}

/// Parses `file_url` and applies only the syntax rules (scheme, host, credentials): the
/// verdict any client can reach before sending, which names, addresses and ports being the
/// deployment's to decide. What the browser client is held to in the tests.
pub fn parse_file_url_syntax(raw: &str) -> Result<Url, Error> {
    let url = parse(raw)?;
    check_syntax(&url_parts(&url))?;
    Ok(url)
}

fn parse(raw: &str) -> Result<Url, Error> {
    Url::parse(file_url_input(raw)?).map_err(|e| Error::invalid("file_url", format!("not a valid URL ({})", parse_problem(e))))
}

/// The `url` crate's reason, except where its words mislead a client: a string with no
/// scheme is "relative URL without a base", and a host with a space or a `<` is "invalid
/// international domain name".
fn parse_problem(err: url::ParseError) -> String {
    match err {
        url::ParseError::RelativeUrlWithoutBase => "it must be absolute, like https://example.com/file.png".into(),
        url::ParseError::IdnaError => "its host is not a valid host name".into(),
        other => other.to_string(),
    }
}

/// What the syntax rules (`url_syntax.rs`) look at in `url`.
pub fn url_parts(url: &Url) -> UrlParts<'_> {
    UrlParts { scheme: url.scheme(), has_host: url.host().is_some(), has_credentials: !url.username().is_empty() || url.password().is_some() }
}

/// The policy check: every URL the Worker fetches passes through here first. The error
/// names the rule, never more of the address than the client sent.
pub fn check(url: &Url, policy: &UrlPolicy) -> Result<(), Error> {
    let reject = |rule: String| Err(Error::UrlRejected(rule));
    check_syntax(&url_parts(url))?;
    let Some(host) = url.host() else { return reject("the URL has no host".into()) };
    let port = url.port_or_known_default();
    if let Host::Domain(name) = host {
        if let Some(rule) = internal_name(name) {
            return reject(format!("internal host name ({rule})"));
        }
    }
    let own = policy.own_hosts.iter().any(|(h, p)| match h {
        Host::Domain(d) => matches!(host, Host::Domain(n) if n.trim_end_matches('.') == d.trim_end_matches('.')),
        ip => *ip == host.to_owned() && *p == port,
    });
    if own {
        return reject("the service's own host".into());
    }
    let exempt = policy.exempt(&host.to_owned(), port);
    if exempt.is_none() {
        let range = match host {
            Host::Ipv4(ip) => reserved_v4(ip),
            Host::Ipv6(ip) => reserved_v6(ip),
            Host::Domain(_) => None,
        };
        if let Some(range) = range {
            return reject(format!("private or reserved address ({range})"));
        }
    }
    let port_exempt = exempt.is_some_and(|e| e.port.is_some());
    if !port_exempt && !port.is_some_and(|p| policy.allowed_ports.contains(&p)) {
        let allowed: Vec<String> = policy.allowed_ports.iter().map(u16::to_string).collect();
        return reject(format!("port not allowed (allowed: {})", allowed.join(", ")));
    }
    Ok(())
}

/// Why a host name is internal: `localhost`, an internal suffix, or a single label.
fn internal_name(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.');
    if name == "localhost" {
        return Some("localhost");
    }
    if let Some(suffix) = INTERNAL_SUFFIXES.iter().find(|s| name.ends_with(*s) || name == &s[1..]) {
        return Some(match *suffix {
            ".localhost" => "*.localhost",
            ".localdomain" | ".localdomain4" | ".localdomain6" => "*.localdomain",
            ".local" => "*.local",
            ".internal" => "*.internal",
            _ => "*.home.arpa",
        });
    }
    if !name.contains('.') {
        return Some("single-label name");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_parsed_and_checked() {
        let policy = UrlPolicy::default();
        let ok = [
            ("https://example.com/images/sample.jpg", "https://example.com/images/sample.jpg"),
            ("  http://example.com/a b.png ", "http://example.com/a%20b.png"),
            ("HTTPS://EXAMPLE.com:8443/x", "https://example.com:8443/x"),
        ];
        for (raw, want) in ok {
            assert_eq!(parse_file_url(raw, &policy).map(String::from), Ok(want.to_owned()), "{raw}");
        }
        let long = format!("https://x.test/{}", "a".repeat(2048));
        let bad: &[(&str, u16, &str)] = &[
            ("", 400, "missing required field `file_url`"),
            ("not a url", 400, "invalid `file_url`: not a valid URL"),
            ("/relative/path.png", 400, "not a valid URL"),
            ("ftp://example.com/a.png", 400, "scheme `ftp` is not allowed"),
            ("file:///etc/passwd", 400, "scheme `file` is not allowed"),
            ("javascript:alert(1)", 400, "scheme `javascript` is not allowed"),
            ("data:image/png;base64,AAAA", 400, "scheme `data` is not allowed"),
            ("https://user:pw@example.com/a.png", 400, "credentials"),
            (long.as_str(), 400, "at most 2048 characters"),
        ];
        for (raw, status, msg) in bad {
            let err = parse_file_url(raw, &policy).unwrap_err();
            assert_eq!(err.status(), *status, "{raw}");
            assert!(err.public_message().contains(msg), "{raw}: {}", err.public_message());
        }
    }

    #[test]
    fn vars_are_parsed() {
        let p = UrlPolicy::from_vars("", "").unwrap();
        assert_eq!(p, UrlPolicy::default());
        let p = UrlPolicy::from_vars(" 443, 9000 ", "127.0.0.1:8788, Origin.Example:9000 ,[::1]:81,0x7f.1").unwrap();
        assert_eq!(p.allowed_ports, vec![443, 9000]);
        let want = [
            (Host::Ipv4([127, 0, 0, 1].into()), Some(8788)),
            (Host::Domain("origin.example".to_owned()), Some(9000)),
            (Host::Ipv6("::1".parse().unwrap()), Some(81)),
            (Host::Ipv4([127, 0, 0, 1].into()), None),
        ];
        let got: Vec<_> = p.private_allowlist.iter().map(|e| (e.host.clone(), e.port)).collect();
        assert_eq!(got, want);
        assert_eq!(UrlPolicy::from_vars("", "x.test:80").unwrap().private_allowlist[0].port, Some(80));
        for (ports, allow) in [("http", ""), ("70000", ""), ("", "http://x/"), ("", "a b"), ("", "u@x.test")] {
            assert!(UrlPolicy::from_vars(ports, allow).is_err(), "{ports:?} {allow:?}");
        }
        // entries that could never take effect are refused, by name
        for (allow, says) in [
            ("localhost:8788", "an internal host name (localhost) is never fetched"),
            ("127.0.0.1, dev.internal:81", "an internal host name (*.internal)"),
            ("files.example.com", "a host name exempts only a port; write files.example.com:PORT"),
        ] {
            let err = UrlPolicy::from_vars("", allow).unwrap_err();
            assert!(err.contains(says), "{allow:?}: {err}");
        }
    }

    #[test]
    fn the_syntax_verdict_leaves_network_rules_to_the_service() {
        let cases = [
            ("http://127.0.0.1:8788/a.png", true, false),
            ("http://localhost/a.png", true, false),
            ("http://[::1]:9/x", true, false),
            ("https://example.com/a.png", true, true),
            ("ftp://example.com/a.png", false, false),
            ("https://user:pw@example.com/a.png", false, false),
        ];
        for (raw, client_ok, server_ok) in cases {
            assert_eq!(parse_file_url_syntax(raw).is_ok(), client_ok, "client: {raw}");
            assert_eq!(parse_file_url(raw, &UrlPolicy::default()).is_ok(), server_ok, "server: {raw}");
        }
    }
}
