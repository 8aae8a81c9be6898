//! A streaming tar reader for untrusted input.
//!
//! Understands ustar, GNU (long names `L`/`K`, base-256 numbers) and PAX
//! (`x` records: path, linkpath, size, uid, gid, mtime, `SCHILY.xattr.*`).
//! Extended headers are bounded ([`MAX_META`]) so a hostile archive cannot
//! make us buffer more than that per entry; file data is never buffered.
//! Sparse files are rejected.

use std::io::{self, Read};

/// Largest PAX record set or GNU long name we accept (as Go's archive/tar).
pub const MAX_META: u64 = 1 << 20;
const BLOCK: u64 = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Hardlink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
    Other(u8),
}

impl EntryKind {
    /// Types whose header `size` does not describe data in the archive.
    fn header_only(self) -> bool {
        !matches!(self, EntryKind::File | EntryKind::Other(_))
    }
}

/// One archive member, with extended headers already applied.
#[derive(Debug, Clone)]
pub struct TarHeader {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits (incl. setuid/setgid/sticky), no file type bits.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Bytes of data that follow the header.
    pub size: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Read(#[from] io::Error),
}

fn malformed(msg: impl Into<String>) -> TarError {
    TarError::Malformed(msg.into())
}

/// PAX records: (key, value).
type PaxRecords = Vec<(Vec<u8>, Vec<u8>)>;

pub struct TarReader<R> {
    inner: R,
    /// Unread data bytes of the current entry.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    /// Gives back the underlying reader (e.g. to drain what follows the
    /// end-of-archive marker).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next member, skipping whatever is left of the current one's data.
    pub fn next_entry(&mut self) -> Result<Option<TarHeader>, TarError> {
        if self.done {
            return Ok(None);
        }
        self.skip(self.remaining + self.padding)?;
        self.remaining = 0;
        self.padding = 0;

        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<PaxRecords> = None;
        loop {
            let mut block = [0u8; BLOCK as usize];
            let pending = long_name.is_some() || long_link.is_some() || pax.is_some();
            if !self.read_block(&mut block)? || block.iter().all(|&b| b == 0) {
                self.done = true;
                if pending {
                    return Err(malformed("archive ends after an extended header"));
                }
                return Ok(None);
            }
            verify_checksum(&block)?;
            let typeflag = block[156];
            let size = parse_numeric(&block[124..136])?;
            let size = u64::try_from(size).map_err(|_| malformed("negative entry size"))?;
            match typeflag {
                b'L' | b'K' | b'x' | b'X' | b'g' => {
                    let data = self.read_meta(size)?;
                    match typeflag {
                        b'L' => set_once(&mut long_name, trim_nul(data), "GNU long name")?,
                        b'K' => set_once(&mut long_link, trim_nul(data), "GNU long link")?,
                        b'g' => {} // global PAX defaults: not used by image layers
                        _ => set_once(&mut pax, parse_pax(&data)?, "PAX header")?,
                    }
                    continue;
                }
                b'S' => return Err(malformed("GNU sparse files are not supported")),
                _ => {}
            }
            let hdr = self.member(&block, size, long_name, long_link, pax)?;
            return Ok(Some(hdr));
        }
    }

    fn member(
        &mut self,
        block: &[u8; 512],
        size: u64,
        long_name: Option<Vec<u8>>,
        long_link: Option<Vec<u8>>,
        pax: Option<PaxRecords>,
    ) -> Result<TarHeader, TarError> {
        let posix = &block[257..263] == b"ustar\0";
        let mut path = cstr(&block[0..100]).to_vec();
        if posix {
            let prefix = cstr(&block[345..500]);
            if !prefix.is_empty() {
                let mut p = prefix.to_vec();
                p.push(b'/');
                p.extend_from_slice(&path);
                path = p;
            }
        }
        if let Some(n) = long_name {
            path = n;
        }
        let mut link = long_link.unwrap_or_else(|| cstr(&block[157..257]).to_vec());
        let mut kind = match block[156] {
            b'0' | b'\0' | b'7' => EntryKind::File,
            b'1' => EntryKind::Hardlink,
            b'2' => EntryKind::Symlink,
            b'3' => EntryKind::Char,
            b'4' => EntryKind::Block,
            b'5' => EntryKind::Dir,
            b'6' => EntryKind::Fifo,
            other => EntryKind::Other(other),
        };
        if kind == EntryKind::File && block[156] == b'\0' && path.ends_with(b"/") {
            kind = EntryKind::Dir; // pre-POSIX directories
        }
        let mode = parse_numeric(&block[100..108])?;
        let mut hdr = TarHeader {
            path,
            link: Vec::new(),
            kind,
            mode: (mode & 0o7777) as u32,
            uid: non_negative(parse_numeric(&block[108..116])?, "uid")?,
            gid: non_negative(parse_numeric(&block[116..124])?, "gid")?,
            mtime: parse_numeric(&block[136..148])?,
            mtime_nsec: 0,
            size,
            xattrs: Vec::new(),
        };
        for (key, value) in pax.unwrap_or_default() {
            match key.as_slice() {
                b"path" => hdr.path = value,
                b"linkpath" => link = value,
                b"size" => hdr.size = pax_u64(&value, "size")?,
                b"uid" => hdr.uid = pax_u64(&value, "uid")?,
                b"gid" => hdr.gid = pax_u64(&value, "gid")?,
                b"mtime" => (hdr.mtime, hdr.mtime_nsec) = pax_time(&value)?,
                k if k.starts_with(b"GNU.sparse.") => {
                    return Err(malformed("PAX sparse files are not supported"))
                }
                k => {
                    if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                        hdr.xattrs.push((name.to_vec(), value));
                    }
                }
            }
        }
        hdr.link = link;
        if kind.header_only() {
            hdr.size = 0;
        }
        self.remaining = hdr.size;
        self.padding = (BLOCK - hdr.size % BLOCK) % BLOCK;
        Ok(hdr)
    }

