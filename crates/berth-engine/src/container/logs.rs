//! `docker logs`: reads the json-file log the shim writes (rotated files
//! first), and with `follow` keeps reading as the connection task reports new
//! output, until the container has exited and its log is drained. No polling.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::logopts::LogDriver;
use super::{Container, ContainerService};
use crate::error::Result;
use crate::timefmt;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Last N lines only; `None` = all.
    pub tail: Option<usize>,
    /// Unix nanoseconds bounds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub timestamps: bool,
    /// `details`: the log attributes before each line. berth's json-file
    /// records none (the attribute options are refused), so this is the
    /// separating space dockerd writes after an empty attribute list.
    pub details: bool,
}

#[derive(Debug, Clone)]
pub struct LogChunk {
    /// 1 = stdout, 2 = stderr (the mux stream ids).
    pub stream: u8,
    pub data: Bytes,
}

#[derive(Deserialize)]
struct Entry {
    log: String,
    stream: String,
    time: String,
}

impl LogOptions {
    fn accept(&self, e: &Entry) -> Option<LogChunk> {
        let stream = match e.stream.as_str() {
            "stdout" if self.stdout => 1,
            "stderr" if self.stderr => 2,
            _ => return None,
        };
        if self.since.is_some() || self.until.is_some() {
            let t = nanos(e);
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return None;
            }
        }
        let mut line = String::new();
        if self.timestamps {
            // Go's RFC3339NanoFixed: always nine digits of fraction.
            match timefmt::parse(&e.time) {
                Some(t) => line.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()),
                None => line.push_str(&e.time),
            }
            line.push(' ');
        }
        if self.details {
            line.push(' ');
        }
        line.push_str(&e.log);
        Some(LogChunk {
            stream,
            data: Bytes::from(line),
        })
    }

    /// A followed stream with `until` ends at the first newer line.
    fn past_until(&self, e: &Entry) -> bool {
        self.until.is_some_and(|u| nanos(e) > u)
    }
}

fn nanos(e: &Entry) -> i64 {
    timefmt::parse(&e.time)
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(0)
}

/// A log file read position; only complete lines are consumed.
struct Cursor {
    file: BufReader<File>,
    ino: u64,
}

impl Cursor {
    fn open(path: &Path) -> Option<Cursor> {
        let file = File::open(path).ok()?;
        let ino = file.metadata().ok()?.ino();
        Some(Cursor {
            file: BufReader::new(file),
            ino,
        })
    }

    /// Calls `f` for each complete new line.
    fn read_lines(&mut self, mut f: impl FnMut(Entry)) {
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = match self.file.read_until(b'\n', &mut line) {
                Ok(n) => n,
                Err(_) => return,
            };
            if n == 0 {
                return;
            }
            if line.last() != Some(&b'\n') {
                // A line still being written: read it again next time.
                let _ = self.file.seek(SeekFrom::Current(-(n as i64)));
                return;
            }
            if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
                f(e);
            }
        }
    }
}

fn rotated_files(current: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..100)
        .map(|n| PathBuf::from(format!("{}.{n}", current.display())))
        .take_while(|p| p.exists())
        .collect();
    files.reverse();
    files
}

impl ContainerService {
    /// Streams the container's logs; the bool says whether it has a TTY
    /// (raw stream) or not (multiplexed).
    pub async fn logs(
        self: &Arc<Self>,
        name_or_id: &str,
        opts: LogOptions,
    ) -> Result<(bool, mpsc::Receiver<LogChunk>)> {
        let c = self.get(name_or_id)?;
        let rec = c.snapshot();
        if LogDriver::of(&rec.host_config) == LogDriver::None {
            return Err(super::logopts::reading_unsupported());
        }
        let tty = rec.tty();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            follow_logs(c, opts, tx).await;
        });
        Ok((tty, rx))
    }

    /// The whole log, without following (for attach with `logs=1`); under
    /// the none driver there is no file, hence nothing to replay.
    pub(super) async fn read_logs(
        &self,
        c: &Arc<Container>,
        opts: &LogOptions,
    ) -> Result<Vec<LogChunk>> {
        let path = c.paths.log(&c.id);
        let opts = opts.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for p in rotated_files(&path).into_iter().chain([path.clone()]) {
                if let Some(mut cur) = Cursor::open(&p) {
                    cur.read_lines(|e| out.extend(opts.accept(&e)));
                }
            }
            out
        })
        .await?)
    }
}

