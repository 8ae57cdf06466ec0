//! `/blocklist`: the operator's list of blocked addresses, networks and torrents.
//!
//! `GET` shows the entries and the add form; `POST /blocklist` adds an entry (or updates the
//! reason of an existing one) and `POST /blocklist/remove` deletes one. A change is written to
//! SQLite first, then the in-memory copy the announce path reads is reloaded from the database
//! (so both always agree), and peers the change blocks are dropped from the swarms at once, so
//! other peers stop getting them before the blocked client's next announce is refused.

use super::error::WebError;
use super::{format, reply, Layout, Req, Web, Who};
use crate::blocklist::{BlockEntry, BlockTarget};
use crate::tracker::unix_now;
use askama::Template;
use http::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;

/// Longest reason accepted, in characters (it is sent in every refusal).
pub const MAX_REASON_CHARS: usize = 200;

/// Serialises "write the database, reload the in-memory set": two edits interleaving could
/// otherwise install an older reload after a newer one.
static EDIT: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Re-reads the in-memory blocklist from the database (SIGHUP: entries written by other tools),
/// serialised with the edits so that an older read never replaces a newer one; blocking.
/// Gives the number of entries.
pub fn reload(
    storage: &crate::storage::Storage,
    blocklist: &crate::blocklist::Blocklist,
) -> Result<usize, crate::storage::StorageError> {
    let _one_at_a_time = EDIT.lock();
    let entries = storage.blocklist()?;
    let n = entries.len();
    blocklist.replace(entries);
    Ok(n)
}

/// One row of the table.
struct Row {
    id: i64,
    target: String,
    kind: &'static str,
    reason: String,
    added: String,
    by: String,
}

impl Row {
    fn new(e: &BlockEntry) -> Row {
        Row {
            id: e.id,
            target: e.target.to_string(),
            kind: kind(&e.target),
            reason: e.reason.clone(),
            added: format::utc(e.created),
            by: e.created_by.clone(),
        }
    }
}

/// The blocklist page.
#[derive(Template)]
#[template(path = "blocklist.html")]
struct BlocklistPage<'a> {
    layout: Layout<'a>,
    rows: Vec<Row>,
    /// Why the last submission was refused; empty for none.
    error: &'a str,
    /// What the add form shows (the refused submission, so nothing is typed twice).
    target: &'a str,
    reason: &'a str,
    max_reason: usize,
}

/// `address`, `network` or `torrent`.
fn kind(t: &BlockTarget) -> &'static str {
    match t {
        BlockTarget::Net(n) if n.prefix_len() == n.max_prefix_len() => "address",
        BlockTarget::Net(_) => "network",
        BlockTarget::Hash(_) => "torrent",
    }
}

/// Checks the operator's reason: some text, at most [`MAX_REASON_CHARS`], no control
/// characters (it goes into every refusal and the log). Returns it trimmed.
pub fn check_reason(reason: &str) -> Result<&str, String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(
            "the reason is empty: write why this is blocked (refused clients are shown it)".into(),
        );
    }
    let chars = r.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(format!(
            "the reason is {chars} characters long; at most {MAX_REASON_CHARS} are allowed"
        ));
    }
    if let Some(c) = r.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the reason contains the control character U+{:04X}; use plain text on one line",
            u32::from(c)
        ));
    }
    Ok(r)
}

/// Parses the target field, with a message that names the value and what is expected.
pub fn check_target(target: &str) -> Result<BlockTarget, String> {
    if target.trim().is_empty() {
        return Err(
            "the target is empty: enter an IP address (10.1.2.3), a CIDR network (10.1.2.0/24) or a 40-digit hex info hash"
                .into(),
        );
    }
    BlockTarget::parse(target).map_err(|e| {
        format!("{e} (examples: 10.1.2.3, 10.1.2.0/24, 2001:db8::/32, 466d846e88635a7aa032ca8cbe2d810495dea262)")
    })
}

/// Renders the page with `status` (400 re-shows the refused form with its message).
fn render(
    who: &Who,
    entries: &[BlockEntry],
    status: StatusCode,
    error: &str,
    target: &str,
    reason: &str,
) -> Response<Vec<u8>> {
    let page = BlocklistPage {
        layout: Layout::new(who, "blocklist"),
        rows: entries.iter().map(Row::new).collect(),
        error,
        target,
        reason,
        max_reason: MAX_REASON_CHARS,
    };
    let mut resp = reply::page(&page);
    if resp.status() == StatusCode::OK {
        *resp.status_mut() = status;
    }
    resp
}

/// `GET /blocklist`.
pub async fn show(web: &Arc<Web>, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    Ok(render(
        who,
        &web.blocklist.entries(),
        StatusCode::OK,
        "",
        "",
        "",
    ))
}

/// The form's fields after the CSRF check (a form needs a browser session: with HTTP basic
/// auth a browser would send the credentials on a forged form too). The checks page's small
/// forms use it too.
pub(super) fn checked_form(
    web: &Web,
    req: &Req,
    who: &Who,
) -> Result<HashMap<String, String>, WebError> {
    let auth = web.auth()?;
    let fields = reply::form(&req.body);
    let token = fields.get("csrf").map_or("", String::as_str);
    match &who.session {
        Some(session) if auth.csrf_ok(session, token) => Ok(fields),
        _ => Err(WebError::Csrf),
    }
}

