//! A JWKS endpoint on `127.0.0.1`: a small HTTP/1.1 responder whose answer the test switches at
//! any time (keys, error status, redirect, garbage, HTML, oversized body, delay, dropped
//! connection, custom body), with a fetch counter tests can await.
//!
//! One request per connection (`Connection: close`), every response with `Content-Length`
//! (except [`JwksReply::OversizedNoLength`], which ends the body by closing). The server runs as
//! a tokio task that stops, with its open connections, when the [`JwksServer`] is dropped.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::key::{SigningKey, jwks_json};

/// Largest request head read; a longer one gets the connection closed.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Requests remembered by [`JwksServer::requests`] (the oldest are dropped first).
pub const MAX_RECORDED_REQUESTS: usize = 1024;

/// The bytes [`JwksReply::Garbage`] sends: not UTF-8, not JSON.
pub const GARBAGE_BODY: &[u8] = b"\xff\xfe\x00\x89PNG\r\n\x1a\n\x00\x00garbage\xc3\x28{\"keys\":[";

/// The page [`JwksReply::Html`] sends, as a captive portal or proxy error page would.
pub const HTML_BODY: &str = "<!DOCTYPE html>\n<html><head><title>Sign in to the network</title></head>\
<body><h1>Sign in to the network</h1><p>This page is not a key set.</p></body></html>\n";

/// What the server answers to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwksReply {
    /// `200`, `application/json`, the current key set (the normal case).
    Keys,
    /// This status with a short text body (`500`, `404`, `429`, …; `200` sends that text).
    Status(u16),
    /// `302 Found` with this `Location`.
    Redirect(String),
    /// `200`, `application/json`, with [`GARBAGE_BODY`].
    Garbage,
    /// `200`, `text/html`, with [`HTML_BODY`].
    Html,
    /// `200`, `application/json`, the key set padded with whitespace to exactly this many bytes
    /// (or the plain key set when it is already longer), so only a body cap rejects it.
    Oversized(usize),
    /// Like [`JwksReply::Oversized`] but without `Content-Length`: the body ends when the
    /// connection closes, so a client must count bytes as they stream in.
    OversizedNoLength(usize),
    /// `200`, `application/json`, with this body.
    Body(String),
    /// Any status, headers and body (`Content-Length` and `Connection: close` are added).
    Custom {
        /// Status code.
        status: u16,
        /// Extra headers, e.g. `("Cache-Control", "max-age=60")`.
        headers: Vec<(String, String)>,
        /// Body bytes.
        body: Vec<u8>,
    },
    /// Read the request, then close the connection without a response.
    Close,
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/.well-known/jwks.json`.
    pub path: String,
    /// Header names (lower-cased) and values, in order.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

struct State {
    keys: Vec<SigningKey>,
    reply: JwksReply,
    queued: VecDeque<JwksReply>,
    delay: Option<Duration>,
    requests: VecDeque<RecordedRequest>,
}

struct Shared {
    state: Mutex<State>,
    fetches: watch::Sender<u64>,
    /// `true` while replies are held back (see [`JwksServer::hold_replies`]).
    held: watch::Sender<bool>,
    /// Replies written in full.
    replies: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is plain data updated in single statements; a panicking test thread
        // cannot leave it half-written, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JWKS HTTP server on `127.0.0.1:{random port}`, for tests.
///
/// Every path serves the same key set; [`JwksServer::url`] names the conventional one. The
/// reply, delay and keys can be switched at any time; [`fetch_count`](JwksServer::fetch_count)
/// and [`wait_for_fetches`](JwksServer::wait_for_fetches) observe requests. Dropping the
/// handle stops the server and closes its connections.
///
/// # Example
///
/// ```
/// use cognito_authz_testkit::{JwksReply, JwksServer, SigningKey};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let server = JwksServer::start([SigningKey::generate("k1")]).await?;
/// assert!(server.url().starts_with("http://127.0.0.1:"));
/// server.set_reply(JwksReply::Status(500));
/// assert_eq!(server.fetch_count(), 0);
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct JwksServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl fmt::Debug for JwksServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("JwksServer")
            .field("addr", &self.addr)
            .field(
                "kids",
                &state.keys.iter().map(SigningKey::kid).collect::<Vec<_>>(),
            )
            .field("reply", &state.reply)
            .field("delay", &state.delay)
            .field("fetches", &*self.shared.fetches.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        // Aborting the accept task drops its JoinSet, which aborts every open connection.
        self.task.abort();
    }
}

