//! Stream framings: docker's 8-byte multiplexing header for attach, exec and
//! logs without a TTY (written by the daemon, read by the client), and
//! newline-delimited JSON messages.

use std::io::{self, Write};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

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

/// Decodes an 8-byte frame header into its stream and payload length.
pub fn parse_header(h: &[u8; 8]) -> io::Result<(u8, usize)> {
    if h[0] > SYSTEM_ERR {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("Unrecognized input header: {}", h[0]),
        ));
    }
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    Ok((h[0], len))
}

/// Copies a multiplexed stream to `stdout`/`stderr` until EOF, like docker's
/// `stdcopy.StdCopy`. A system-error frame ends the copy with its text.
pub async fn demux_copy<R, O, E>(mut reader: R, stdout: &mut O, stderr: &mut E) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    O: Write + ?Sized,
    E: Write + ?Sized,
{
    let mut header = [0u8; 8];
    let mut payload = vec![0u8; 32 * 1024];
    loop {
        if read_full(&mut reader, &mut header).await? < header.len() {
            return Ok(());
        }
        let (stream, len) = parse_header(&header)?;
        if payload.len() < len {
            payload.resize(len, 0);
        }
        let got = read_full(&mut reader, &mut payload[..len]).await?;
        let data = &payload[..got];
        match stream {
            STDIN | STDOUT => {
                stdout.write_all(data)?;
                stdout.flush()?;
            }
            STDERR => {
                stderr.write_all(data)?;
                stderr.flush()?;
            }
            _ => {
                return Err(io::Error::other(format!(
                    "error from daemon in stream: {}",
                    String::from_utf8_lossy(data)
                )));
            }
        }
        if got < len {
            return Ok(());
        }
    }
}

/// Fills `buf` as far as the stream goes; returns how many bytes were read
/// (less than `buf.len()` only at EOF).
async fn read_full<R: AsyncRead + Unpin>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Copies a raw (TTY) stream to `out` until EOF.
pub async fn raw_copy<R, O>(mut reader: R, out: &mut O) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    O: Write + ?Sized,
{
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per read.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let n = self
                .chunk
                .min(self.data.len() - self.pos)
                .min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.data[start..start + n]);
            self.pos += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            parse_header(&[1, 0, 0, 0, 0, 0, 0, 3]).unwrap(),
            (STDOUT, 3)
        );
        assert_eq!(
            parse_header(&[2, 0, 0, 0, 0, 0, 1, 0]).unwrap(),
            (STDERR, 256)
        );
        assert!(parse_header(&[9, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[tokio::test]
    async fn demuxes_frames_split_across_reads() {
        let mut data =
            b"\x02\x00\x00\x00\x00\x00\x00\x04err\n\x01\x00\x00\x00\x00\x00\x00\x04out\n".to_vec();
        data.extend_from_slice(&mux(STDOUT, b"line1\nline2\n"));
        for chunk in [1, 3, 7, 1000] {
            let reader = Trickle {
                data: data.clone(),
                pos: 0,
                chunk,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            demux_copy(reader, &mut out, &mut err).await.unwrap();
            assert_eq!(out, b"out\nline1\nline2\n");
            assert_eq!(err, b"err\n");
        }
    }

    #[tokio::test]
    async fn truncated_frame_keeps_partial_payload() {
        let data = b"\x01\x00\x00\x00\x00\x00\x00\x10abc".to_vec();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux_copy(&data[..], &mut out, &mut err).await.unwrap();
        assert_eq!(out, b"abc");
    }

    #[tokio::test]
    async fn system_error_frame_is_an_error() {
        let data = mux(SYSTEM_ERR, b"boom");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = demux_copy(&data[..], &mut out, &mut err).await.unwrap_err();
        assert_eq!(e.to_string(), "error from daemon in stream: boom");
    }

    #[tokio::test]
    async fn raw_copy_passes_bytes_through() {
        let mut out = Vec::new();
        raw_copy(&b"\x01raw"[..], &mut out).await.unwrap();
        assert_eq!(out, b"\x01raw");
    }

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
