//! Byte streams between the daemon and the terminal: JSON progress messages,
//! stdin forwarding and the local terminal (the framing is berth-api's).

pub mod jsonmessage;
pub mod stdin;
pub mod terminal;
