//! One JWKS fetch over HTTP(S): status 200 only, no redirects, a body cap, one retry on
//! connection errors, and one timeout around all of it (the retry included).

use std::time::Duration;

use crate::verify::config::FetchSettings;

use super::set::KeySet;

/// Why a fetch failed (for logs; the verifier maps every failure to the same rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    /// Could not connect or the connection broke.
    #[error("connection failed")]
    Connect,
    /// The host name did not resolve.
    #[error("DNS lookup failed")]
    Dns,
    /// The TLS handshake failed (e.g. a certificate the system roots do not trust).
    #[error("TLS handshake failed")]
    Tls,
    /// The fetch took longer than the timeout.
    #[error("timed out")]
    Timeout,
    /// Any status other than 200 (redirects included).
    #[error("HTTP status {0}")]
    Status(u16),
    /// The body exceeded the cap.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not a key set.
    #[error("body is not a JSON key set: {0}")]
    NotAKeySet(super::set::KeySetError),
    /// The body is a key set without one key that could verify a token (empty, or every entry
    /// unreadable or unfit): treated as a failed fetch so it cannot wipe the last good set.
    #[error("key set has no usable key (empty, or every entry unreadable or unfit)")]
    NoUsableKey,
    /// Another transport error.
    #[error("transport error")]
    Transport,
}

/// Builds the HTTP client used for every fetch: no redirects, no proxies, TLS via rustls.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(3))
        .user_agent(concat!("cognito-authz/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Fetches and parses a key set, retrying once when the connection itself failed.
///
/// `settings.timeout` bounds the whole fetch: connecting, TLS, headers, body and the retry.
/// A set with no usable key is a failed fetch ([`FetchError::NoUsableKey`]).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &str,
    settings: &FetchSettings,
) -> Result<KeySet, FetchError> {
    let attempts = async {
        match fetch_once(client, url, settings).await {
            Err(FetchError::Connect | FetchError::Dns | FetchError::Tls) => {
                fetch_once(client, url, settings).await
            }
            other => other,
        }
    };
    let set = tokio::time::timeout(settings.timeout, attempts)
        .await
        .unwrap_or(Err(FetchError::Timeout))?;
    if set.has_usable_key() {
        Ok(set)
    } else {
        Err(FetchError::NoUsableKey)
    }
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    settings: &FetchSettings,
) -> Result<KeySet, FetchError> {
    let mut response = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|error| classify(&error))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(FetchError::Status(status));
    }
    let cap = settings.max_body_bytes;
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(FetchError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| classify(&error))? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::from_json(&body).map_err(FetchError::NotAKeySet)
}

/// The failure a transport error stands for (ALB key fetches classify theirs with it too).
pub(crate) fn classify(error: &reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Timeout;
    }
    if !error.is_connect() {
        return FetchError::Transport;
    }
    // reqwest says "connect" for DNS, TCP and TLS alike; the causes below it tell them apart.
    let mut causes = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push_str(&cause.to_string().to_ascii_lowercase());
        causes.push('\n');
        source = cause.source();
    }
    tracing::debug!(%causes, "key fetch could not connect");
    if causes.contains("dns") || causes.contains("lookup") || causes.contains("resolve") {
        FetchError::Dns
    } else if [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "peer",
        "alert",
    ]
    .iter()
    .any(|word| causes.contains(word))
    {
        FetchError::Tls
    } else {
        FetchError::Connect
    }
}
