//! The Worker's configuration, parsed once from `wrangler.toml [vars]`.

use std::cell::RefCell;

use url::Url;

use super::admin::MAX_QUOTA;
use super::authority::RESERVATION_TTL_MS;
use super::error::Error;
use super::quota::Limits;
use super::ranges::ONE_STREAM_MIB_S;
use super::rate_limit;
use super::mime::AllowList;
use super::url_policy::UrlPolicy;

/// Names of the variables, as in `wrangler.toml`.
pub mod vars {
    pub const FILE_TTL_SECONDS: &str = "FILE_TTL_SECONDS";
    pub const MAX_FILE_BYTES: &str = "MAX_FILE_BYTES";
    pub const FETCH_TIMEOUT_MS: &str = "FETCH_TIMEOUT_MS";
    pub const ALLOWED_MIME_TYPES: &str = "ALLOWED_MIME_TYPES";
    pub const PUBLIC_BASE_URL: &str = "PUBLIC_BASE_URL";
    pub const DEFAULT_MAX_BYTES: &str = "DEFAULT_MAX_BYTES";
    pub const DEFAULT_MAX_FILES: &str = "DEFAULT_MAX_FILES";
    pub const ALLOWED_PORTS: &str = "ALLOWED_PORTS";
    pub const PRIVATE_FETCH_ALLOWLIST: &str = "PRIVATE_FETCH_ALLOWLIST";
    pub const DEFAULT_RATE_LIMIT: &str = "DEFAULT_RATE_LIMIT";
    pub const ASYNC_MAX_FILE_BYTES: &str = "ASYNC_MAX_FILE_BYTES";
    pub const ASYNC_TIMEOUT_SECONDS: &str = "ASYNC_TIMEOUT_SECONDS";
    pub const ONE_STREAM_MIB_S: &str = "ONE_STREAM_MIB_S";
    /// Every one of them.
    pub const ALL: [&str; 13] = [
        FILE_TTL_SECONDS,
        MAX_FILE_BYTES,
        FETCH_TIMEOUT_MS,
        ALLOWED_MIME_TYPES,
        PUBLIC_BASE_URL,
        DEFAULT_MAX_BYTES,
        DEFAULT_MAX_FILES,
        ALLOWED_PORTS,
        PRIVATE_FETCH_ALLOWLIST,
        DEFAULT_RATE_LIMIT,
        ASYNC_MAX_FILE_BYTES,
        ASYNC_TIMEOUT_SECONDS,
        ONE_STREAM_MIB_S,
    ];
}

/// Everything the handlers need to know about the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub ttl_secs: u64,
    pub max_file_bytes: u64,
    pub fetch_timeout_ms: u64,
    pub allowed_types: AllowList,
    /// Where links point; `None` means the request's own origin.
    pub public_base_url: Option<Url>,
    pub url_policy: UrlPolicy,
    /// Each key's quota unless its record overrides it.
    pub default_limits: Limits,
    /// Upload requests per minute per key unless the key has its own (0: no limit).
    pub default_rate_limit: u32,
    /// Background jobs: the largest file one may fetch, and its deadline.
    pub async_max_file_bytes: u64,
    pub async_timeout_secs: u64,
    /// A ranged file whose first MiB comes at this many MiB/s or faster is stored as one
    /// stream, not in parallel ranges (0: always in ranges); see `ranges::one_stream_budget_ms`.
    pub one_stream_mib_s: u64,
}

