//! The pure core: everything the service decides, with no platform imports, so plain
//! `cargo test` on the host covers it.

pub mod addr;
pub mod admin;
pub mod authority;
pub mod authority_wire;
pub mod batch;
pub mod blocklist;
pub mod clock;
pub mod coding;
pub mod config;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod flow;
pub mod gate;
pub mod idempotency;
pub mod ids;
pub mod jobs;
pub(crate) mod json;
pub mod keys;
pub mod layout;
pub mod links;
pub mod listing;
pub mod mac;
pub mod mime;
pub mod names;
pub mod origin_headers;
pub mod openapi;
pub mod path;
pub(crate) mod pictographs;
pub mod query;
pub mod quota;
pub mod ranges;
pub mod rate_limit;
pub mod redirects;
pub mod request;
pub mod route;
pub mod seams;
pub mod serve;
pub mod takedown;
pub mod ttl_cache;
pub mod url_policy;
pub mod url_syntax;

pub use error::Error;
