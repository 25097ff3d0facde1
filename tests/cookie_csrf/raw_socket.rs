//! Every combination of the headers the cross-site check reads, written byte for byte on a
//! socket to the axum app and the actix-web app: both must answer alike, a refusal must be the
//! core's `cross_site_request` response byte for byte, and the `/transfer` handler must run
//! exactly for the requests the check lets through.

use std::fmt::Write as _;

use cognito_authz::{DenialResponse, ErrorKind};
use cognito_authz_test_support::raw_http::RawAnswer;
use cognito_authz_testkit::LocalIssuer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::apps::{self, App, COOKIE};

/// What a request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The handler runs and answers 200 with the caller's `sub` (`Some`) or none (`None`).
    Handler(Option<()>),
    /// Refused with the core's response for this kind; the handler does not run.
    Denied(ErrorKind),
}

const RAN_WITH_USER: Expect = Expect::Handler(Some(()));
const RAN_WITHOUT_USER: Expect = Expect::Handler(None);
const CROSS_SITE: Expect = Expect::Denied(ErrorKind::CrossSiteRequest);

struct Case {
    description: String,
    method: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    expect: Expect,
}

fn case(
    description: impl Into<String>,
    method: &'static str,
    path: &'static str,
    headers: &[(&str, &str)],
    expect: Expect,
) -> Case {
    Case {
        description: description.into(),
        method,
        path,
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        expect,
    }
}

/// A parsed HTTP/1.1 answer: status, headers (lowercase names, `date` dropped, sorted) and
/// body bytes.
type Answer = RawAnswer;

/// Writes `case` as raw bytes (one header line per pair, in order) and reads the answer.
async fn send(port: u16, case: &Case) -> Answer {
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n",
        case.method, case.path
    );
    for (name, value) in &case.headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("answer read");
    let mut answer = Answer::parse(&bytes).expect("a complete head with a status line");
    answer.headers.retain(|(name, _)| name != "date");
    answer.headers.sort();
    answer
}