/// The largest file a background job may fetch (5 GiB): the service's own cap, about a
/// thousand part uploads of its sizes (R2 takes multipart objects of up to about 5 TiB).
pub const MAX_ASYNC_FILE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Longest `FILE_TTL_SECONDS`: a year (a temporary file; and a typo in ms instead of seconds
/// is refused rather than giving files a lifetime of centuries).
pub const MAX_TTL_SECS: u64 = 365 * 24 * 3600;

/// R2's largest single put (5 GiB less 5 MiB): a request's upload of a known length is
/// one put, so `MAX_FILE_BYTES` may not be larger.
pub const MAX_PUT_BYTES: u64 = MAX_ASYNC_FILE_BYTES - 5 * 1024 * 1024;

/// Longest `FETCH_TIMEOUT_MS`: the whole transfer must end well inside a reservation's
/// lifetime, after which the key's authority presumes the upload dead and deletes its bytes.
pub const MAX_FETCH_TIMEOUT_MS: u64 = (RESERVATION_TTL_MS as u64) * 2 / 3;

impl Config {
    /// The URL policy for work a request to `request_url` started: the configured one plus
    /// that request's own host, so the Worker never fetches itself.
    pub fn policy_for(&self, request_url: &Url) -> UrlPolicy {
        self.url_policy.clone().with_own_host(request_url)
    }

    /// Reads the variables through `lookup`; absent ones take their defaults, malformed
    /// ones are an internal error (the deployment is broken, not the request) that names
    /// every one of them, so one redeploy can fix them all.
    pub fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let problems = RefCell::new(Vec::new());
        let within = |name: &str, default: u64, min: u64, max: u64| -> u64 {
            let value = match lookup(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(Error::internal(format!("config: {name}={v:?} is not a number from {min} to {max}"))),
                },
            };
            noted(&problems, value, default)
        };
        let allowed = lookup(vars::ALLOWED_MIME_TYPES).unwrap_or_else(|| "*".into());
        let base = lookup(vars::PUBLIC_BASE_URL).filter(|v| !v.trim().is_empty()).map(|b| parse_base(&b));
        let base = base.and_then(|b| noted(&problems, b.map(Some), None));
        let ports = lookup(vars::ALLOWED_PORTS).unwrap_or_default();
        let allowlist = lookup(vars::PRIVATE_FETCH_ALLOWLIST).unwrap_or_default();
        let url_policy = UrlPolicy::from_vars(&ports, &allowlist)
            .map_err(|e| Error::internal(format!("config: {} / {}: {e}", vars::ALLOWED_PORTS, vars::PRIVATE_FETCH_ALLOWLIST)));
        let mut url_policy = noted(&problems, url_policy, UrlPolicy::default());
        if let Some(base) = &base {
            url_policy = url_policy.with_own_host(base);
        }
        let rate = lookup(vars::DEFAULT_RATE_LIMIT).unwrap_or_default();
        let rate = rate.trim();
        let default_rate_limit = if rate.is_empty() { Some(0) } else { rate.parse::<u32>().ok() }
            .and_then(|r| rate_limit::validate(r, "DEFAULT_RATE_LIMIT").ok())
            .ok_or_else(|| Error::internal(format!("config: {}={rate:?} is not 0, 10, 100 or 1000", vars::DEFAULT_RATE_LIMIT)));
        let allowed_types = AllowList::parse(&allowed)
            .ok_or_else(|| Error::internal(format!("config: {}={allowed:?} is not `*` or a comma list of `type/subtype` and `type/*` (empty allows nothing)", vars::ALLOWED_MIME_TYPES)));
        let config = Config {
            default_rate_limit: noted(&problems, default_rate_limit, 0),
            ttl_secs: within(vars::FILE_TTL_SECONDS, 259_200, 1, MAX_TTL_SECS),
            max_file_bytes: within(vars::MAX_FILE_BYTES, 104_857_600, 1, MAX_PUT_BYTES),
            fetch_timeout_ms: within(vars::FETCH_TIMEOUT_MS, 30_000, 1, MAX_FETCH_TIMEOUT_MS),
            allowed_types: noted(&problems, allowed_types, AllowList::parse("*").expect("`*` parses")),
            public_base_url: base,
            url_policy,
            default_limits: Limits {
                // a key's own quota has the same bounds (JSON numbers readable exactly)
                max_bytes: within(vars::DEFAULT_MAX_BYTES, 1_073_741_824, 0, MAX_QUOTA),
                max_files: within(vars::DEFAULT_MAX_FILES, 1_000, 0, MAX_QUOTA),
            },
            async_max_file_bytes: within(vars::ASYNC_MAX_FILE_BYTES, MAX_ASYNC_FILE_BYTES, 1, MAX_ASYNC_FILE_BYTES),
            async_timeout_secs: within(vars::ASYNC_TIMEOUT_SECONDS, 3_600, 10, 86_400),
            one_stream_mib_s: within(vars::ONE_STREAM_MIB_S, ONE_STREAM_MIB_S, 0, 1_000_000),
        };
        let problems = problems.into_inner();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Error::internal(format!("config: {}", problems.join("; "))))
        }
    }

    /// Settings that parse but work against each other, as the operator's log says them
    /// (`None`: none do). Logged, not refused: each is a choice an operator may mean.
    pub fn tensions(&self) -> Option<String> {
        let mut found = Vec::new();
        if self.async_max_file_bytes < self.max_file_bytes {
            found.push(format!(
                "{}={} is below {}={}: a file a background job is refused (413) stores when sent to be stored now",
                vars::ASYNC_MAX_FILE_BYTES,
                self.async_max_file_bytes,
                vars::MAX_FILE_BYTES,
                self.max_file_bytes
            ));
        }
        if self.ttl_secs < self.async_timeout_secs {
            found.push(format!(
                "{}={} is below {}={}: a background job still running when its file's lifetime ends is refused at its commit (400), its transfer wasted",
                vars::FILE_TTL_SECONDS,
                self.ttl_secs,
                vars::ASYNC_TIMEOUT_SECONDS,
                self.async_timeout_secs
            ));
        }
        (!found.is_empty()).then(|| format!("config: {}", found.join("; ")))
    }
}

