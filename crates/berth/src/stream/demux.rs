//! The multiplexed stdout/stderr framing used for attach, logs and exec without
//! a TTY: `[stream, 0, 0, 0, len: u32 big-endian]` then `len` payload bytes.

use std::io::{self, Write};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Which stream a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdin,
    Stdout,
    Stderr,
    SystemErr,
}

/// Decodes an 8-byte frame header into its stream and payload length.
pub fn parse_header(h: &[u8; 8]) -> io::Result<(StreamKind, usize)> {
    let kind = match h[0] {
        0 => StreamKind::Stdin,
        1 => StreamKind::Stdout,
        2 => StreamKind::Stderr,
        3 => StreamKind::SystemErr,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("Unrecognized input header: {other}"),
            ))
        }
    };
    let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
    Ok((kind, len))
}

/// Encodes a frame (for tests).
#[cfg(test)]
pub fn encode_frame(kind: StreamKind, payload: &[u8]) -> Vec<u8> {
    let code = match kind {
        StreamKind::Stdin => 0,
        StreamKind::Stdout => 1,
        StreamKind::Stderr => 2,
        StreamKind::SystemErr => 3,
    };
    let mut out = vec![code, 0, 0, 0];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
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
        let (kind, len) = parse_header(&header)?;
        if payload.len() < len {
            payload.resize(len, 0);
        }
        let got = read_full(&mut reader, &mut payload[..len]).await?;
        let data = &payload[..got];
        match kind {
            StreamKind::Stdin | StreamKind::Stdout => {
                stdout.write_all(data)?;
                stdout.flush()?;
            }
            StreamKind::Stderr => {
                stderr.write_all(data)?;
                stderr.flush()?;
            }
            StreamKind::SystemErr => {
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
            (StreamKind::Stdout, 3)
        );
        assert_eq!(
            parse_header(&[2, 0, 0, 0, 0, 0, 1, 0]).unwrap(),
            (StreamKind::Stderr, 256)
        );
        assert!(parse_header(&[9, 0, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[tokio::test]
    async fn demuxes_frames_split_across_reads() {
        let mut data =
            b"\x02\x00\x00\x00\x00\x00\x00\x04err\n\x01\x00\x00\x00\x00\x00\x00\x04out\n".to_vec();
        data.extend(encode_frame(StreamKind::Stdout, b"line1\nline2\n"));
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
        let data = encode_frame(StreamKind::SystemErr, b"boom");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = demux_copy(&data[..], &mut out, &mut err).await.unwrap_err();
        assert_eq!(e.to_string(), "error from daemon in stream: boom");
    }
}
