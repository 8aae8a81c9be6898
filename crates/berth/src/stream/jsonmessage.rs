//! JSON message streams (pull, load, import, ...): one JSON object per message,
//! shown the way docker's `jsonmessage.DisplayJSONMessagesStream` does.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;

pub use berth_api::progress::ProgressDetail;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::stream::terminal::Term;

/// One message of the stream.
#[derive(Debug, Default, Deserialize)]
pub struct JsonMessage {
    #[serde(default)]
    pub stream: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub progress: String,
    #[serde(rename = "progressDetail")]
    pub progress_detail: Option<ProgressDetail>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub time: i64,
    #[serde(rename = "timeNano", default)]
    pub time_nano: i64,
    #[serde(rename = "errorDetail")]
    pub error_detail: Option<ErrorDetail>,
    #[serde(default)]
    pub error: String,
    pub aux: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
}

/// An error reported inside the stream (`errorDetail` or `error`).
#[derive(Debug)]
pub struct StreamError {
    pub message: String,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StreamError {}

impl JsonMessage {
    fn has_progress(&self) -> bool {
        self.progress_detail
            .as_ref()
            .is_some_and(|p| p.current > 0 || p.total > 0)
    }

    /// Renders one message; `Err` for an error message. `width` is the
    /// terminal width progress bars are drawn for.
    pub fn display(
        &self,
        out: &mut dyn Write,
        is_terminal: bool,
        width: usize,
    ) -> Result<(), StreamError> {
        if let Some(e) = &self.error_detail {
            return Err(StreamError {
                message: if e.message.is_empty() {
                    self.error.clone()
                } else {
                    e.message.clone()
                },
            });
        }
        if !self.error.is_empty() {
            return Err(StreamError {
                message: self.error.clone(),
            });
        }
        let mut text = String::new();
        let mut endl = "";
        if is_terminal && self.stream.is_empty() && self.progress_detail.is_some() {
            text.push_str("\x1b[2K\r");
            endl = "\r";
        } else if self.has_progress() && !is_terminal {
            return Ok(());
        }
        if self.time_nano != 0 || self.time != 0 {
            let t = if self.time_nano != 0 {
                chrono::DateTime::from_timestamp_nanos(self.time_nano)
            } else {
                chrono::DateTime::from_timestamp(self.time, 0).unwrap_or_default()
            };
            let local = t.with_timezone(&chrono::Local);
            text.push_str(&local.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            text.push(' ');
        }
        if !self.id.is_empty() {
            text.push_str(&format!("{}: ", self.id));
        }
        if !self.from.is_empty() {
            text.push_str(&format!("(from {}) ", self.from));
        }
        if let (Some(p), true) = (&self.progress_detail, is_terminal) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            text.push_str(&format!("{} {}{endl}", self.status, p.render(width, now)));
        } else if !self.progress.is_empty() {
            text.push_str(&format!("{} {}{endl}", self.status, self.progress));
        } else if !self.stream.is_empty() {
            text.push_str(&format!("{}{endl}", self.stream));
        } else {
            text.push_str(&format!("{}{endl}\n", self.status));
        }
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        Ok(())
    }
}

/// Failure while showing a stream: a message inside it, or a broken stream.
#[derive(Debug)]
pub enum DisplayError {
    Message(StreamError),
    Io(std::io::Error),
    Decode(serde_json::Error),
}

impl fmt::Display for DisplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayError::Message(e) => e.fmt(f),
            DisplayError::Io(e) => e.fmt(f),
            DisplayError::Decode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DisplayError {}

/// Reads the stream to its end, showing each message on `out`. Messages with
/// an `aux` field go to `on_aux` instead.
pub async fn display_stream<R: AsyncRead + Unpin>(
    reader: R,
    out: &mut dyn Write,
    is_terminal: bool,
    on_aux: impl FnMut(&serde_json::Value),
) -> Result<(), DisplayError> {
    display_stream_on(reader, out, is_terminal.then_some(Term::Stdout), on_aux).await
}

/// [`display_stream`] for output on the terminal `term` (`None`: not a
/// terminal), whose width the progress bars take.
pub async fn display_stream_on<R: AsyncRead + Unpin>(
    mut reader: R,
    out: &mut dyn Write,
    term: Option<Term>,
    mut on_aux: impl FnMut(&serde_json::Value),
) -> Result<(), DisplayError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 32 * 1024];
    let mut ids: HashMap<String, usize> = HashMap::new();
    loop {
        let n = reader.read(&mut chunk).await.map_err(DisplayError::Io)?;
        if n == 0 {
            if buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
        } else {
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut consumed = 0;
        {
            let mut iter = serde_json::Deserializer::from_slice(&buf).into_iter::<JsonMessage>();
            loop {
                match iter.next() {
                    Some(Ok(jm)) => {
                        consumed = iter.byte_offset();
                        if let Some(aux) = &jm.aux {
                            on_aux(aux);
                            continue;
                        }
                        show(&jm, out, term, &mut ids).map_err(DisplayError::Message)?;
                    }
                    Some(Err(e)) if e.is_eof() && n != 0 => break,
                    Some(Err(e)) => return Err(DisplayError::Decode(e)),
                    None => {
                        consumed = buf.len();
                        break;
                    }
                }
            }
        }
        buf.drain(..consumed);
        if n == 0 {
            return Ok(());
        }
    }
}

