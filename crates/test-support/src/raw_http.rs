//! HTTP/1.1 answers read off a raw socket, for the tests that write their requests byte for
//! byte (an HTTP client would normalize the very paths and headers they attack).

/// One answer: its status, its headers in the order sent (names lower-cased, names and values
/// trimmed), and whatever followed the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAnswer {
    /// The status code of the status line.
    pub status: u16,
    /// `(name, value)` pairs, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The bytes after the head's blank line, as received.
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The answer in `bytes`, or `None` when they hold no complete head with a status line.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let end = head_end(bytes)?;
        let head = std::str::from_utf8(&bytes[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Some(Self {
            status,
            headers,
            body: bytes[end + 4..].to_vec(),
        })
    }

    /// The first value of the header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Where the head in `bytes` ends (the index of its `\r\n\r\n`), if it is complete.
pub fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|window| window == b"\r\n\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_with_its_headers_in_order_and_its_body() {
        let bytes =
            b"HTTP/1.1 403 Forbidden\r\nX-Route: admin\r\nWWW-Authenticate :  Bearer \r\n\r\nno";
        let answer = RawAnswer::parse(bytes).expect("an answer");
        assert_eq!(answer.status, 403);
        assert_eq!(
            answer.headers,
            [
                ("x-route".to_owned(), "admin".to_owned()),
                ("www-authenticate".to_owned(), "Bearer".to_owned())
            ]
        );
        assert_eq!(answer.header("x-route"), Some("admin"));
        assert_eq!(answer.body, b"no");
    }

    #[test]
    fn bytes_without_a_complete_head_or_status_are_no_answer() {
        assert_eq!(RawAnswer::parse(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
        assert_eq!(RawAnswer::parse(b"garbage\r\n\r\n"), None);
        assert_eq!(RawAnswer::parse(b""), None);
    }
}
