//! The web UI's login rules, checked over HTTP as a browser and a script would meet them.

mod common;

use common::web::{self, basic, csrf_in, enc, request, set_cookie, Browser, PASSWORD};

#[tokio::test]
async fn pages_need_a_session_and_the_api_needs_credentials() {
    let t = web::start(|_| {}).await;
    for page in ["/", "/stat", "/history", "/all_peers", "/blocklist"] {
        let r = request(t.addr, "GET", &format!("{page}?x=1"), &[], "").await;
        assert_eq!(r.status, 303, "{page}");
        let next = web::enc(&format!("{page}?x=1")).replace("%2F", "/");
        assert_eq!(
            r.header("location"),
            Some(format!("/login?next={next}").as_str())
        );
    }
    for api in ["/api/stats", "/export/peers.csv", "/export/torrents.json"] {
        let r = request(t.addr, "GET", api, &[], "").await;
        assert_eq!(r.status, 401, "{api}");
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .starts_with("Basic realm="));
    }
    // Scripts use HTTP basic auth with the same account.
    let wrong = request(
        t.addr,
        "GET",
        "/api/stats",
        &[("Authorization", &basic("admin", "nope"))],
        "",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let right = request(
        t.addr,
        "GET",
        "/stat",
        &[("Authorization", &basic("admin", PASSWORD))],
        "",
    )
    .await;
    assert_ne!(right.status, 303, "basic auth is a login for pages too");
    assert_ne!(right.status, 401);
    // Tracker paths are not behind the login.
    assert_eq!(t.get("/announce").await.status, 200);
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_logout_kills_it() {
    let t = web::start(|c| c.stats.session_hours = 2).await;
    let form = request(t.addr, "GET", "/login?next=/all_peers", &[], "").await;
    let html = String::from_utf8(form.body.clone()).unwrap();
    assert!(
        html.contains("name=\"next\" value=\"/all_peers\""),
        "{html}"
    );
    let b = Browser::login(t.addr).await;
    let other = Browser::login(t.addr).await;
    let r = request(t.addr, "GET", "/login", &[], "").await;
    assert_eq!(r.status, 200);
    // The cookie attributes a user's browser enforces.
    let form = request(t.addr, "GET", "/login", &[], "").await;
    let login_cookie = set_cookie(&form, "retracker_login").unwrap();
    let csrf = csrf_in(&String::from_utf8_lossy(&form.body)).unwrap();
    let r = request(
        t.addr,
        "POST",
        "/login",
        &[("Cookie", &format!("retracker_login={login_cookie}"))],
        &format!(
            "csrf={csrf}&username=admin&password={}&next=%2F%2Fevil.example%2F",
            enc(PASSWORD)
        ),
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/stat"), "no open redirect");
    let raw = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("retracker_session="))
        .unwrap()
        .1
        .clone();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7200"] {
        assert!(raw.contains(attr), "{raw}");
    }

    // A session works until logout; logout needs its CSRF token.
    let page = b.get("/stat").await;
    assert_ne!(page.status, 303);
    let no_csrf = b.post("/logout", "").await;
    assert_eq!(no_csrf.status, 403);
    let wrong_csrf = b.post("/logout", "csrf=00").await;
    assert_eq!(wrong_csrf.status, 403);
    // The logout button of the page layout carries the session's token.
    let token = csrf_in(&b.page("/stat").await).expect("logout form with a CSRF token");
    let out = b.post("/logout", &format!("csrf={token}")).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/login"));
    assert_eq!(set_cookie(&out, "retracker_session").as_deref(), Some(""));
    assert_eq!(
        b.get("/stat").await.status,
        303,
        "the copied cookie is dead"
    );
    // And it stays dead after a restart: the revocation is in the database.
    let config = {
        let mut c = common::config_in(t.dir.path());
        c.stats.access_password = PASSWORD.into();
        c.stats.session_hours = 2;
        c
    };
    let dir = t.stop().await;
    let t = common::Tracker::start_in(dir, config, &["127.0.0.1:0"]).await;
    let after = request(t.addr, "GET", "/stat", &[("Cookie", &b.cookie)], "").await;
    assert_eq!(after.status, 303);
    // While a session cookie from before the restart that was not logged out still works.
    assert_eq!(
        request(t.addr, "GET", "/stat", &[("Cookie", &other.cookie)], "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn wrong_passwords_and_missing_csrf_are_refused_and_rate_limited() {
    let t = web::start(|c| c.stats.login_attempts = 3).await;
    // No CSRF cookie/token: 403 before the password is even looked at.
    let r = request(
        t.addr,
        "POST",
        "/login",
        &[],
        &format!("username=admin&password={}", enc(PASSWORD)),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(set_cookie(&r, "retracker_session").is_none());

    for _ in 0..3 {
        let r = Browser::try_login(t.addr, "admin", "wrong")
            .await
            .err()
            .unwrap();
        assert_eq!(r.status, 401);
        assert!(String::from_utf8_lossy(&r.body).contains("Wrong user name or password"));
    }
    // Limit reached: even the right password is refused for a while, with Retry-After.
    let r = Browser::try_login(t.addr, "admin", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(r.status, 429);
    let wait: u32 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 800 && wait <= 900, "{wait}");
    assert!(String::from_utf8_lossy(&r.body).contains("too many failed logins"));
}

#[tokio::test]
async fn without_a_password_the_ui_is_off_and_the_tracker_works() {
    let t = common::Tracker::start(|c| c.stats.access_password.clear()).await;
    for path in ["/stat", "/login", "/api/stats"] {
        let r = request(t.addr, "GET", path, &[], "").await;
        assert_eq!(r.status, 404, "{path}");
        assert!(
            String::from_utf8_lossy(&r.body)
                .contains("web UI is disabled: set [STATS] access_password"),
            "{path}"
        );
    }
    let hash = [1u8; 20];
    t.announce(&common::query(&hash, 1, 6881, 0, "")).await;
}

#[tokio::test]
async fn an_argon2_hash_works_as_the_password() {
    let hash = retracker::web::auth::hash_password("s3cret pass");
    let t = web::start(|c| c.stats.access_password = hash).await;
    assert!(Browser::try_login(t.addr, "admin", "s3cret pass")
        .await
        .is_ok());
    assert_eq!(
        Browser::try_login(t.addr, "admin", PASSWORD)
            .await
            .err()
            .unwrap()
            .status,
        401
    );
}

#[tokio::test]
async fn a_web_listener_keeps_the_ui_off_the_tracker_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config_in(dir.path());
    config.stats.access_password = PASSWORD.into();
    let l1 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tracker, ui) = (l1.local_addr().unwrap(), l2.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listeners = retracker::server::Listeners {
        tracker: vec![l1],
        web: vec![l2],
        metrics: vec![],
        udp: vec![],
    };
    let server = tokio::spawn(retracker::server::run(config, listeners, async {
        let _ = stopped.await;
    }));

    // The tracker port: announces, and no UI, no login form, no metrics.
    let q = common::query(&[3; 20], 1, 6881, 0, "");
    let d = common::get(tracker, None, &format!("/announce?{q}"), &[])
        .await
        .dict();
    assert!(d.get("failure reason").is_none());
    for path in ["/stat", "/login", "/api/stats", "/metrics"] {
        assert_eq!(
            request(tracker, "GET", path, &[], "").await.status,
            404,
            "{path}"
        );
    }
    // The UI port: the UI and metrics, and no tracker.
    assert_eq!(request(ui, "GET", "/stat", &[], "").await.status, 303);
    let b = Browser::login(ui).await;
    assert!(b.page("/stat").await.contains("id=\"peers\""));
    assert_eq!(request(ui, "GET", "/metrics", &[], "").await.status, 200);
    let announce = request(ui, "GET", &format!("/announce?{q}"), &[], "").await;
    assert_eq!(announce.status, 404);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
