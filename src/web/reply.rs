//! Building web responses and reading what browsers send: cookies, forms, query parameters.
//! [`finish`] adds the security headers every web response carries.

use askama::Template;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};
use std::collections::HashMap;

/// Content Security Policy: nothing from elsewhere, no scripts, inline styles and inline SVG
/// only, forms posting back here only.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers every web response carries.
pub fn finish(mut resp: Response<Vec<u8>>) -> Response<Vec<u8>> {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

/// A response with `body` of type `content_type`.
pub fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> Response<Vec<u8>> {
    with_type(status, "text/html; charset=utf-8", body.into_bytes())
}

/// A rendered template as a 200 page (a template error is a bug: 500 with the message).
pub fn page(t: &impl Template) -> Response<Vec<u8>> {
    match t.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(e) => {
            tracing::error!("template: {e}");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                error_page(StatusCode::INTERNAL_SERVER_ERROR, "template error"),
            )
        }
    }
}

/// JSON, pretty enough to read with curl.
pub fn json(value: &serde_json::Value) -> Response<Vec<u8>> {
    let mut body = serde_json::to_vec_pretty(value).expect("a Value always serialises");
    body.push(b'\n');
    with_type(StatusCode::OK, "application/json", body)
}

/// A download named `filename`.
pub fn download(content_type: &'static str, filename: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = with_type(StatusCode::OK, content_type, body);
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// 303 See Other to `location` (after a form post, and to the login form).
pub fn redirect(location: &str) -> Response<Vec<u8>> {
    let mut resp = Response::new(Vec::new());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// 301 Moved Permanently to `location`, with the address as text for whoever reads the body.
pub fn text_redirect(location: &str) -> Response<Vec<u8>> {
    let mut resp = with_type(
        StatusCode::MOVED_PERMANENTLY,
        "text/plain; charset=utf-8",
        format!("{location}\n").into_bytes(),
    );
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Adds a `Set-Cookie` for `name=value` (HttpOnly, SameSite=Strict, whole site, and `Secure`
/// when `secure`: the request came over HTTPS); `max_age` 0 deletes the cookie.
pub fn set_cookie(
    resp: &mut Response<Vec<u8>>,
    name: &str,
    value: &str,
    max_age: u32,
    secure: bool,
) {
    let secure = if secure { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The fields of an `application/x-www-form-urlencoded` body or a query string; the last
/// value wins for repeated names, and text that is not UTF-8 is replaced (no field here needs
/// raw bytes).
pub fn form(data: &[u8]) -> HashMap<String, String> {
    data.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => match raw
                .get(i + 1..i + 3)
                .and_then(|h| crate::hex::byte(h[0], h[1]))
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but unreserved characters and `/` (for `?next=`).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to go to after login: only paths on this site (no `//host`, no scheme).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/stat".to_owned(),
    }
}

/// The page of an error.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// An error page's HTML.
pub fn error_page(status: StatusCode, message: &str) -> String {
    ErrorPage {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or(""),
        message,
    }
    .render()
    .unwrap_or_else(|_| message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_percent_and_junk() {
        let f = form(b"a=1+2&b=%41%2b%zz&c&reason=caf%C3%A9%&=x&a=3");
        assert_eq!(f["a"], "3");
        assert_eq!(f["b"], "A+%zz");
        assert_eq!(f["c"], "");
        assert_eq!(f["reason"], "café%");
        assert_eq!(f[""], "x");
        assert_eq!(form(b"x=%FF")["x"], "\u{FFFD}");
        assert_eq!(form(b"x=%4")["x"], "%4");
        assert_eq!(form(b"x=%+1")["x"], "% 1");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; retracker_session=abc.def"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "retracker_session"), Some("abc.def"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/all_peers?page=2")), "/all_peers?page=2");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "evil",
            "/\\evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/stat", "{bad}");
        }
        assert_eq!(safe_next(None), "/stat");
        assert_eq!(url_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
