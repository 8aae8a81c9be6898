//! Byte streams between the daemon and the terminal: the 8-byte multiplexed
//! framing, JSON progress messages, stdin forwarding and the local terminal.

pub mod demux;
pub mod jsonmessage;
pub mod stdin;
pub mod terminal;
