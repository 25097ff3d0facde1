//! A real browser attacks the cookie-token app from another site, and uses it from its own
//! page: headless Chromium (see `chromium`), the app on `http://127.0.0.1:PORT` (axum, then
//! actix-web), the attacker's page on `http://localhost:PORT2` — a different *site* (site =
//! scheme + registrable domain; `localhost` and `127.0.0.1` are different hosts) — and on
//! `http://127.0.0.1:PORT2`, the same site but another origin.
//!
//! What is asserted, on the app's side (the recorder outside the authorization layer and the
//! handler's run count), never on what the page could read:
//! - an auto-submitting form `POST` and a `fetch(…, {credentials: "include"})` from the
//!   attacker's page reach the app **with the token cookie**, carry the `Sec-Fetch-Site` the
//!   browser wrote, and are refused with `cross_site_request` (403, no challenge) before the
//!   handler runs;
//! - the same two actions from the app's own page run the handler.
//!
//! Why the cookie is `SameSite=None; Secure`: Chromium treats a cookie without `SameSite` as
//! `Lax`, and a `Lax` cookie is not sent on a cross-site `POST` or `fetch` at all (except,
//! for a top-level `POST`, within two minutes of being set), so the browser alone would stop
//! the attack and this test would prove nothing about our check. `SameSite=None` is what an
//! app that needs the cookie on cross-site requests sets (and what older browsers did by
//! default); with it, only the cross-site check stands between the attacker and the handler.
//! `Secure` is required with `SameSite=None`; Chromium accepts it over plain HTTP on
//! 127.0.0.1, a potentially trustworthy origin. Headless Chromium also blocks third-party
//! cookies by default (desktop Chrome does not), which would stop the cross-site `fetch` too;
//! the test profile allows them (`chromium.rs`). The test checks that the cookie did reach the
//! app on the attacker's requests, so a browser that withheld it fails the test instead of
//! passing it for the wrong reason.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use cognito_authz_testkit::LocalIssuer;

use super::apps::{self, App, COOKIE, PAGE, Seen};
use super::chromium::Browser;

/// The attacker's server: serves `PAGE` at `/attack`, with no authorization at all.
async fn start_attacker() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let router = Router::new().route("/attack", get(|| async { Html(PAGE) }));
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("attacker serves");
    });
    (port, task)
}

/// Loads `url` and returns the `POST /transfer` it makes the browser send to `app`.
async fn post_from(browser: &mut Browser, tab: &str, app: &mut App, url: &str) -> Seen {
    app.drain();
    browser.navigate(tab, url).await;
    let seen = app.next_seen_at("/transfer").await;
    assert_eq!(seen.method, "POST", "{url}: {seen:?}");
    seen
}

/// Signs in (the app sets the cookie), then attacks and uses `app` from `browser`.
async fn attack_and_use(browser: &mut Browser, app: &mut App, attacker_port: u16) {
    let name = app.framework;
    let tab = browser.new_tab().await;
    browser
        .navigate(&tab, &format!("{}/login", app.origin))
        .await;
    let login = app.next_seen_at("/login").await;
    assert_eq!(login.status, 200, "{name}: {login:?}");
    let cookies = browser.cookies().await;
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie["name"] == COOKIE && cookie["domain"] == "127.0.0.1"),
        "{name}: Chromium did not keep the token cookie (SameSite=None; Secure on \
         http://127.0.0.1); its cookies: {cookies:?}\n{}",
        browser.log()
    );
    let target = format!("{}/transfer", app.origin);

    // The attacker's page on another site, then on the same site but another origin.
    let attacks = [
        ("cross-site form", "localhost", "form", "cross-site"),
        ("cross-site fetch", "localhost", "fetch", "cross-site"),
        ("same-site form", "127.0.0.1", "form", "same-site"),
        ("same-site fetch", "127.0.0.1", "fetch", "same-site"),
    ];
    for (attack, host, action, site) in attacks {
        let url = format!("http://{host}:{attacker_port}/attack?do={action}&target={target}");
        let seen = post_from(browser, &tab, app, &url).await;
        if !seen.cookie {
            let withheld = browser.withheld_cookies().await;
            panic!(
                "{name} {attack}: the browser did not send the token cookie, so the check \
                 was not exercised: {seen:?}; withheld cookies: {withheld:?}"
            );
        }
        assert_eq!(
            seen.sec_fetch_site.as_deref(),
            Some(site),
            "{name} {attack}: {seen:?}"
        );
        assert_eq!(
            seen.origin.as_deref(),
            Some(format!("http://{host}:{attacker_port}").as_str()),
            "{name} {attack}: {seen:?}"
        );
        assert!(
            seen.refused_cross_site(),
            "{name} {attack}: not refused as cross_site_request: {seen:?}"
        );
        assert_eq!(app.hits(), 0, "{name} {attack}: the handler ran");
    }

    // The same actions from the app's own page.
    for (number, action) in [(1, "form"), (2, "fetch")] {
        let url = format!("{}/?do={action}", app.origin);
        let seen = post_from(browser, &tab, app, &url).await;
        assert!(seen.cookie, "{name} own {action}: no cookie: {seen:?}");
        assert_eq!(
            seen.sec_fetch_site.as_deref(),
            Some("same-origin"),
            "{name} own {action}: {seen:?}"
        );
        assert_eq!(seen.status, 200, "{name} own {action}: {seen:?}");
        assert_eq!(
            app.hits(),
            number,
            "{name} own {action}: the handler did not run"
        );
    }
}

#[actix_web::test]
async fn chromium_attacks_from_another_site_are_refused_and_the_apps_own_page_works() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let token = issuer.access_token().sign();
    let (attacker_port, attacker) = start_attacker().await;
    let mut browser = Browser::launch().await;

    // Only Fetch Metadata decides here (Chromium sends it): no origins are listed.
    let mut axum = apps::start_axum(|_| apps::authorizer(&issuer, |b| b), token.clone()).await;
    attack_and_use(&mut browser, &mut axum, attacker_port).await;
    axum.stop().await;

    let mut actix = apps::start_actix(|_| apps::authorizer(&issuer, |b| b), token);
    attack_and_use(&mut browser, &mut actix, attacker_port).await;
    actix.stop().await;

    browser.close().await;
    attacker.abort();
}
