//! Every way a web request fails, mapped to an HTTP status and a short page in one place.

use super::reply;
use super::Req;
use crate::storage::StorageError;
use http::{header, HeaderValue, Response, StatusCode};

/// A refused or failed web request.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No password is configured, so the UI is off.
    #[error("the web UI is disabled: set [STATS] access_password in the configuration (retracker hash-password prints a hash for it)")]
    Disabled,
    /// A page for people without a session: go to the login form.
    #[error("log in first")]
    LoginNeeded,
    /// An API request without valid credentials.
    #[error("authentication required: log in, or use HTTP basic auth with the web UI account")]
    Unauthorized,
    /// A form without the right CSRF token.
    #[error("the form has expired or did not come from this site (CSRF token missing or wrong); reload the page and try again")]
    Csrf,
    /// Refused whoever asks, with the setting that would allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins from this address.
    #[error("too many failed logins from your address; try again in {0} seconds")]
    TooManyRequests(u32),
    /// Malformed input.
    #[error("{0}")]
    BadRequest(String),
    /// A body of the wrong content type (the message says which is expected).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A body larger than the limit (in bytes).
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// No such page.
    #[error("no such page")]
    NotFound,
    /// The page exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The database failed.
    #[error("database error: {0}")]
    Storage(StorageError),
    /// A bug or a panicked task.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::Disabled | WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::LoginNeeded => StatusCode::SEE_OTHER,
            WebError::Unauthorized => StatusCode::UNAUTHORIZED,
            WebError::Csrf | WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            WebError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            WebError::Storage(_) | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The response for `req`: a redirect to the login form, or the status with the message.
    pub fn into_response(self, req: &Req) -> Response<Vec<u8>> {
        if let WebError::LoginNeeded = self {
            let mut next = req.path.clone();
            if !req.query.is_empty() {
                next = format!("{next}?{}", req.query);
            }
            return reply::redirect(&format!("/login?next={}", reply::url_encode(&next)));
        }
        if matches!(self, WebError::Storage(_) | WebError::Internal(_)) {
            tracing::error!("web request {} {}: {self}", req.method, req.path);
        }
        self.into_plain_response()
    }

    /// The status with the message as a small page.
    pub fn into_plain_response(self) -> Response<Vec<u8>> {
        let status = self.status();
        let mut resp = reply::html(status, reply::error_page(status, &self.to_string()));
        let h = resp.headers_mut();
        match self {
            WebError::Unauthorized => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"retracker\", charset=\"UTF-8\""),
                );
            }
            WebError::TooManyRequests(secs) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            WebError::MethodNotAllowed => {
                h.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            }
            _ => {}
        }
        resp
    }
}
