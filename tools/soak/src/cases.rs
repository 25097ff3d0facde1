//! What the clients send and what the app must answer: every kind of request with its expected
//! status and challenge, the order the clients cycle through them, and the check of an answer.

/// Who sends the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// No `Authorization` header.
    Nobody,
    /// `alice`, group admin, scope reports/read.
    Admin,
    /// `bob`, no groups, the default user scope.
    User,
    /// A client_credentials client with scope reports/read.
    Machine,
    /// A token with the current kid, signed by a key the pool never published.
    BadSignature,
    /// A token whose `exp` is an hour in the past.
    Expired,
    /// One of [`DISTINCT_USERS`] users, in turn.
    Distinct,
}

/// What the app must answer to a 401.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Challenge {
    /// Not a 401: the header is not checked.
    Unchecked,
    /// Exactly this header (the no-token challenge).
    Exactly(&'static str),
    /// `error="invalid_token"` with this `error_description`.
    Describes(&'static str),
}

/// One kind of request and the answer `examples/policy.toml` gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) path: &'static str,
    pub(crate) caller: Caller,
    pub(crate) status: u16,
    pub(crate) challenge: Challenge,
}

const fn case(name: &'static str, path: &'static str, caller: Caller, status: u16) -> Case {
    Case {
        name,
        path,
        caller,
        status,
        challenge: Challenge::Unchecked,
    }
}

const fn unauthorized(name: &'static str, caller: Caller, challenge: Challenge) -> Case {
    Case {
        name,
        path: "/me",
        caller,
        status: 401,
        challenge,
    }
}

/// Every kind of request the soak sends.
pub(crate) const CASES: [Case; 13] = [
    case("health, no token", "/health", Caller::Nobody, 200),
    case("health, admin", "/health", Caller::Admin, 200),
    case("me, user", "/me", Caller::User, 200),
    case("me, machine", "/me", Caller::Machine, 200),
    case("me, distinct user", "/me", Caller::Distinct, 200),
    case("admin, admin", "/admin/users", Caller::Admin, 200),
    case("admin, user", "/admin/users", Caller::User, 403),
    case("reports, machine", "/reports/42", Caller::Machine, 200),
    case("reports, admin", "/reports/42", Caller::Admin, 200),
    case("reports, user", "/reports/42", Caller::User, 403),
    unauthorized("me, no token", Caller::Nobody, Challenge::Exactly("Bearer")),
    unauthorized(
        "me, bad signature",
        Caller::BadSignature,
        Challenge::Describes("invalid signature"),
    ),
    unauthorized(
        "me, expired",
        Caller::Expired,
        Challenge::Describes("token expired"),
    ),
];

/// The order each client task cycles through (indexes into [`CASES`]), each task starting at
/// its own offset: every case once, distinct users three times in sixteen.
pub(crate) const MIX: [usize; 16] = [0, 2, 4, 5, 7, 11, 3, 4, 6, 8, 12, 10, 9, 4, 1, 5];

/// `None` when the answer is the expected one; otherwise what was wrong with it.
pub(crate) fn check(case: &Case, status: u16, challenge: Option<&str>) -> Option<String> {
    let description = |challenge: Option<&str>| {
        challenge
            .and_then(|value| value.split("error_description=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("-")
            .chars()
            .take(40)
            .collect::<String>()
    };
    if status != case.status {
        return Some(if status == 401 {
            format!("401 ({})", description(challenge))
        } else {
            status.to_string()
        });
    }
    let fits = match case.challenge {
        Challenge::Unchecked => true,
        Challenge::Exactly(expected) => challenge == Some(expected),
        Challenge::Describes(expected) => {
            challenge.is_some_and(|value| value.starts_with("Bearer error=\"invalid_token\""))
                && description(challenge) == expected
        }
    };
    (!fits).then(|| format!("{status} with challenge ({})", description(challenge)))
}
