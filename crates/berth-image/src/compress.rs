//! Compression detection by magic bytes, as dockerd sniffs them: gzip,
//! zstd and bzip2 are decoded; xz is recognised and refused by name (no
//! cheap pure-Rust decoder), so the error says why instead of blaming a
//! corrupt tar.

use std::io::{self, BufReader, Read};

/// The compression of a stream, detected from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if head.starts_with(BZIP2_MAGIC) {
            Compression::Bzip2
        } else if head.starts_with(XZ_MAGIC) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for. Reads are
/// streamed; nothing is buffered beyond the decoders' windows.
pub fn decompress<'a, R: Read + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 6];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = Compression::detect(&head[..n]);
    let source =
        BufReader::with_capacity(64 * 1024, io::Cursor::new(head[..n].to_vec()).chain(reader));
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(source)?),
        Compression::None => Box::new(source),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(source)),
        Compression::Xz => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "xz-compressed archives are not supported; send a plain, gzip, bzip2 or zstd tar",
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(r: impl Read) -> Vec<u8> {
        let mut out = Vec::new();
        decompress(r).unwrap().read_to_end(&mut out).unwrap();
        out
    }

    /// Returns one byte per read call, to exercise short first reads.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn detects_and_decodes() {
        let data = b"hello layer data".repeat(100);
        assert_eq!(read_all(&data[..]), data);
        assert_eq!(read_all(&gz(&data)[..]), data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(read_all(&z[..]), data);
        assert_eq!(read_all(Trickle(&gz(&data))), data);
        assert_eq!(read_all(Trickle(&z)), data);
        assert_eq!(read_all(Trickle(&data)), data);
        assert_eq!(read_all(&b""[..]), b"");
        assert_eq!(read_all(&b"ab"[..]), b"ab");
    }

    #[test]
    fn bzip2_is_decoded_and_xz_named() {
        let data = b"hello layer data".repeat(100);
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(&data).unwrap();
        let bz = e.finish().unwrap();
        assert_eq!(read_all(&bz[..]), data);
        assert_eq!(read_all(Trickle(&bz)), data);
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4];
        let e = decompress(&xz[..]).err().expect("refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().starts_with("xz-compressed"), "{e}");
        assert_eq!(read_all(&b"BZ"[..]), b"BZ");
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut bad = gz(b"some data here");
        let n = bad.len();
        bad[n / 2] ^= 0xff;
        let mut out = Vec::new();
        assert!(decompress(&bad[..]).unwrap().read_to_end(&mut out).is_err());
    }
}
