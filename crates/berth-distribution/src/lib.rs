//! Talking to image registries (the OCI distribution protocol), and being one.
//!
//! The client side is split into pure pieces so each can be tested without
//! a network: `registry` (where a reference lives and how to reach it),
//! `manifest` (what a registry returns and which platform to take),
//! `auth` (challenges, tokens, stored credentials); `client` puts them
//! together over HTTP. `server` is a registry (the `berth-registry` binary).

pub mod auth;
pub mod client;
pub mod error;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod registry;
pub mod server;

pub use error::{Error, Result};
