//! A form body with files: `multipart/form-data` (RFC 7578, parsed by `multer`, the parser
//! axum and warp use) or `application/x-www-form-urlencoded` (scripts and forms without a
//! file). The body is already read and capped by the caller; here every field is bounded too.

use super::error::WebError;
use super::reply;
use bytes::Bytes;
use std::collections::HashMap;

/// Largest text field, in bytes (a tracker URL, a hash, a number).
const MAX_TEXT_FIELD: u64 = 8 * 1024;
/// Most fields in one form (a real one has under a dozen).
const MAX_FIELDS: usize = 32;

/// The fields of a form.
#[derive(Debug, Default)]
pub struct FormData {
    /// Text fields by name (the last one wins).
    pub fields: HashMap<String, String>,
    /// File fields by name: the file's content; a file field left empty is absent.
    pub files: HashMap<String, Bytes>,
}

impl FormData {
    /// Text field `name`, or "".
    pub fn text(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// Parses `body` as the form its `content_type` says; 415 for any other type, 400 for a
/// malformed body (`file_fields` may hold files of up to `max_file` bytes; any other field is
/// text of at most 8 KiB).
pub async fn parse(
    content_type: &str,
    body: Bytes,
    file_fields: &[&str],
    max_file: u64,
) -> Result<FormData, WebError> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(FormData {
            fields: reply::form(&body),
            files: HashMap::new(),
        }),
        "multipart/form-data" => multipart(content_type, body, file_fields, max_file).await,
        _ => Err(WebError::UnsupportedMediaType(format!(
            "send the form as multipart/form-data or application/x-www-form-urlencoded (got {content_type:?})"
        ))),
    }
}

async fn multipart(
    content_type: &str,
    body: Bytes,
    file_fields: &[&str],
    max_file: u64,
) -> Result<FormData, WebError> {
    let bad = |e: multer::Error| WebError::BadRequest(format!("the form cannot be read: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let mut limits = multer::SizeLimit::new().per_field(MAX_TEXT_FIELD);
    for name in file_fields {
        limits = limits.for_field(*name, max_file);
    }
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut parts = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut out = FormData::default();
    let mut count = 0;
    while let Some(field) = parts.next_field().await.map_err(bad)? {
        count += 1;
        if count > MAX_FIELDS {
            return Err(WebError::BadRequest(format!(
                "the form has more than {MAX_FIELDS} fields"
            )));
        }
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let is_file = file_fields.contains(&name.as_str());
        let content = field.bytes().await.map_err(bad)?;
        if is_file {
            if !content.is_empty() {
                out.files.insert(name, content);
            }
        } else {
            let text = String::from_utf8(content.to_vec()).map_err(|_| {
                WebError::BadRequest(format!("the form field {name:?} is not UTF-8 text"))
            })?;
            out.fields.insert(name, text);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Bytes {
        let mut b = Vec::new();
        for (name, file, content) in parts {
            b.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n").as_bytes(),
                ),
                None => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            b.extend_from_slice(content);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--XyZ--\r\n");
        Bytes::from(b)
    }

    const TYPE: &str = "multipart/form-data; boundary=XyZ";

    #[tokio::test]
    async fn fields_and_a_binary_file_are_read() {
        let file: &[u8] = b"d4:infod\x00\xff\r\n--e";
        let f = parse(
            TYPE,
            body(&[
                ("url", None, b"http://t/announce"),
                ("torrent", Some("a.torrent"), file),
                ("empty", Some(""), b""),
            ]),
            &["torrent", "empty"],
            1024,
        )
        .await
        .unwrap();
        assert_eq!(f.text("url"), "http://t/announce");
        assert_eq!(f.files["torrent"].as_ref(), file);
        assert!(
            !f.files.contains_key("empty"),
            "an empty file input is no file"
        );
        assert_eq!(f.text("missing"), "");
    }

    #[tokio::test]
    async fn oversized_files_and_text_fields_are_refused() {
        let big = vec![b'a'; 2048];
        let e = parse(
            TYPE,
            body(&[("torrent", Some("a"), &big)]),
            &["torrent"],
            1024,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, WebError::BadRequest(_)), "{e:?}");
        let huge = vec![b'a'; MAX_TEXT_FIELD as usize + 1];
        let e = parse(TYPE, body(&[("url", None, &huge)]), &[], 1 << 20)
            .await
            .unwrap_err();
        assert!(matches!(e, WebError::BadRequest(_)), "{e:?}");
    }

    #[tokio::test]
    async fn urlencoded_is_read_and_other_types_refused() {
        let f = parse(
            "application/x-www-form-urlencoded",
            Bytes::from_static(b"url=udp%3A%2F%2Fh%3A1&kind=scrape"),
            &[],
            0,
        )
        .await
        .unwrap();
        assert_eq!(f.text("url"), "udp://h:1");
        assert_eq!(f.text("kind"), "scrape");
        let e = parse("text/plain", Bytes::new(), &[], 0).await.unwrap_err();
        assert!(matches!(e, WebError::UnsupportedMediaType(_)));
        let e = parse("multipart/form-data", Bytes::new(), &[], 0)
            .await
            .unwrap_err();
        assert!(matches!(e, WebError::BadRequest(_)), "no boundary: {e:?}");
    }
}
