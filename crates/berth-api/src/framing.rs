//! Stream framings: docker's 8-byte multiplexing header for attach, exec and
//! logs without a TTY, and newline-delimited JSON messages.

use bytes::{BufMut, Bytes, BytesMut};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const SYSTEM_ERR: u8 = 3;

/// `[stream, 0, 0, 0, len (u32 BE)] payload`.
pub fn mux(stream: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + payload.len());
    b.put_u8(stream);
    b.put_bytes(0, 3);
    b.put_u32(payload.len() as u32);
    b.put_slice(payload);
    b.freeze()
}

/// Frames output for a client: raw with a TTY, multiplexed without.
pub fn frame_output(tty: bool, stream: u8, payload: &[u8]) -> Bytes {
    if tty {
        Bytes::copy_from_slice(payload)
    } else {
        mux(stream, payload)
    }
}

/// One NDJSON line.
pub fn json_line(value: &impl serde::Serialize) -> Bytes {
    let mut v = serde_json::to_vec(value).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// The in-stream error message docker clients print (status stays 200).
pub fn json_error(message: &str) -> Bytes {
    json_line(&serde_json::json!({
        "errorDetail": { "message": message },
        "error": message,
    }))
}

/// Content type of a hijacked or log stream for this API version.
pub fn stream_content_type(version: crate::ApiVersion, tty: bool) -> &'static str {
    if version.at_least(1, 42) && !tty {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mux_header_matches_docker() {
        assert_eq!(
            &mux(STDOUT, b"hi\n")[..],
            b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
        );
        assert_eq!(&mux(STDERR, b"")[..], b"\x02\x00\x00\x00\x00\x00\x00\x00");
        assert_eq!(&frame_output(true, STDERR, b"x")[..], b"x");
        assert_eq!(&json_line(&serde_json::json!({"a":1}))[..], b"{\"a\":1}\n");
    }
}