/// The warning for the names in the Worker's environment it does not read (`present` less
/// `read`, every variable, secret and binding it reads), each with the one it reads that it
/// most resembles, if any: a misspelt or lowercase variable would otherwise pass unseen,
/// its setting left at the default. `None` when it reads every name.
pub fn unread_names(present: &[String], read: &[&str]) -> Option<String> {
    let unread: Vec<String> = present
        .iter()
        .filter(|name| !read.contains(&name.as_str()))
        .map(|name| match resembled(name, read) {
            Some(meant) => format!("{name} (did you mean {meant}?)"),
            None => name.clone(),
        })
        .collect();
    (!unread.is_empty()).then(|| format!("config: not read by this Worker, so ignored: {}", unread.join(", ")))
}

/// The name in `read` that `name` most resembles, whatever its case, if it is close enough
/// to be a slip: one holds the other (`TTL_SECONDS`), or they are alike by Jaro-Winkler
/// (`MAX_FILE_SIZE`, `FILE_TTL_SECOND`).
fn resembled<'a>(name: &str, read: &[&'a str]) -> Option<&'a str> {
    let upper = name.to_ascii_uppercase();
    let score = |known: &str| match upper.contains(known) || known.contains(upper.as_str()) {
        true => 1.0,
        false => strsim::jaro_winkler(&upper, known),
    };
    read.iter()
        .map(|known| (score(known), *known))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

/// `result`'s value, or `fallback` with its problem noted in `problems` (a config error's
/// detail, without its "config: ").
fn noted<T>(problems: &RefCell<Vec<String>>, result: Result<T, Error>, fallback: T) -> T {
    result.unwrap_or_else(|err| {
        let detail = match err {
            Error::Internal(detail) => detail,
            other => other.to_string(),
        };
        problems.borrow_mut().push(detail.trim_start_matches("config: ").to_owned());
        fallback
    })
}

