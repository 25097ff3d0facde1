//! Reading configuration files and command-line input with an explicit size bound.
//!
//! Policy files, key-set files and tokens are small (a policy file with a thousand routes is
//! about 100 KiB, a key set at most 256 keys, a token at most 16 KiB); a path that names
//! `/dev/zero`, an endless FIFO or a multi-gigabyte file must fail with an error, not exhaust
//! memory, and a larger input is refused whole, never truncated.

use std::io::{self, Read};
use std::path::Path;

/// The most bytes read from one configuration file (policy file, key-set file) or one
/// command-line input (token file, standard input): 4 MiB, far above any legitimate one.
pub const MAX_INPUT_BYTES: usize = 4 * 1024 * 1024;

/// Reads everything from `reader`, failing (never truncating) once it yields more than `cap`
/// bytes.
///
/// # Errors
/// The read fails, or the input is longer than `cap` (`InvalidData`, saying so).
pub fn read_bounded(reader: impl Read, cap: usize) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    // One byte past the cap tells "exactly the cap" from "more than the cap".
    reader
        .take(u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {cap}-byte limit for this input"),
        ));
    }
    Ok(bytes)
}

/// Reads a whole file with [`read_bounded`] and [`MAX_INPUT_BYTES`].
///
/// # Errors
/// The file cannot be opened or read, or is larger than [`MAX_INPUT_BYTES`].
pub fn read_file_bounded(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    read_bounded(std::fs::File::open(path)?, MAX_INPUT_BYTES)
}

/// [`read_file_bounded`] for text: the file must also be UTF-8.
///
/// # Errors
/// As [`read_file_bounded`], or the file is not UTF-8.
pub fn read_text_file_bounded(path: impl AsRef<Path>) -> io::Result<String> {
    String::from_utf8(read_file_bounded(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_past_the_cap_fail_whole_and_at_the_cap_pass() {
        assert_eq!(read_bounded(&b"abcd"[..], 4).expect("at the cap"), b"abcd");
        let error = read_bounded(&b"abcde"[..], 4).expect_err("past the cap");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("4-byte limit"), "{error}");
        // An endless reader stops one byte past the cap.
        let error = read_bounded(io::repeat(0), 1024).expect_err("endless");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
