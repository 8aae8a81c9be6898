//! json-file logging, in docker's on-disk format: one JSON object per line,
//! `{"log":"...","stream":"stdout","time":"<RFC3339Nano>"}`, with size-based
//! rotation (`<path>.1`, `<path>.2`, ... like docker's max-size / max-file).
//! Under docker's `none` driver the writer keeps nothing.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use berth_shim::timefmt::rfc3339_nano;

/// Lines longer than this are written as several entries, like docker's 16 KiB.
const MAX_LINE: usize = 16 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

pub struct LogWriter {
    path: PathBuf,
    /// None: the `none` driver.
    file: Option<File>,
    size: u64,
    max_size: u64,
    max_files: u32,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file: Some(file),
            size,
            max_size,
            max_files: max_files.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// A writer that drops everything (docker's `none` log driver).
    pub fn discard() -> LogWriter {
        LogWriter {
            path: PathBuf::new(),
            file: None,
            size: 0,
            max_size: 0,
            max_files: 1,
            partial: [Vec::new(), Vec::new()],
        }
    }

    /// Appends raw output; complete lines become entries at once.
    pub fn write(&mut self, stream: Stream, data: &[u8]) {
        if self.file.is_none() {
            return;
        }
        let mut buf = std::mem::take(&mut self.partial[stream.index()]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos + 1;
            self.entry(stream, &buf[start..end]);
            start = end;
        }
        while buf.len() - start >= MAX_LINE {
            self.entry(stream, &buf[start..start + MAX_LINE]);
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.partial[stream.index()] = buf;
    }

    /// Writes out a trailing line without newline (at EOF).
    pub fn flush_partial(&mut self, stream: Stream) {
        let buf = std::mem::take(&mut self.partial[stream.index()]);
        if !buf.is_empty() {
            self.entry(stream, &buf);
        }
    }

    fn entry(&mut self, stream: Stream, line: &[u8]) {
        let mut out = Vec::with_capacity(line.len() + 80);
        out.extend_from_slice(b"{\"log\":");
        json_string(&mut out, &String::from_utf8_lossy(line));
        out.extend_from_slice(b",\"stream\":\"");
        out.extend_from_slice(stream.name().as_bytes());
        out.extend_from_slice(b"\",\"time\":\"");
        out.extend_from_slice(now_rfc3339().as_bytes());
        out.extend_from_slice(b"\"}\n");
        if self.max_size > 0 && self.size > 0 && self.size + out.len() as u64 > self.max_size {
            self.rotate();
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if file.write_all(&out).is_ok() {
            self.size += out.len() as u64;
        }
    }

    fn rotate(&mut self) {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.max_files > 1 {
            for n in (1..self.max_files - 1).rev() {
                let _ = fs::rename(numbered(n), numbered(n + 1));
            }
            let _ = fs::rename(&self.path, numbered(1));
        }
        if let Ok(f) = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)
        {
            self.file = Some(f);
            self.size = 0;
        }
    }
}

pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_nano(now.as_secs() as i64, now.subsec_nanos())
}

/// JSON string encoding as Go's encoder does it (HTML-safe escapes included).
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", ch as u32).as_bytes())
            }
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn splits_lines_and_keeps_partials() {
        let dir = tempdir();
        let path = dir.join("c-json.log");
        let mut w = LogWriter::open(&path, 0, 1).unwrap();
        w.write(Stream::Stdout, b"one\ntw");
        w.write(Stream::Stderr, b"err\n");
        w.write(Stream::Stdout, b"o\n");
        w.write(Stream::Stdout, b"tail");
        w.flush_partial(Stream::Stdout);
        let l = lines(&path);
        assert_eq!(l.len(), 4);
        assert!(l[0].starts_with("{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\""));
        assert!(l[1].starts_with("{\"log\":\"err\\n\",\"stream\":\"stderr\""));
        assert!(l[2].starts_with("{\"log\":\"two\\n\""));
        assert!(l[3].starts_with("{\"log\":\"tail\""));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn escapes_like_go() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\<\u{1}>");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""a\"b\\\u003c\u0001\u003e""#
        );
    }

    #[test]
    fn discard_writes_nothing() {
        let mut w = LogWriter::discard();
        w.write(Stream::Stdout, b"gone\npartial");
        w.flush_partial(Stream::Stdout);
        assert!(w.partial.iter().all(Vec::is_empty));
    }

    #[test]
    fn rotates_by_size() {
        let dir = tempdir();
        let path = dir.join("c-json.log");
        let mut w = LogWriter::open(&path, 200, 3).unwrap();
        for i in 0..20 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        assert!(fs::metadata(&path).unwrap().len() <= 200);
        assert!(path.with_extension("log.1").exists());
        assert!(path.with_extension("log.2").exists());
        assert!(!path.with_extension("log.3").exists());
        let last = lines(&path);
        assert!(last.last().unwrap().contains("line 19"));
        let _ = fs::remove_dir_all(dir);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "berth-shim-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
