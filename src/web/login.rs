//! `/login` (form and submit) and `/logout`.

use super::auth::{LOGIN_COOKIE, SESSION_COOKIE};
use super::error::WebError;
use super::{reply, Req, Web, Who};
use crate::stats::Event;
use crate::tracker::unix_now;
use askama::Template;
use http::{Response, StatusCode};
use std::sync::Arc;

/// The login page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// Why the last attempt failed; empty for none.
    message: &'a str,
    /// The form's CSRF token.
    csrf: &'a str,
    /// Where to go after logging in.
    next: &'a str,
}

/// The form, with a fresh CSRF cookie and token.
fn form_response(
    web: &Web,
    status: StatusCode,
    message: &str,
    next: &str,
    secure: bool,
) -> Result<Response<Vec<u8>>, WebError> {
    let auth = web.auth()?;
    let (cookie, token) = auth.login_csrf();
    let page = LoginPage {
        message,
        csrf: &token,
        next,
    };
    let mut resp = reply::page(&page);
    *resp.status_mut() = status;
    // Long enough to type a password, short enough not to linger.
    reply::set_cookie(&mut resp, LOGIN_COOKIE, &cookie, 3600, secure);
    Ok(resp)
}

/// `GET /login`.
pub async fn form(web: &Arc<Web>, req: &Req) -> Result<Response<Vec<u8>>, WebError> {
    let query = reply::form(req.query.as_bytes());
    let next = reply::safe_next(query.get("next").map(String::as_str));
    form_response(web, StatusCode::OK, "", &next, req.https)
}

/// `POST /login`: CSRF, then the failed-login limit, then the password.
pub async fn submit(web: &Arc<Web>, req: &Req) -> Result<Response<Vec<u8>>, WebError> {
    let auth = web.auth()?;
    let fields = reply::form(&req.body);
    let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let next = reply::safe_next(Some(field("next")));
    let cookie = reply::cookie(&req.headers, LOGIN_COOKIE).unwrap_or("");
    if !auth.login_csrf_ok(cookie, field("csrf")) {
        return Err(WebError::Csrf);
    }
    let now = unix_now();
    auth.login_allowed(req.client, now)
        .map_err(WebError::TooManyRequests)?;
    let user = field("username").to_owned();
    let ok = web
        .verify_password(user.clone(), field("password").to_owned())
        .await?;
    web.stats.event(Event::Login { ok });
    if !ok {
        auth.login_failed(req.client, now);
        tracing::warn!("failed web login for user {user:?} from {}", req.client);
        return form_response(
            web,
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.",
            &next,
            req.https,
        );
    }
    auth.login_succeeded(req.client);
    tracing::info!("web login by {user:?} from {}", req.client);
    let (_, value) = auth.issue(now);
    let mut resp = reply::redirect(&next);
    reply::set_cookie(
        &mut resp,
        SESSION_COOKIE,
        &value,
        auth.session_secs(),
        req.https,
    );
    reply::set_cookie(&mut resp, LOGIN_COOKIE, "", 0, req.https);
    Ok(resp)
}

/// `POST /logout`: ends the session here and in the database, so the cookie is dead even if
/// it was copied.
pub async fn logout(web: &Arc<Web>, req: &Req, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let auth = web.auth()?;
    let Some(session) = who.session else {
        return Err(WebError::BadRequest(
            "log out ends a browser session; HTTP basic auth has none".into(),
        ));
    };
    let fields = reply::form(&req.body);
    if !auth.csrf_ok(&session, fields.get("csrf").map_or("", String::as_str)) {
        return Err(WebError::Csrf);
    }
    auth.revoke(&session, unix_now());
    web.db(move |s| s.revoke_session(&session.nonce, session.expires))
        .await?;
    tracing::info!("web logout by {:?} from {}", who.user, req.client);
    let mut resp = reply::redirect("/login");
    reply::set_cookie(&mut resp, SESSION_COOKIE, "", 0, req.https);
    Ok(resp)
}