fn show(
    jm: &JsonMessage,
    out: &mut dyn Write,
    term: Option<Term>,
    ids: &mut HashMap<String, usize>,
) -> Result<(), StreamError> {
    let is_terminal = term.is_some();
    let mut diff = 0;
    if !jm.id.is_empty() && (jm.progress_detail.is_some() || !jm.progress.is_empty()) {
        let line = match ids.get(&jm.id) {
            Some(l) => *l,
            None => {
                let l = ids.len();
                ids.insert(jm.id.clone(), l);
                if is_terminal {
                    let _ = out.write_all(b"\n");
                }
                l
            }
        };
        diff = ids.len() - line;
        if is_terminal && diff > 0 {
            let _ = write!(out, "\x1b[{diff}A");
        }
    } else {
        ids.clear();
    }
    let width = term
        .and_then(Term::columns)
        .map_or(200, |cols| cols as usize);
    let result = jm.display(out, is_terminal, width);
    if !jm.id.is_empty() && is_terminal && diff > 0 {
        let _ = write!(out, "\x1b[{diff}B");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn render(input: &str) -> (String, Result<(), DisplayError>) {
        let mut out = Vec::new();
        let r = display_stream(input.as_bytes(), &mut out, false, |_| {}).await;
        (String::from_utf8(out).unwrap(), r)
    }

    #[tokio::test]
    async fn load_stream() {
        let (out, r) = render("{\"stream\":\"Loaded image: busybox:latest\\n\"}\n").await;
        assert!(r.is_ok());
        assert_eq!(out, "Loaded image: busybox:latest\n");
    }

    #[tokio::test]
    async fn pull_stream_skips_progress_when_not_a_terminal() {
        let input = r#"{"status":"Pulling from library/busybox","id":"latest"}
{"status":"Pulling fs layer","progressDetail":{},"id":"a1b2"}
{"status":"Downloading","progressDetail":{"current":1,"total":2},"progress":"[==>  ] 1B/2B","id":"a1b2"}
{"status":"Digest: sha256:abc"}
{"status":"Status: Downloaded newer image for busybox:latest"}
"#;
        let (out, r) = render(input).await;
        assert!(r.is_ok());
        assert_eq!(
            out,
            "latest: Pulling from library/busybox\na1b2: Pulling fs layer\nDigest: sha256:abc\nStatus: Downloaded newer image for busybox:latest\n"
        );
    }

    /// docker's captured pull stream; the expected text is what docker 28
    /// printed for it with stdout not a terminal.
    const PULL_SAMPLE: &str = r#"{"status":"Pulling from apitrace/built","id":"v1"}
{"status":"Already exists","progressDetail":{},"id":"67b1b35a4691"}
{"status":"Pulling fs layer","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Pulling fs layer","progressDetail":{},"id":"650c08d9f5ce"}
{"status":"Downloading","progressDetail":{"current":146,"total":146},"progress":"[==================================================\u003e]     146B/146B","id":"8aa551f0b7ee"}
{"status":"Verifying Checksum","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Download complete","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Extracting","progressDetail":{"current":146,"total":146},"progress":"[==================================================\u003e]     146B/146B","id":"8aa551f0b7ee"}
{"status":"Extracting","progressDetail":{"current":146,"total":146},"progress":"[==================================================\u003e]     146B/146B","id":"8aa551f0b7ee"}
{"status":"Downloading","progressDetail":{"current":167,"total":167},"progress":"[==================================================\u003e]     167B/167B","id":"650c08d9f5ce"}
{"status":"Verifying Checksum","progressDetail":{},"id":"650c08d9f5ce"}
{"status":"Download complete","progressDetail":{},"id":"650c08d9f5ce"}
{"status":"Pull complete","progressDetail":{},"id":"8aa551f0b7ee"}
{"status":"Extracting","progressDetail":{"current":167,"total":167},"progress":"[==================================================\u003e]     167B/167B","id":"650c08d9f5ce"}
{"status":"Extracting","progressDetail":{"current":167,"total":167},"progress":"[==================================================\u003e]     167B/167B","id":"650c08d9f5ce"}
{"status":"Pull complete","progressDetail":{},"id":"650c08d9f5ce"}
{"status":"Digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b"}
{"status":"Status: Downloaded newer image for 127.0.0.1:5000/apitrace/built:v1"}
"#;

    #[tokio::test]
    async fn docker_pull_sample_as_plain_lines() {
        let (out, r) = render(PULL_SAMPLE).await;
        assert!(r.is_ok());
        assert_eq!(
            out,
            "v1: Pulling from apitrace/built
67b1b35a4691: Already exists
8aa551f0b7ee: Pulling fs layer
650c08d9f5ce: Pulling fs layer
8aa551f0b7ee: Verifying Checksum
8aa551f0b7ee: Download complete
650c08d9f5ce: Verifying Checksum
650c08d9f5ce: Download complete
8aa551f0b7ee: Pull complete
650c08d9f5ce: Pull complete
Digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b
Status: Downloaded newer image for 127.0.0.1:5000/apitrace/built:v1
"
        );
    }

    /// docker's captured push stream, ending in an `aux` message.
    const PUSH_SAMPLE: &str = r#"{"status":"The push refers to repository [127.0.0.1:5000/apitrace/built]"}
{"status":"Preparing","progressDetail":{},"id":"1f29edfa8e4e"}
{"status":"Preparing","progressDetail":{},"id":"d7d9f59badfb"}
{"status":"Preparing","progressDetail":{},"id":"0f8cbe8b92d6"}
{"status":"Pushing","progressDetail":{"current":512,"total":6},"progress":"[==================================================\u003e]     512B","id":"d7d9f59badfb"}
{"status":"Pushing","progressDetail":{"current":2560,"total":6},"progress":"[==================================================\u003e]   2.56kB","id":"d7d9f59badfb"}
{"status":"Pushing","progressDetail":{"current":512,"total":25},"progress":"[==================================================\u003e]     512B","id":"1f29edfa8e4e"}
{"status":"Pushing","progressDetail":{"current":2560,"total":25},"progress":"[==================================================\u003e]   2.56kB","id":"1f29edfa8e4e"}
{"status":"Mounted from busybox","progressDetail":{},"id":"0f8cbe8b92d6"}
{"status":"Pushed","progressDetail":{},"id":"d7d9f59badfb"}
{"status":"Pushed","progressDetail":{},"id":"1f29edfa8e4e"}
{"status":"v1: digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b size: 942"}
{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b","Size":942}}
"#;

    #[tokio::test]
    async fn docker_push_sample_as_plain_lines() {
        let mut out = Vec::new();
        let mut aux = Vec::new();
        display_stream(PUSH_SAMPLE.as_bytes(), &mut out, false, |v| {
            aux.push(v.clone())
        })
        .await
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "The push refers to repository [127.0.0.1:5000/apitrace/built]
1f29edfa8e4e: Preparing
d7d9f59badfb: Preparing
0f8cbe8b92d6: Preparing
0f8cbe8b92d6: Mounted from busybox
d7d9f59badfb: Pushed
1f29edfa8e4e: Pushed
v1: digest: sha256:fabde904437c2a0edb1e48ebbd2cdda4e60a1301b521e9c0a4a03bed43130c3b size: 942
"
        );
        assert_eq!(aux.len(), 1);
        assert_eq!(aux[0]["Tag"], "v1");
    }

    #[tokio::test]
    async fn error_in_stream() {
        let input = r#"{"status":"x"}{"errorDetail":{"code":3,"message":"boom"},"error":"boom"}"#;
        let (out, r) = render(input).await;
        assert_eq!(out, "x\n");
        match r {
            Err(DisplayError::Message(e)) => {
                assert_eq!(e.message, "boom");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn aux_messages_go_to_callback() {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        display_stream(
            &br#"{"aux":{"ID":"sha256:1"}}{"stream":"ok\n"}"#[..],
            &mut out,
            false,
            |v| seen.push(v.clone()),
        )
        .await
        .unwrap();
        assert_eq!(out, b"ok\n");
        assert_eq!(seen.len(), 1);
    }
}