impl JwksServer {
    /// Binds `127.0.0.1:0` and starts serving these keys. Must run inside a tokio runtime.
    ///
    /// # Errors
    /// The loopback port could not be bound.
    pub async fn start(keys: impl IntoIterator<Item = SigningKey>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                keys: keys.into_iter().collect(),
                reply: JwksReply::Keys,
                queued: VecDeque::new(),
                delay: None,
                requests: VecDeque::new(),
            }),
            fetches: watch::Sender::new(0),
            held: watch::Sender::new(false),
            replies: watch::Sender::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        tracing::debug!(%addr, "testkit JWKS server listening");
        Ok(Self { shared, addr, task })
    }

    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/.well-known/jwks.json`.
    pub fn url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base_url())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    // --- replies ---

    /// Sets the standing reply for every request from now on (queued replies go first).
    pub fn set_reply(&self, reply: JwksReply) {
        self.shared.lock().reply = reply;
    }

    /// Queues a reply for one request only; queued replies are used in order before the
    /// standing one (e.g. fail the next fetch, then serve keys again).
    pub fn reply_once(&self, reply: JwksReply) {
        self.shared.lock().queued.push_back(reply);
    }

    /// The standing reply.
    pub fn reply(&self) -> JwksReply {
        self.shared.lock().reply.clone()
    }

    /// Back to normal: serve the keys, no queued replies, no delay.
    pub fn serve_keys(&self) {
        let mut state = self.shared.lock();
        state.reply = JwksReply::Keys;
        state.queued.clear();
        state.delay = None;
    }

    /// Answer every request with this status (see [`JwksReply::Status`]).
    pub fn respond_with_status(&self, status: u16) {
        self.set_reply(JwksReply::Status(status));
    }

    /// Answer with `302 Found` to `location`.
    pub fn redirect_to(&self, location: impl Into<String>) {
        self.set_reply(JwksReply::Redirect(location.into()));
    }

    /// Answer `200` with bytes that are not JSON.
    pub fn serve_garbage(&self) {
        self.set_reply(JwksReply::Garbage);
    }

    /// Answer `200` with an HTML page.
    pub fn serve_html(&self) {
        self.set_reply(JwksReply::Html);
    }

    /// Answer `200` with the key set padded to `bytes` bytes.
    pub fn serve_oversized(&self, bytes: usize) {
        self.set_reply(JwksReply::Oversized(bytes));
    }

    /// Answer `200` with this body.
    pub fn serve_body(&self, body: impl Into<String>) {
        self.set_reply(JwksReply::Body(body.into()));
    }

    /// Close each connection without answering.
    pub fn close_connections(&self) {
        self.set_reply(JwksReply::Close);
    }

    /// Wait this long after reading a request before answering (a tokio sleep inside the
    /// connection task, so a client timeout or cancellation cuts it short; under
    /// `tokio::time::pause` it auto-advances). `None` answers at once.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.shared.lock().delay = delay;
    }

    // --- keys ---

    /// Adds a key to the served set (after the existing ones).
    pub fn add_key(&self, key: SigningKey) {
        self.shared.lock().keys.push(key);
    }

    /// Removes every key with this kid; returns whether one was removed.
    pub fn remove_key(&self, kid: &str) -> bool {
        let mut state = self.shared.lock();
        let before = state.keys.len();
        state.keys.retain(|key| key.kid() != kid);
        state.keys.len() != before
    }

    /// Generates a key with a random Cognito-like kid, adds it, and returns it.
    pub fn rotate(&self) -> SigningKey {
        let key = SigningKey::generate_with_random_kid();
        self.add_key(key.clone());
        key
    }

    /// Replaces the served set.
    pub fn set_keys(&self, keys: impl IntoIterator<Item = SigningKey>) {
        self.shared.lock().keys = keys.into_iter().collect();
    }

    /// The served keys, in order.
    pub fn keys(&self) -> Vec<SigningKey> {
        self.shared.lock().keys.clone()
    }

    /// The key-set JSON [`JwksReply::Keys`] would serve now.
    pub fn jwks_json(&self) -> String {
        jwks_json(&self.shared.lock().keys)
    }

    // --- observing ---

    /// Holds every reply from now on until [`release_replies`](JwksServer::release_replies):
    /// requests are received (and counted) but answered only on release, with the keys and
    /// reply current then. A switch for "a fetch is in flight" without sleeping.
    pub fn hold_replies(&self) {
        self.shared.held.send_replace(true);
    }

    /// Answers the held requests and stops holding new ones.
    pub fn release_replies(&self) {
        self.shared.held.send_replace(false);
    }

    /// Replies written in full so far (a client that hung up first gets none).
    pub fn reply_count(&self) -> u64 {
        *self.shared.replies.borrow()
    }

    /// Returns once at least `count` replies have been written in full. No polling.
    pub async fn wait_for_replies(&self, count: u64) {
        let mut receiver = self.shared.replies.subscribe();
        let _ = receiver.wait_for(|replies| *replies >= count).await;
    }

    /// Requests received so far (counted when the request head has been read, before any
    /// delay, whatever the reply).
    pub fn fetch_count(&self) -> u64 {
        *self.shared.fetches.borrow()
    }

    /// Returns once at least `count` requests have been received (at once if they already
    /// have). No polling: it waits on a watch channel the connection tasks bump.
    pub async fn wait_for_fetches(&self, count: u64) {
        let mut receiver = self.shared.fetches.subscribe();
        // The sender lives in `self.shared`, which outlives this borrow, so the channel
        // cannot close while we wait.
        let _ = receiver.wait_for(|fetches| *fetches >= count).await;
    }

    /// The most recent requests (up to [`MAX_RECORDED_REQUESTS`]), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(error) => {
                    // Accept errors (e.g. out of file descriptors) are transient; let other
                    // tasks run before trying again.
                    tracing::warn!(%error, "testkit JWKS server: accept failed");
                    tokio::task::yield_now().await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(request) = read_request_head(&mut stream).await else {
        return;
    };
    let (reply, delay) = {
        let mut state = shared.lock();
        if state.requests.len() == MAX_RECORDED_REQUESTS {
            state.requests.pop_front();
        }
        state.requests.push_back(request);
        let reply = state
            .queued
            .pop_front()
            .unwrap_or_else(|| state.reply.clone());
        (reply, state.delay)
    };
    shared.fetches.send_modify(|fetches| *fetches += 1);
    let mut held = shared.held.subscribe();
    // The sender lives in `shared`, which this task holds: the channel cannot close.
    let _ = held.wait_for(|held| !*held).await;
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let keys = || jwks_json(&shared.lock().keys);
    let response = match reply {
        JwksReply::Keys => response(200, "application/json", &[], keys().as_bytes(), true),
        JwksReply::Status(status) => {
            let body = format!("status {status}\n");
            response(status, "text/plain", &[], body.as_bytes(), true)
        }
        JwksReply::Redirect(location) => response(
            302,
            "text/plain",
            &[("Location".to_owned(), location)],
            b"",
            true,
        ),
        JwksReply::Garbage => response(200, "application/json", &[], GARBAGE_BODY, true),
        JwksReply::Html => response(200, "text/html", &[], HTML_BODY.as_bytes(), true),
        JwksReply::Oversized(bytes) => {
            response(200, "application/json", &[], &padded(&keys(), bytes), true)
        }
        JwksReply::OversizedNoLength(bytes) => {
            response(200, "application/json", &[], &padded(&keys(), bytes), false)
        }
        JwksReply::Body(body) => response(200, "application/json", &[], body.as_bytes(), true),
        JwksReply::Custom {
            status,
            headers,
            body,
        } => response(status, "application/octet-stream", &headers, &body, true),
        JwksReply::Close => return,
    };
    // The client may have given up (timeout, cancellation); nothing to report then.
    if stream.write_all(&response).await.is_ok() {
        shared.replies.send_modify(|replies| *replies += 1);
        let _ = stream.shutdown().await;
    }
}

/// Reads up to the blank line ending the request head; `None` if the client closed first or
/// the head is not HTTP.
async fn read_request_head(stream: &mut TcpStream) -> Option<RecordedRequest> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0; 1024];
    let end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_REQUEST_HEAD {
            return None;
        }
    };
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(RecordedRequest {
        method,
        path,
        headers,
    })
}

fn response(
    status: u16,
    content_type: &str,
    headers: &[(String, String)],
    body: &[u8],
    with_length: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason_phrase(status)
    );
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if with_length {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The key set with spaces after the opening brace, `bytes` long in all (JSON still parses).
fn padded(json: &str, bytes: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.max(json.len()));
    let (open, rest) = json.split_at(1);
    body.extend_from_slice(open.as_bytes());
    body.resize(bytes.saturating_sub(rest.len()).max(1), b' ');
    body.extend_from_slice(rest.as_bytes());
    body
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reaches_the_exact_size_and_stays_json() {
        let json = r#"{"keys":[]}"#;
        let body = padded(json, 1000);
        assert_eq!(body.len(), 1000);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("still JSON");
        assert_eq!(value["keys"], serde_json::json!([]));
        assert_eq!(padded(json, 3), json.as_bytes());
    }
}
