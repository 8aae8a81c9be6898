//! Pure output and input formatting helpers that mirror the docker CLI's:
//! tables, sizes, durations, timestamps, JSON indentation and inspect templates.

pub mod json_indent;
pub mod json_value;
pub mod listing;
pub mod tabwriter;
pub mod template;
pub mod text;
pub mod timestamp;
pub mod units;
