//! `POST /api/torrents`: a `.torrent` file as the body; stores its name, size, file count,
//! piece length, comment and creator under the hashes clients announce it with (v1, and the v2
//! hash truncated to 20 bytes), as `retracker add-torrent` does. Answers JSON: what was stored,
//! or `{"error": ...}` with the status.
//!
//! Order, so that nobody can make the server read a large body: the login is checked first,
//! then the type and the declared length, and only then is the body read (at most
//! [`MAX_TORRENT_BYTES`], counted while reading, whatever `Content-Length` said).
//!
//! CSRF: the endpoint accepts HTTP basic auth only; a session cookie is ignored. A browser on
//! another site cannot send `Authorization` nor `Content-Type: application/x-bittorrent`
//! without a CORS preflight, which this server never grants, and the type is required (415
//! otherwise), so a cross-site form cannot reach the store.

use super::error::WebError;
use super::{reply, Access, Req, Web};
use crate::hex;
use crate::protocol::metainfo::Metainfo;
use crate::storage::TorrentMeta;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{header, HeaderValue, Response};
use serde_json::json;
use std::sync::Arc;

/// The largest `.torrent` accepted (a torrent of a few hundred thousand files).
pub const MAX_TORRENT_BYTES: u64 = 32 * 1024 * 1024;

/// The content type the body must have.
pub const TORRENT_TYPE: &str = "application/x-bittorrent";

/// Handles the request whose body is still unread in `body`; the answer is JSON either way.
pub async fn add<S, B>(web: &Arc<Web>, req: Req, body: S) -> Response<Vec<u8>>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    match store(web, req, body).await {
        Ok(resp) => resp,
        Err(e) => json_error(e),
    }
}

/// The error's status and headers (`WWW-Authenticate`, `Retry-After`) with a JSON body.
fn json_error(e: WebError) -> Response<Vec<u8>> {
    if matches!(e, WebError::Storage(_) | WebError::Internal(_)) {
        tracing::error!("POST /api/torrents: {e}");
    }
    let message = e.to_string();
    let mut resp = e.into_plain_response();
    let mut body = serde_json::to_vec_pretty(&json!({ "error": message })).expect("serialises");
    body.push(b'\n');
    *resp.body_mut() = body;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn store<S, B>(web: &Arc<Web>, mut req: Req, body: S) -> Result<Response<Vec<u8>>, WebError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    // Basic auth only (see the module doc): the guard must not find a cookie.
    req.headers.remove(header::COOKIE);
    web.guard(&req, Access::Api).await?;

    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(TORRENT_TYPE) {
        return Err(WebError::UnsupportedMediaType(format!(
            "the body must be a .torrent file sent as Content-Type: {TORRENT_TYPE} (got {:?})",
            content_type
        )));
    }
    let declared = req
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_TORRENT_BYTES) {
        return Err(WebError::PayloadTooLarge(MAX_TORRENT_BYTES));
    }

    let bytes = read_capped(body, declared.unwrap_or(0)).await?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| WebError::BadRequest(e.to_string()))?;
    let hashes = meta.announce_hashes();
    let stored = TorrentMeta::from(&meta);
    let now = crate::tracker::unix_now();
    let to_store = hashes.clone();
    web.db(move |s| s.set_torrent_meta(&to_store, &stored, now))
        .await?;
    tracing::info!(
        "torrent metadata stored for {} ({})",
        hashes
            .iter()
            .map(|h| hex::encode(h))
            .collect::<Vec<_>>()
            .join(", "),
        meta.name
    );
    Ok(reply::json(&json!({
        "name": meta.name,
        "size": meta.total_size,
        "files": meta.files.len(),
        "piece_length": meta.piece_length,
        "private": meta.private,
        "comment": meta.comment,
        "created_by": meta.created_by,
        "info_hash_v1": meta.info_hash_v1.map(|h| hex::encode(&h)),
        "info_hash_v2": meta.info_hash_v2.map(|h| hex::encode(&h)),
        "stored": hashes.iter().map(|h| hex::encode(h)).collect::<Vec<_>>(),
    })))
}

/// The body, refused as soon as it passes [`MAX_TORRENT_BYTES`] (also `POST /checks`).
pub async fn read_capped<S, B>(body: S, declared: u64) -> Result<Bytes, WebError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut out = BytesMut::with_capacity(declared.min(MAX_TORRENT_BYTES) as usize);
    while let Some(chunk) = body.next().await {
        let mut chunk =
            chunk.map_err(|e| WebError::BadRequest(format!("reading the body: {e}")))?;
        if (out.len() + chunk.remaining()) as u64 > MAX_TORRENT_BYTES {
            return Err(WebError::PayloadTooLarge(MAX_TORRENT_BYTES));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            out.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(out.freeze())
}