/// Writes with `write`, then reloads the in-memory blocklist from the database.
async fn edit<T, F>(web: &Arc<Web>, write: F) -> Result<T, WebError>
where
    T: Send + 'static,
    F: FnOnce(&crate::storage::Storage) -> Result<T, crate::storage::StorageError> + Send + 'static,
{
    let blocklist = Arc::clone(&web.blocklist);
    web.db(move |s| {
        let _one_at_a_time = EDIT.lock();
        let out = write(s)?;
        blocklist.replace(s.blocklist()?);
        Ok(out)
    })
    .await
}

/// `POST /blocklist`: CSRF, validation, store, reload, drop the blocked peers, 303.
pub async fn add(web: &Arc<Web>, req: &Req, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let fields = checked_form(web, req, who)?;
    let field = |name: &str| fields.get(name).map_or("", String::as_str);
    let (target_text, reason_text) = (field("target"), field("reason"));
    let checked = check_target(target_text)
        .and_then(|t| check_reason(reason_text).map(|r| (t, r.to_owned())));
    let (target, reason) = match checked {
        Ok(ok) => ok,
        Err(message) => {
            return Ok(render(
                who,
                &web.blocklist.entries(),
                StatusCode::BAD_REQUEST,
                &message,
                target_text,
                reason_text,
            ));
        }
    };
    let (user, stored_reason) = (who.user.clone(), reason.clone());
    edit(web, move |s| {
        s.add_block(&target, &stored_reason, unix_now(), &user)
    })
    .await?;
    let dropped = {
        let web = Arc::clone(web);
        crate::blocking::try_run(move || {
            web.store
                .remove_peers(&mut |h, p| web.blocklist.blocks_peer(h, p.ip))
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
    };
    // An announce that passed the check just before the new set was installed may re-add its
    // peer after the sweep above; a second sweep shortly after catches it.
    let later = Arc::clone(web);
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let _ = crate::blocking::try_run(move || {
            later
                .store
                .remove_peers(&mut |h, p| later.blocklist.blocks_peer(h, p.ip))
        })
        .await;
    });
    tracing::info!(
        "blocklist: {:?} from {} blocked {} {target}: {reason:?}; {dropped} peers dropped from the swarms",
        who.user,
        req.client,
        kind(&target),
    );
    Ok(reply::redirect("/blocklist"))
}

/// `POST /blocklist/remove`: CSRF, the entry's `id`, delete, reload, 303.
pub async fn remove(web: &Arc<Web>, req: &Req, who: &Who) -> Result<Response<Vec<u8>>, WebError> {
    let fields = checked_form(web, req, who)?;
    let raw = fields.get("id").map_or("", String::as_str);
    let id: i64 = raw.trim().parse().map_err(|_| {
        WebError::BadRequest(format!(
            "'{raw}' is not a blocklist entry id (a whole number from the Unblock button)"
        ))
    })?;
    let before = web.blocklist.entries().into_iter().find(|e| e.id == id);
    let removed = edit(web, move |s| s.remove_block(id)).await?;
    match (removed, before) {
        (true, Some(e)) => tracing::info!(
            "blocklist: {:?} from {} unblocked {} {} (was: {:?})",
            who.user,
            req.client,
            kind(&e.target),
            e.target,
            e.reason
        ),
        (true, None) => tracing::info!(
            "blocklist: {:?} from {} removed entry {id}",
            who.user,
            req.client
        ),
        // Already gone (a second click, another tab): the list the browser comes back to says so.
        (false, _) => tracing::info!(
            "blocklist: {:?} from {} asked to remove entry {id}, which does not exist",
            who.user,
            req.client
        ),
    }
    Ok(reply::redirect("/blocklist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_checked() {
        assert_eq!(check_reason("  DMCA notice 42 "), Ok("DMCA notice 42"));
        assert_eq!(check_reason("<script>"), Ok("<script>"));
        assert!(check_reason("").unwrap_err().contains("reason is empty"));
        assert!(check_reason(" \t ")
            .unwrap_err()
            .contains("reason is empty"));
        let long = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(
            check_reason(&long),
            Ok(long.as_str()),
            "characters, not bytes"
        );
        let err = check_reason(&format!("{long}x")).unwrap_err();
        assert!(
            err.contains("201 characters") && err.contains("at most 200"),
            "{err}"
        );
        let err = check_reason("one\ntwo").unwrap_err();
        assert!(err.contains("U+000A"), "{err}");
        assert!(check_reason("bell\u{7}").unwrap_err().contains("U+0007"));
    }

    #[test]
    fn targets_are_checked_with_a_useful_message() {
        assert_eq!(kind(&check_target("10.0.0.1").unwrap()), "address");
        assert_eq!(kind(&check_target("10.0.0.0/8").unwrap()), "network");
        assert_eq!(kind(&check_target("2001:db8::1").unwrap()), "address");
        assert_eq!(
            kind(&check_target("466D846E88635A7AA032CA8CBE2D810495DEA262").unwrap()),
            "torrent"
        );
        assert!(check_target(" ").unwrap_err().contains("target is empty"));
        let err = check_target("example.com").unwrap_err();
        assert!(
            err.contains("'example.com'") && err.contains("40-digit hex info hash"),
            "{err}"
        );
    }
}
