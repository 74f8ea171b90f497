//! A chain of redirects from a first URL, every hop checked by the URL policy and at most
//! [`MAX_REDIRECTS`] of them: an upload's first request walks one, and so does a ranged
//! file's refetch when the URL its redirects led to stops serving it (a signed URL that
//! expired), and a job's webhook delivery (only the redirects that keep its POST).

use url::Url;

use super::error::Error;
use super::url_policy::{self, UrlPolicy, MAX_REDIRECTS};

/// The redirects a GET follows.
pub const GET_REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// Where a chain of redirects has got to.
pub struct Redirects<'a> {
    url: Url,
    hops: u8,
    policy: &'a UrlPolicy,
    followed: &'static [u16],
}

impl<'a> Redirects<'a> {
    /// A GET's chain: every redirect status is followed.
    pub fn from(first: Url, policy: &'a UrlPolicy) -> Self {
        Redirects { url: first, hops: 0, policy, followed: &GET_REDIRECTS }
    }

    /// A POST's chain: only the redirects that keep its method and body (307, 308) are
    /// followed; a 301, 302 or 303 would be followed as a GET.
    pub fn keeping_method(first: Url, policy: &'a UrlPolicy) -> Self {
        Redirects { followed: &[307, 308], ..Redirects::from(first, policy) }
    }

    /// The URL to ask now, once the policy allows it: a hop it refuses is
    /// [`Error::RedirectRejected`] (the first URL's refusal is its own, [`Error::UrlRejected`]).
    pub fn next(&self) -> Result<&Url, Error> {
        url_policy::check(&self.url, self.policy).map_err(|err| match err {
            Error::UrlRejected(rule) if self.hops > 0 => Error::RedirectRejected(rule),
            other => other,
        })?;
        Ok(&self.url)
    }

    /// Moves on to the `location` of an answer with `status`, when it is a redirect this
    /// chain follows (then `true`); `false`: the answer is not one (a 3xx without a
    /// `Location` neither).
    pub fn follow(&mut self, status: u16, location: Option<&str>) -> Result<bool, Error> {
        let Some(location) = location.filter(|_| self.followed.contains(&status)) else { return Ok(false) };
        if self.hops == MAX_REDIRECTS {
            return Err(Error::TooManyRedirects(MAX_REDIRECTS));
        }
        self.hops += 1;
        self.url = self.url.join(location).map_err(|_| Error::RedirectRejected("not a valid URL".into()))?;
        Ok(true)
    }

    /// The URL the chain ended at.
    pub fn into_url(self) -> Url {
        self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> UrlPolicy {
        UrlPolicy::default()
    }

    #[test]
    fn follows_redirects_and_stops_at_an_answer() {
        let policy = policy();
        let mut chain = Redirects::from(Url::parse("https://a.example/dl").unwrap(), &policy);
        assert!(chain.follow(302, Some("/signed?sig=1")).unwrap());
        assert_eq!(chain.next().unwrap().as_str(), "https://a.example/signed?sig=1");
        assert!(chain.follow(307, Some("https://b.example/x")).unwrap());
        assert!(!chain.follow(200, Some("https://c.example/")).unwrap());
        assert!(!chain.follow(302, None).unwrap());
        assert!(!chain.follow(304, Some("https://c.example/")).unwrap());
        assert_eq!(chain.into_url().as_str(), "https://b.example/x");
    }

    #[test]
    fn a_posts_chain_follows_only_the_redirects_that_keep_its_method() {
        let policy = policy();
        let mut chain = Redirects::keeping_method(Url::parse("https://a.example/hook").unwrap(), &policy);
        for status in [301, 302, 303] {
            assert!(!chain.follow(status, Some("https://b.example/")).unwrap(), "{status}");
        }
        assert!(chain.follow(307, Some("/moved")).unwrap());
        assert!(chain.follow(308, Some("https://c.example/hook")).unwrap());
        assert_eq!(chain.next().unwrap().as_str(), "https://c.example/hook");
    }

    #[test]
    fn gives_up_after_the_last_hop() {
        let policy = policy();
        let mut chain = Redirects::from(Url::parse("https://a.example/").unwrap(), &policy);
        for n in 0..MAX_REDIRECTS {
            assert!(chain.follow(301, Some(&format!("/{n}"))).unwrap());
        }
        assert_eq!(chain.follow(301, Some("/again")), Err(Error::TooManyRedirects(MAX_REDIRECTS)));
    }

    #[test]
    fn a_refused_hop_is_the_redirects_refusal() {
        let policy = policy();
        let first = Redirects::from(Url::parse("http://127.0.0.1/").unwrap(), &policy);
        assert!(matches!(first.next(), Err(Error::UrlRejected(_))));
        let mut chain = Redirects::from(Url::parse("https://a.example/").unwrap(), &policy);
        assert!(chain.follow(302, Some("http://10.0.0.1/")).unwrap());
        assert!(matches!(chain.next(), Err(Error::RedirectRejected(_))));
        let mut bad = Redirects::from(Url::parse("https://a.example/").unwrap(), &policy);
        assert!(matches!(bad.follow(302, Some("http://[::1")), Err(Error::RedirectRejected(_))));
    }
}