/// `PUBLIC_BASE_URL`: an http(s) origin. Not a path under one: the Worker's routes are at
/// its root, so links under a path would not reach them.
fn parse_base(raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim().trim_end_matches('/'))
        .map_err(|e| Error::internal(format!("config: {}: {e} (write it whole, with its scheme: https://files.example.com)", vars::PUBLIC_BASE_URL)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::internal(format!("config: {} must be http(s)", vars::PUBLIC_BASE_URL)));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // not echoed: the log would keep the password
        return Err(Error::internal(format!("config: {} must not hold credentials (user:password@)", vars::PUBLIC_BASE_URL)));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::internal(format!(
            "config: {}={raw:?} must be an origin (scheme://host[:port]), without a path or query: the routes are at the root",
            vars::PUBLIC_BASE_URL
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        Config::from_vars(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn defaults_match_the_seeds() {
        let c = config(&[]).unwrap();
        assert_eq!((c.ttl_secs, c.max_file_bytes, c.fetch_timeout_ms), (259_200, 104_857_600, 30_000));
        assert!(c.allowed_types.allows("application/x-anything"));
        assert_eq!(c.public_base_url, None);
        assert_eq!(c.default_limits, Limits { max_bytes: 1_073_741_824, max_files: 1_000 });
        assert_eq!(c.url_policy, UrlPolicy::default());
        assert_eq!(c.default_rate_limit, 0);
        assert_eq!(config(&[("DEFAULT_RATE_LIMIT", "100")]).unwrap().default_rate_limit, 100);
        assert_eq!(c.one_stream_mib_s, 64);
        assert_eq!(config(&[("ONE_STREAM_MIB_S", "0")]).unwrap().one_stream_mib_s, 0);
    }

    #[test]
    fn settings_that_work_against_each_other_are_named() {
        assert_eq!(config(&[]).unwrap().tensions(), None, "the defaults agree");
        let both = config(&[("ASYNC_MAX_FILE_BYTES", "1000"), ("MAX_FILE_BYTES", "2000"), ("FILE_TTL_SECONDS", "600")]).unwrap();
        assert_eq!(
            both.tensions().as_deref(),
            Some(
                "config: ASYNC_MAX_FILE_BYTES=1000 is below MAX_FILE_BYTES=2000: a file a background job is refused (413) stores when sent to be stored now; \
                 FILE_TTL_SECONDS=600 is below ASYNC_TIMEOUT_SECONDS=3600: a background job still running when its file's lifetime ends is refused at its commit (400), its transfer wasted"
            )
        );
        let equal = config(&[("ASYNC_MAX_FILE_BYTES", "2000"), ("MAX_FILE_BYTES", "2000"), ("FILE_TTL_SECONDS", "3600")]).unwrap();
        assert_eq!(equal.tensions(), None);
    }

    #[test]
    fn values_are_read_and_checked() {
        let c = config(&[
            ("FILE_TTL_SECONDS", "2"),
            ("MAX_FILE_BYTES", " 1024 "),
            ("FETCH_TIMEOUT_MS", "1500"),
            ("ALLOWED_MIME_TYPES", "image/jpeg,image/png,image/gif,image/webp"),
            ("PUBLIC_BASE_URL", "https://files.example.com/"),
            ("DEFAULT_MAX_BYTES", "5000"),
            ("DEFAULT_MAX_FILES", "10"),
        ])
        .unwrap();
        assert_eq!((c.ttl_secs, c.max_file_bytes, c.fetch_timeout_ms), (2, 1024, 1500));
        assert!(!c.allowed_types.allows("application/pdf"));
        assert_eq!(c.default_limits, Limits { max_bytes: 5000, max_files: 10 });
        assert_eq!(c.public_base_url.as_ref().unwrap().as_str(), "https://files.example.com/");
        assert_eq!(c.url_policy.own_hosts, vec![(url::Host::Domain("files.example.com".into()), Some(443))]);
        let c = config(&[("ALLOWED_PORTS", "443"), ("PRIVATE_FETCH_ALLOWLIST", "127.0.0.1:8788")]).unwrap();
        assert_eq!(c.url_policy.allowed_ports, vec![443]);
        assert_eq!(c.url_policy.private_allowlist.len(), 1);
        assert_eq!(config(&[("PUBLIC_BASE_URL", "")]).unwrap().public_base_url, None);
        let base = config(&[("PUBLIC_BASE_URL", " http://127.0.0.1:8443 ")]).unwrap().public_base_url;
        assert_eq!(base.unwrap().as_str(), "http://127.0.0.1:8443/");
        assert_eq!(config(&[("FILE_TTL_SECONDS", "31536000")]).unwrap().ttl_secs, MAX_TTL_SECS);
        let most = config(&[("DEFAULT_MAX_BYTES", "9007199254740991"), ("DEFAULT_MAX_FILES", "9007199254740991")]).unwrap();
        assert_eq!(most.default_limits, Limits { max_bytes: MAX_QUOTA, max_files: MAX_QUOTA });
        assert_eq!(config(&[("MAX_FILE_BYTES", "5363466240")]).unwrap().max_file_bytes, MAX_PUT_BYTES);

        for bad in [
            ("FILE_TTL_SECONDS", "0"),
            ("FILE_TTL_SECONDS", "31536001"),
            ("DEFAULT_MAX_BYTES", "9007199254740992"),
            ("DEFAULT_MAX_FILES", "18446744073709551615"),
            ("PUBLIC_BASE_URL", "https://files.example.com/sub/"),
            ("PUBLIC_BASE_URL", "https://files.example.com/?a=1"),
            ("PUBLIC_BASE_URL", "https://user:pw@files.example.com"),
            ("MAX_FILE_BYTES", "-1"),
            ("MAX_FILE_BYTES", "5363466241"),
            ("FETCH_TIMEOUT_MS", "soon"),
            ("FETCH_TIMEOUT_MS", "600001"),
            ("DEFAULT_MAX_FILES", "many"),
            ("ALLOWED_MIME_TYPES", "images"),
            ("PUBLIC_BASE_URL", "ftp://x"),
            ("PUBLIC_BASE_URL", "not a url"),
            ("ALLOWED_PORTS", "80,http"),
            ("PRIVATE_FETCH_ALLOWLIST", "http://127.0.0.1/"),
            ("DEFAULT_RATE_LIMIT", "50"),
            ("DEFAULT_RATE_LIMIT", "-5"),
            ("ONE_STREAM_MIB_S", "fast"),
            ("ONE_STREAM_MIB_S", "1000001"),
            ("ALLOWED_PORTS", "0"),
            ("PRIVATE_FETCH_ALLOWLIST", "*"),
            ("PRIVATE_FETCH_ALLOWLIST", "*.internal"),
        ] {
            let err = config(&[bad]).unwrap_err();
            assert_eq!(err.status(), 500, "{bad:?}");
            assert_eq!(err.public_message(), "internal error");
        }
    }

    #[test]
    fn refusals_tell_the_operator_what_to_write_and_never_log_a_password() {
        let detail = |pairs: &[(&str, &str)]| match config(pairs) {
            Err(Error::Internal(detail)) => detail,
            other => panic!("{pairs:?}: {other:?}"),
        };
        assert_eq!(detail(&[("DEFAULT_RATE_LIMIT", "-5")]), "config: DEFAULT_RATE_LIMIT=\"-5\" is not 0, 10, 100 or 1000");
        let credentials = detail(&[("PUBLIC_BASE_URL", "https://user:hunter2@files.example.com")]);
        assert_eq!(credentials, "config: PUBLIC_BASE_URL must not hold credentials (user:password@)");
        assert!(detail(&[("PUBLIC_BASE_URL", "files.example.com")]).ends_with("(write it whole, with its scheme: https://files.example.com)"));
        assert!(detail(&[("ALLOWED_PORTS", "443,0")]).contains("port \"0\" (1 to 65535)"));
        assert!(detail(&[("PRIVATE_FETCH_ALLOWLIST", "*")]).contains("no wildcards, name each host"));
        assert_eq!(config(&[("DEFAULT_RATE_LIMIT", " ")]).unwrap().default_rate_limit, 0, "empty is the default");
        // every problem at once: one redeploy fixes them all
        assert_eq!(
            detail(&[("FILE_TTL_SECONDS", "0"), ("MAX_FILE_BYTES", "0"), ("ALLOWED_MIME_TYPES", "")]),
            "config: FILE_TTL_SECONDS=\"0\" is not a number from 1 to 31536000; MAX_FILE_BYTES=\"0\" is not a number from 1 to 5363466240; \
             ALLOWED_MIME_TYPES=\"\" is not `*` or a comma list of `type/subtype` and `type/*` (empty allows nothing)"
        );
    }

    #[test]
    fn every_variable_it_reads_is_in_the_list_the_unread_names_are_told_against() {
        let asked = RefCell::new(Vec::new());
        Config::from_vars(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })
        .unwrap();
        let mut asked = asked.into_inner();
        asked.sort();
        asked.dedup();
        let mut all = vars::ALL.map(str::to_owned).to_vec();
        all.sort();
        assert_eq!(asked, all);
    }

    #[test]
    fn names_it_does_not_read_are_told_with_the_one_meant() {
        let read: Vec<&str> = vars::ALL.iter().copied().chain(["FILES", "API_KEYS", "ADMIN_TOKEN", "LINK_SECRET"]).collect();
        let unread = |names: &[&str]| unread_names(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>(), &read);
        assert_eq!(unread(&["FILES", "MAX_FILE_BYTES", "ADMIN_TOKEN"]), None);
        for (slip, meant) in [
            ("MAX_FILE_SIZE", "MAX_FILE_BYTES"),
            ("FILE_TTL_SECOND", "FILE_TTL_SECONDS"),
            ("TTL_SECONDS", "FILE_TTL_SECONDS"),
            ("file_ttl_seconds", "FILE_TTL_SECONDS"),
            ("ALLOWED_MIME_TYPE", "ALLOWED_MIME_TYPES"),
            ("PUBLIC_BASE", "PUBLIC_BASE_URL"),
            ("DEFAULT_MAX_FILE", "DEFAULT_MAX_FILES"),
            ("FETCH_TIMEOUT", "FETCH_TIMEOUT_MS"),
            ("ASYNC_TIMEOUT_SECS", "ASYNC_TIMEOUT_SECONDS"),
            ("LINKS_SECRET", "LINK_SECRET"),
        ] {
            let told = format!("config: not read by this Worker, so ignored: {slip} (did you mean {meant}?)");
            assert_eq!(unread(&[slip]).as_deref(), Some(told.as_str()), "{slip}");
        }
        // a name like none of them is told without a guess, and every one at once
        assert_eq!(
            unread(&["SENTRY_DSN", "MAX_FILE_SIZE", "ANALYTICS"]).as_deref(),
            Some("config: not read by this Worker, so ignored: SENTRY_DSN, MAX_FILE_SIZE (did you mean MAX_FILE_BYTES?), ANALYTICS")
        );
    }
}