    /// Reads the current member's data (up to its size).
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive truncated inside an entry",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// A `Read` over the current member's data.
    pub fn data(&mut self) -> EntryData<'_, R> {
        EntryData(self)
    }

    fn read_meta(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        if size > MAX_META {
            return Err(malformed(format!(
                "extended header of {size} bytes exceeds the limit of {MAX_META}"
            )));
        }
        let mut data = vec![0u8; size as usize];
        self.inner.read_exact(&mut data)?;
        self.skip((BLOCK - size % BLOCK) % BLOCK)?;
        Ok(data)
    }

    /// Reads one block; `false` at a clean end of input.
    fn read_block(&mut self, block: &mut [u8; 512]) -> Result<bool, TarError> {
        let mut n = 0;
        while n < block.len() {
            match self.inner.read(&mut block[n..]) {
                Ok(0) if n == 0 => return Ok(false),
                Ok(0) => return Err(malformed("archive truncated inside a header")),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        if n == 0 {
            return Ok(());
        }
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if copied != n {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "archive truncated").into());
        }
        Ok(())
    }
}

pub struct EntryData<'a, R>(&'a mut TarReader<R>);

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, what: &str) -> Result<(), TarError> {
    if slot.is_some() {
        return Err(malformed(format!("two {what}s for one entry")));
    }
    *slot = Some(value);
    Ok(())
}

fn cstr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(i) => &field[..i],
        None => field,
    }
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(i) = v.iter().position(|&b| b == 0) {
        v.truncate(i);
    }
    v
}

fn non_negative(v: i64, what: &str) -> Result<u64, TarError> {
    u64::try_from(v).map_err(|_| malformed(format!("negative {what}")))
}

fn verify_checksum(block: &[u8; 512]) -> Result<(), TarError> {
    let stored = parse_numeric(&block[148..156])?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    if stored != unsigned && stored != signed {
        return Err(malformed("archive header checksum mismatch"));
    }
    Ok(())
}

/// Octal (space/NUL padded) or GNU base-256 numbers.
fn parse_numeric(field: &[u8]) -> Result<i64, TarError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let inv: u8 = if field[0] & 0x40 != 0 { 0xff } else { 0 };
        let mut x: u64 = 0;
        for (i, &c) in field.iter().enumerate() {
            let mut c = c ^ inv;
            if i == 0 {
                c &= 0x7f;
            }
            if x >> 56 != 0 {
                return Err(malformed("numeric header field overflows"));
            }
            x = (x << 8) | u64::from(c);
        }
        if x >> 63 != 0 {
            return Err(malformed("numeric header field overflows"));
        }
        let x = x as i64;
        return Ok(if inv == 0xff { !x } else { x });
    }
    let trimmed: &[u8] = {
        let s = field
            .iter()
            .position(|&b| b != b' ' && b != 0)
            .unwrap_or(field.len());
        let e = field[s..]
            .iter()
            .position(|&b| b == b' ' || b == 0)
            .map_or(field.len(), |p| s + p);
        &field[s..e]
    };
    let mut v: i64 = 0;
    for &b in trimmed {
        if !(b'0'..=b'7').contains(&b) {
            return Err(malformed("invalid number in archive header"));
        }
        v = v
            .checked_mul(8)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| malformed("numeric header field overflows"))?;
    }
    Ok(v)
}