/// Sends every case to both apps, stops them, and fails with one line per problem.
async fn run(cases: &[Case], mut apps: Vec<App>) {
    let problems = problems(cases, &mut apps).await;
    for app in apps {
        app.stop().await;
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Sends every case to both apps; returns one line per problem.
async fn problems(cases: &[Case], apps: &mut [App]) -> Vec<String> {
    let mut problems = Vec::new();
    for case in cases {
        let mut answers = Vec::new();
        for app in apps.iter_mut() {
            let case = &personalize(case, app);
            let before = app.hits();
            let answer = send(app.port, case).await;
            let seen = app.next_seen_at(case.path).await;
            let ran = app.hits() - before;
            // Header names only: the values hold the token.
            let names: Vec<&str> = case.headers.iter().map(|(name, _)| name.as_str()).collect();
            let label = format!(
                "{} {} {} ({}) {names:?}",
                app.framework, case.method, case.path, case.description
            );
            if let Some(problem) = judge(case, &answer, ran, seen.status) {
                problems.push(format!("{label}: {problem}; got {answer:?}"));
            }
            answers.push(answer);
        }
        if let [axum, actix] = answers.as_slice()
            && axum != actix
        {
            problems.push(format!(
                "{} {} ({}): the adapters differ:\n    axum:  {axum:?}\n    actix: {actix:?}",
                case.method, case.path, case.description
            ));
        }
    }
    problems
}

/// What is wrong with `answer` to `case`, if anything.
fn judge(case: &Case, answer: &Answer, ran: usize, recorded: u16) -> Option<String> {
    let transfer = case.path == "/transfer";
    if recorded != answer.status {
        return Some(format!("the recorder saw status {recorded}"));
    }
    match case.expect {
        Expect::Handler(user) => {
            if answer.status != 200 {
                return Some("expected the handler to answer 200".to_owned());
            }
            if transfer && ran != 1 {
                return Some(format!("the handler ran {ran} times, not once"));
            }
            let json: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
            if json["sub"].is_string() != user.is_some() {
                return Some(format!(
                    "the handler was told the caller is {}",
                    json["sub"]
                ));
            }
            None
        }
        Expect::Denied(kind) => {
            let core = DenialResponse::new(kind, &[], None);
            if ran != 0 {
                return Some(format!("refused, yet the handler ran {ran} times"));
            }
            let challenge = core
                .www_authenticate()
                .map(|value| value.to_str().expect("ascii"));
            let expected = (
                core.status().as_u16(),
                challenge,
                Some("application/json"),
                core.body(),
            );
            let got = (
                answer.status,
                answer.header("www-authenticate"),
                answer.header("content-type"),
                std::str::from_utf8(&answer.body).expect("a UTF-8 body"),
            );
            (got != expected).then(|| format!("expected {kind}: {expected:?}"))
        }
    }
}

/// One app of each adapter with the same settings, each allowing its own origin.
async fn start_both(
    issuer: &LocalIssuer,
    token: &str,
    configure: fn(cognito_authz::TokenSourceBuilder, &str) -> cognito_authz::TokenSourceBuilder,
) -> Vec<App> {
    let axum = apps::start_axum(
        |origin| apps::authorizer(issuer, |builder| configure(builder, origin)),
        token.to_owned(),
    )
    .await;
    let actix = apps::start_actix(
        |origin| apps::authorizer(issuer, |builder| configure(builder, origin)),
        token.to_owned(),
    );
    vec![axum, actix]
}

/// Rows for apps that allow their own origin; `{own}` and `{port}` in a header stand for the
/// app's origin and port (see `personalize`).
fn strict_cases(token: &str, expired: &str) -> Vec<Case> {
    let cookie = format!("theme=dark; {COOKIE}={token}");
    let expired_cookie = format!("{COOKIE}={expired}");
    let bearer = format!("Bearer {token}");
    let c = cookie.as_str();
    vec![
        // Fetch Metadata, as browsers send it
        case(
            "no origin headers at all",
            "POST",
            "/transfer",
            &[("cookie", c)],
            CROSS_SITE,
        ),
        case(
            "same-origin",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "same-origin")],
            RAN_WITH_USER,
        ),
        case(
            "user-initiated navigation",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "none")],
            RAN_WITH_USER,
        ),
        case(
            "cross-site",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            CROSS_SITE,
        ),
        case(
            "same-site, not allowed",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "same-site")],
            CROSS_SITE,
        ),
        case(
            "cross-site from another origin",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://localhost:9"),
            ],
            CROSS_SITE,
        ),
        case(
            "cross-site with an allowed Origin",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "cross-site"),
                ("origin", "{own}"),
            ],
            RAN_WITH_USER,
        ),
        case(
            "cross-site with Origin: null",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "cross-site"),
                ("origin", "null"),
            ],
            CROSS_SITE,
        ),
        case(
            "cross-site with an own Referer",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "cross-site"),
                ("referer", "{own}/"),
            ],
            CROSS_SITE,
        ),
        // Fetch Metadata no browser writes
        case(
            "forged: capitalized",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "Same-Origin")],
            CROSS_SITE,
        ),
        case(
            "forged: a list",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "same-origin, same-origin"),
            ],
            CROSS_SITE,
        ),
        case(
            "forged: twice",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-site", "same-origin"),
            ],
            CROSS_SITE,
        ),
        case(
            "forged: unknown value",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "trusted")],
            CROSS_SITE,
        ),
        case(
            "forged: empty",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "")],
            CROSS_SITE,
        ),
        // Origin, for browsers without Fetch Metadata
        case(
            "own Origin",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "{own}")],
            RAN_WITH_USER,
        ),
        case(
            "own Origin, upper case host",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "HTTP://127.0.0.1:{port}")],
            RAN_WITH_USER,
        ),
        case(
            "Origin: null",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "null")],
            CROSS_SITE,
        ),
        case(
            "Origin: null with an own Referer",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "null"), ("referer", "{own}/")],
            CROSS_SITE,
        ),
        case(
            "Origin on another port",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "http://127.0.0.1:1")],
            CROSS_SITE,
        ),
        case(
            "Origin with another scheme",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "https://127.0.0.1:{port}")],
            CROSS_SITE,
        ),
        case(
            "Origin on another host",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "http://localhost:{port}")],
            CROSS_SITE,
        ),
        case(
            "Origin without the port",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "http://127.0.0.1")],
            CROSS_SITE,
        ),
        case(
            "Origin with a path",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "{own}/")],
            CROSS_SITE,
        ),
        case(
            "Origin as a prefix",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "{own}.evil.example")],
            CROSS_SITE,
        ),
        case(
            "Origin twice",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "{own}"), ("origin", "{own}")],
            CROSS_SITE,
        ),
        case(
            "foreign Origin with an own Referer",
            "POST",
            "/transfer",
            &[
                ("cookie", c),
                ("origin", "http://localhost:9"),
                ("referer", "{own}/"),
            ],
            CROSS_SITE,
        ),
        // Referer, when there is neither
        case(
            "own Referer",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "{own}/cart?step=2")],
            RAN_WITH_USER,
        ),
        case(
            "Referer on another port",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "http://127.0.0.1:1/")],
            CROSS_SITE,
        ),
        case(
            "Referer with another scheme",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "https://127.0.0.1:{port}/")],
            CROSS_SITE,
        ),
        case(
            "Referer with user info",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "http://me@127.0.0.1:{port}/")],
            CROSS_SITE,
        ),
        case(
            "Referer as a prefix",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "{own}.evil.example/")],
            CROSS_SITE,
        ),
        // methods
        case(
            "cross-site GET",
            "GET",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            RAN_WITH_USER,
        ),
        case(
            "cross-site OPTIONS",
            "OPTIONS",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            RAN_WITH_USER,
        ),
        case(
            "cross-site PUT",
            "PUT",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            CROSS_SITE,
        ),
        case(
            "cross-site DELETE",
            "DELETE",
            "/transfer",
            &[("cookie", c), ("origin", "null")],
            CROSS_SITE,
        ),
        case(
            "cross-site PATCH",
            "PATCH",
            "/transfer",
            &[("cookie", c)],
            CROSS_SITE,
        ),
        // the header token is not a cookie: never checked
        case(
            "bearer, cross-site",
            "POST",
            "/transfer",
            &[("authorization", &bearer), ("sec-fetch-site", "cross-site")],
            RAN_WITH_USER,
        ),
        case(
            "bearer, Origin: null",
            "POST",
            "/transfer",
            &[("authorization", &bearer), ("origin", "null")],
            RAN_WITH_USER,
        ),
        case(
            "bearer, no origin headers",
            "DELETE",
            "/transfer",
            &[("authorization", &bearer)],
            RAN_WITH_USER,
        ),
        case(
            "bearer and cookie",
            "POST",
            "/transfer",
            &[
                ("authorization", &bearer),
                ("cookie", c),
                ("sec-fetch-site", "same-origin"),
            ],
            Expect::Denied(ErrorKind::InvalidRequest),
        ),
        // order: token extraction, then the check, then verification
        case(
            "no token, cross-site",
            "POST",
            "/transfer",
            &[("sec-fetch-site", "cross-site")],
            Expect::Denied(ErrorKind::MissingToken),
        ),
        case(
            "expired cookie, cross-site",
            "POST",
            "/transfer",
            &[
                ("cookie", &expired_cookie),
                ("sec-fetch-site", "cross-site"),
            ],
            CROSS_SITE,
        ),
        case(
            "expired cookie, same-origin",
            "POST",
            "/transfer",
            &[
                ("cookie", &expired_cookie),
                ("sec-fetch-site", "same-origin"),
            ],
            Expect::Denied(ErrorKind::Expired),
        ),
        case(
            "garbage cookie, no origin headers",
            "POST",
            "/transfer",
            &[("cookie", "id_token=garbage")],
            CROSS_SITE,
        ),
        // a public route answers, without the cookie's identity when the request is cross-site
        case(
            "public, cross-site",
            "POST",
            "/whoami",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            RAN_WITHOUT_USER,
        ),
        case(
            "public, no origin headers",
            "POST",
            "/whoami",
            &[("cookie", c)],
            RAN_WITHOUT_USER,
        ),
        case(
            "public, same-origin",
            "POST",
            "/whoami",
            &[("cookie", c), ("sec-fetch-site", "same-origin")],
            RAN_WITH_USER,
        ),
        case(
            "public, cross-site GET",
            "GET",
            "/whoami",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            RAN_WITH_USER,
        ),
    ]
}