async fn follow_logs(c: Arc<Container>, opts: LogOptions, tx: mpsc::Sender<LogChunk>) {
    let path = c.paths.log(&c.id);
    let mut written = c.log_written.subscribe();
    let mut progress = c.progress.subscribe();
    // History: rotated files, then the current one, keeping its cursor.
    let (history, mut cursor) = {
        let path = path.clone();
        let opts = opts.clone();
        match tokio::task::spawn_blocking(move || {
            let mut tail = std::collections::VecDeque::new();
            let mut push = |chunk: LogChunk| {
                tail.push_back(chunk);
                if let Some(n) = opts.tail {
                    while tail.len() > n {
                        tail.pop_front();
                    }
                }
            };
            for p in rotated_files(&path) {
                if let Some(mut cur) = Cursor::open(&p) {
                    cur.read_lines(|e| push_entry(&opts, e, &mut push));
                }
            }
            let mut cursor = Cursor::open(&path);
            if let Some(cur) = cursor.as_mut() {
                cur.read_lines(|e| push_entry(&opts, e, &mut push));
            }
            (tail, cursor)
        })
        .await
        {
            Ok(v) => v,
            Err(_) => return,
        }
    };
    for chunk in history {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
    if !opts.follow {
        return;
    }
    // With `until`, following ends when that time comes (at once when it
    // has passed), as dockerd's follower does.
    let deadline = opts.until.map(|u| {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        tokio::time::Instant::now()
            + std::time::Duration::from_nanos(u.saturating_sub(now).max(0) as u64)
    });
    loop {
        let finished = {
            let p = progress.borrow_and_update();
            !c.status().is_live() && p.cleaned >= p.exits
        };
        // Read whatever is new, following a rotation to the new file.
        let mut batch = Vec::new();
        let mut past_until = false;
        let mut take = |e: Entry| {
            past_until |= opts.past_until(&e);
            batch.extend(opts.accept(&e));
        };
        if let Some(cur) = cursor.as_mut() {
            cur.read_lines(&mut take);
        }
        let rotated = std::fs::metadata(&path)
            .map(|m| cursor.as_ref().is_none_or(|cur| m.ino() != cur.ino))
            .unwrap_or(false);
        if rotated {
            cursor = Cursor::open(&path);
            if let Some(cur) = cursor.as_mut() {
                cur.read_lines(&mut take);
            }
        }
        for chunk in batch {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        if finished || past_until {
            return;
        }
        let until = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = written.changed() => if r.is_err() { return },
            r = progress.changed() => if r.is_err() { return },
            _ = tx.closed() => return,
            _ = until => return,
        }
    }
}

fn push_entry(opts: &LogOptions, e: Entry, push: &mut impl FnMut(LogChunk)) {
    if let Some(chunk) = opts.accept(&e) {
        push(chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cursor_reads_only_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c-json.log");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"{\"log\":\"a\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}\n{\"log\":\"b").unwrap();
        let mut cur = Cursor::open(&path).unwrap();
        let mut seen = Vec::new();
        cur.read_lines(|e| seen.push(e.log));
        assert_eq!(seen, vec!["a\n"]);
        f.write_all(b"\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-01T00:00:01Z\"}\n")
            .unwrap();
        cur.read_lines(|e| seen.push(e.log));
        assert_eq!(seen, vec!["a\n", "b\n"]);
    }

    #[test]
    fn options_filter_streams_and_times() {
        let e = |stream: &str, time: &str| Entry {
            log: "x\n".into(),
            stream: stream.into(),
            time: time.into(),
        };
        let opts = LogOptions {
            stdout: true,
            stderr: false,
            since: Some(1_000_000_000),
            timestamps: true,
            ..Default::default()
        };
        assert!(opts.accept(&e("stderr", "1970-01-01T00:00:05Z")).is_none());
        assert!(opts.accept(&e("stdout", "1970-01-01T00:00:00Z")).is_none());
        let chunk = opts.accept(&e("stdout", "1970-01-01T00:00:05Z")).unwrap();
        assert_eq!(chunk.stream, 1);
        assert_eq!(&chunk.data[..], b"1970-01-01T00:00:05.000000000Z x\n");
        let details = LogOptions {
            stdout: true,
            details: true,
            ..Default::default()
        };
        let chunk = details
            .accept(&e("stdout", "1970-01-01T00:00:05.5Z"))
            .unwrap();
        assert_eq!(&chunk.data[..], b" x\n");
        let until = LogOptions {
            until: Some(6_000_000_000),
            ..details
        };
        assert!(!until.past_until(&e("stdout", "1970-01-01T00:00:05Z")));
        assert!(until.past_until(&e("stdout", "1970-01-01T00:00:07Z")));
    }
}
