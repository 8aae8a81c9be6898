//! Registries (the OCI distribution protocol): a registry server.
pub mod server;
