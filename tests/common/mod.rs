//! Test support for the host tests: the in-memory doubles of the seams, side by side, and
//! one key's world for the upload flow.

#![allow(dead_code, unused_imports)]

pub mod authority;
pub mod blocklist;
pub mod interleave;
pub mod origin;
pub mod store;
pub mod tables;
pub mod world;
pub mod yielding;

pub use authority::{Call, Fault, MemAuthority};
pub use blocklist::MemBlocklist;
pub use origin::{MemBody, MemOrigin, Reply};
pub use store::{hex, MemStore, PutRecord, Stored};
pub use tables::MemTables;
pub use world::{World, NOW};
pub use yielding::{step, yield_now};