/// Parses PAX records: `<len> <key>=<value>\n`.
fn parse_pax(mut data: &[u8]) -> Result<PaxRecords, TarError> {
    let bad = || malformed("malformed PAX header");
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break; // trailing NUL padding written by some tools
        }
        let sp = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[sp + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        if key.is_empty() {
            return Err(bad());
        }
        // A later record for the same key wins.
        out.retain(|(k, _): &(Vec<u8>, Vec<u8>)| k.as_slice() != key);
        out.push((key.to_vec(), value.to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

fn pax_u64(v: &[u8], what: &str) -> Result<u64, TarError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(format!("invalid PAX {what}")))
}

/// `secs[.fraction]`, possibly negative.
fn pax_time(v: &[u8]) -> Result<(i64, u32), TarError> {
    let bad = || malformed("invalid PAX mtime");
    let s = std::str::from_utf8(v).map_err(|_| bad())?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().map_err(|_| bad())?;
    if s.starts_with('-') && nsec > 0 {
        // -1.5 means 1.5s before the epoch: -2s + 0.5s.
        return Ok((secs - 1, 1_000_000_000 - nsec));
    }
    Ok((secs, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o4755);
        h.set_uid(1000);
        h.set_gid(1001);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        h
    }

    fn pax_record(key: &str, value: &str) -> Vec<u8> {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}").into_bytes()
    }

    #[test]
    fn reads_plain_entries_and_data() {
        let mut b = tar::Builder::new(Vec::new());
        b.append(&header("dir/", tar::EntryType::Directory, 0), &b""[..])
            .unwrap();
        b.append(
            &header("dir/file", tar::EntryType::Regular, 5),
            &b"hello"[..],
        )
        .unwrap();
        let long = format!("{}/f", "d".repeat(200));
        let mut h = header("x", tar::EntryType::Regular, 3);
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let data = b.into_inner().unwrap();

        let mut r = TarReader::new(&data[..]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_slice(), e.kind), (&b"dir/"[..], EntryKind::Dir));
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.path, b"dir/file");
        assert_eq!(
            (e.mode, e.uid, e.gid, e.mtime),
            (0o4755, 1000, 1001, 1_700_000_000)
        );
        let mut s = String::new();
        r.data().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.path, long.as_bytes());
        // data left unread is skipped
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.next_entry().unwrap().is_none());
    }

    #[test]
    fn pax_overrides_and_xattrs() {
        let mut b = tar::Builder::new(Vec::new());
        let mut pax = Vec::new();
        pax.extend(pax_record("path", "pax/name"));
        pax.extend(pax_record("uid", "4000000"));
        pax.extend(pax_record("mtime", "1700000000.25"));
        pax.extend(pax_record("SCHILY.xattr.user.k", "v"));
        b.append(
            &header("paxhdr", tar::EntryType::XHeader, pax.len() as u64),
            &pax[..],
        )
        .unwrap();
        b.append(&header("short", tar::EntryType::Regular, 0), &b""[..])
            .unwrap();
        let data = b.into_inner().unwrap();
        let mut r = TarReader::new(&data[..]);
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.path, b"pax/name");
        assert_eq!(e.uid, 4_000_000);
        assert_eq!((e.mtime, e.mtime_nsec), (1_700_000_000, 250_000_000));
        assert_eq!(e.xattrs, vec![(b"user.k".to_vec(), b"v".to_vec())]);
    }

    #[test]
    fn huge_extended_headers_are_rejected_without_buffering() {
        let mut h = header("././@LongLink", tar::EntryType::GNULongName, 1 << 40);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend(vec![b'a'; 4096]);
        let err = TarReader::new(&data[..]).next_entry().unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[test]
    fn bad_checksum_and_truncation() {
        let mut b = tar::Builder::new(Vec::new());
        b.append(&header("f", tar::EntryType::Regular, 600), &[7u8; 600][..])
            .unwrap();
        let data = b.into_inner().unwrap();
        let mut bad = data.clone();
        bad[0] = b'g';
        assert!(matches!(
            TarReader::new(&bad[..]).next_entry(),
            Err(TarError::Malformed(_))
        ));
        let truncated = &data[..700];
        let mut r = TarReader::new(truncated);
        r.next_entry().unwrap().unwrap();
        let mut sink = Vec::new();
        assert!(r.data().read_to_end(&mut sink).is_err());
        let mut r = TarReader::new(&data[..300]);
        assert!(r.next_entry().is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_numeric(b"0000644\0").unwrap(), 0o644);
        assert_eq!(parse_numeric(b"  755 \0").unwrap(), 0o755);
        assert_eq!(parse_numeric(b"\0\0\0\0").unwrap(), 0);
        assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256);
        assert_eq!(parse_numeric(&[0xff; 8]).unwrap(), -1);
        assert!(parse_numeric(b"9").is_err());
        assert!(parse_numeric(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(pax_time(b"-1.5").unwrap(), (-2, 500_000_000));
        assert!(parse_pax(b"5 a=b\n").is_err());
        assert_eq!(
            parse_pax(b"6 a=b\n").unwrap(),
            vec![(b"a".to_vec(), b"b".to_vec())]
        );
        assert!(parse_pax(b"99 a=b\n").is_err());
    }
}
