//! The pure core: everything the service decides, with no platform imports, so plain
//! `cargo test` on the host covers it.

pub mod addr;
pub mod admin;
pub mod batch;
pub mod clock;
pub mod config;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod flow;
pub mod ids;
pub(crate) mod json;
pub mod key_cache;
pub mod keys;
pub mod layout;
pub mod ledger;
pub mod ledger_wire;
pub mod listing;
pub mod mime;
pub mod names;
pub mod openapi;
pub mod path;
pub mod request;
pub mod route;
pub mod serve;
pub mod store;
pub mod url_policy;
pub mod url_syntax;

pub use error::Error;
