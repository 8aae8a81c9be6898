//! Request bodies: JSON with a size limit, answered with docker-style 400s
//! instead of panics or 500s when the client sends garbage.

use axum::body::Body;
use berth_engine::Error;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

/// Largest JSON body accepted (create requests are ~2 KB).
pub const MAX_JSON: usize = 4 << 20;

pub async fn bytes(body: Body, limit: usize) -> Result<bytes::Bytes, Error> {
    Limited::new(body, limit)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::invalid(format!("request body is larger than {limit} bytes"))
            } else {
                Error::invalid(format!("error reading request body: {e}"))
            }
        })
}

/// Parses a JSON body; an empty body gives `T::default()`-like behaviour via `Option`.
pub async fn json<T: DeserializeOwned>(body: Body) -> Result<Option<T>, Error> {
    let data = bytes(body, MAX_JSON).await?;
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(&data)
        .map(Some)
        .map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

/// How much of a refused upload is still read so that the client sees the
/// answer: past this, the connection is closed on it.
const DRAIN_LIMIT: u64 = 256 << 20;

/// A blocking reader over a streamed request body (tars for load, import and
/// `docker cp`). The body is pumped by a task of its own that, once the
/// reader is dropped early (the upload was refused), reads the rest and
/// throws it away: a client still sending when the answer comes would
/// otherwise see its connection closed instead of the error.
pub fn stream_reader(body: Body) -> impl std::io::Read + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut drained = 0u64;
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(std::io::Error::other);
            if tx.is_closed() {
                drained += chunk.as_ref().map_or(0, |c| c.len() as u64);
                if drained > DRAIN_LIMIT || chunk.is_err() {
                    return;
                }
                continue;
            }
            let _ = tx.send(chunk).await;
        }
    });
    let chunks = tokio_stream_from(rx);
    tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(chunks))
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static {
    Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_and_errors() {
        let v: Option<serde_json::Value> = json(Body::from("{\"a\":1}")).await.unwrap();
        assert_eq!(v.unwrap()["a"], 1);
        let v: Option<serde_json::Value> = json(Body::from("  ")).await.unwrap();
        assert!(v.is_none());
        let e = json::<serde_json::Value>(Body::from("{bad"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, berth_engine::ErrorKind::InvalidParameter);
        let big = vec![b' '; MAX_JSON + 1];
        let e = json::<serde_json::Value>(Body::from(big))
            .await
            .unwrap_err();
        assert!(e.message.contains("larger than"));
    }
}
