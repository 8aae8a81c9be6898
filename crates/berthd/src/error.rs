//! The one place that turns engine errors into HTTP answers: the status from
//! the error's kind, the body docker's `{"message": ...}`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_api::ErrorBody;
use berth_engine::{Error, ErrorKind};

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::System => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
    }
}

/// An engine error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

/// A request that did not decode is the client's mistake: a 400.
impl From<berth_api::Error> for ApiError {
    fn from(e: berth_api::Error) -> ApiError {
        ApiError(Error::invalid(e.message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        if status.is_server_error() {
            tracing::warn!("{}", self.0.message);
        }
        let body = ErrorBody::encode(&self.0.message);
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_become_docker_json() {
        let resp = ApiError(Error::not_found("No such container: x")).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"{\"message\":\"No such container: x\"}\n");
        let resp = ApiError(Error::not_modified()).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(status_of(ErrorKind::Conflict), StatusCode::CONFLICT);
        assert_eq!(
            status_of(ErrorKind::InvalidParameter),
            StatusCode::BAD_REQUEST
        );
        let resp = ApiError::from(berth_api::Error::invalid("bad")).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}