/// `case` with the app's own origin and port written in for `{own}` and `{port}` (the two
/// apps listen on different ports, so each gets its own copy of such rows). Braces never occur
/// in a token, so the cookie values are left alone.
fn personalize(case: &Case, app: &App) -> Case {
    Case {
        description: case.description.clone(),
        method: case.method,
        path: case.path,
        headers: case
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value
                    .replace("{own}", &app.origin)
                    .replace("{port}", &app.port.to_string());
                (name.clone(), value)
            })
            .collect(),
        expect: case.expect,
    }
}

#[actix_web::test]
async fn every_header_combination_gets_the_same_answer_from_both_adapters() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let now = issuer.manual_clock().expect("manual clock").now_secs();
    let token = issuer.access_token().sign();
    let expired = issuer
        .access_token()
        .issued_at(now - 7200)
        .expires_at(now - 3600)
        .sign();
    let apps = start_both(&issuer, &token, |builder, origin| {
        builder.allowed_origins([origin])
    })
    .await;
    run(&strict_cases(&token, &expired), apps).await;
}

#[actix_web::test]
async fn same_site_and_origin_less_requests_pass_only_where_configured() {
    let issuer = LocalIssuer::start().await.expect("local issuer");
    let token = issuer.access_token().sign();
    let cookie = format!("{COOKIE}={token}");
    let c = cookie.as_str();
    let apps = start_both(&issuer, &token, |builder, _| {
        builder.allow_same_site(true).allow_missing_origin(true)
    })
    .await;
    let cases = [
        case(
            "same-site, allowed",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "same-site")],
            RAN_WITH_USER,
        ),
        case(
            "no origin headers, allowed",
            "POST",
            "/transfer",
            &[("cookie", c)],
            RAN_WITH_USER,
        ),
        case(
            "cross-site",
            "POST",
            "/transfer",
            &[("cookie", c), ("sec-fetch-site", "cross-site")],
            CROSS_SITE,
        ),
        case(
            "Origin: null",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "null")],
            CROSS_SITE,
        ),
        // no origins are listed: an Origin or Referer never matches
        case(
            "some Origin",
            "POST",
            "/transfer",
            &[("cookie", c), ("origin", "http://127.0.0.1:1")],
            CROSS_SITE,
        ),
        case(
            "some Referer",
            "POST",
            "/transfer",
            &[("cookie", c), ("referer", "http://127.0.0.1:1/")],
            CROSS_SITE,
        ),
    ];
    run(&cases, apps).await;
}
