//! A strict JSON reader over a token's decoded header or payload: it accepts exactly the
//! documents serde_json accepts (as a `serde_json::Value`) and reads only what the verifier
//! asks for, without building anything else.
//!
//! Every rule serde_json applies is applied here too, so a token that verifies always parses
//! as a generic JSON object later: whitespace is space, tab, CR and LF only; strings hold no
//! control characters, only the eight short escapes and `\u` escapes whose surrogates come in
//! pairs; numbers follow the JSON grammar (no leading zeros, no `+`, digits after `.` and `e`),
//! a number the verifier reads (`exp`, `nbf`, `iat`, `auth_time`) must be finite as serde_json
//! rounds it to an `f64`, and any other number must be one a generic parse keeps (finite too,
//! unless the application's serde_json keeps numbers as text with its `arbitrary_precision`
//! feature); arrays and objects nest fewer than 128 deep (the outer object included); nothing
//! but whitespace follows the outer object. One thing is refused that serde_json accepts: an
//! object whose first member bears one of serde_json's private names, which a generic parse
//! reads as something other than the object it is in some builds.

use std::borrow::Cow;

/// The document breaks a rule; which one does not matter (every fault is `malformed_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Invalid;

/// How many arrays and objects may be open at once, as serde_json counts them: its budget of
/// 128 is spent on entering each one, and the one that brings it to zero fails.
const NESTING_BUDGET: u8 = 128;

/// Integers with at most this many digits are exact as `f64` and never out of range, so they
/// are read here; any other number goes through serde_json's own conversion.
const EXACT_DIGITS: usize = 15;

/// Member names serde_json gives a meaning of its own as an object's first member (its
/// `raw_value` and `arbitrary_precision` features; any crate of an application can switch them
/// on for the whole build, and axum does switch on `raw_value`).
const SERDE_JSON_PRIVATE_NAMES: [&str; 2] = [
    "$serde_json::private::RawValue",
    "$serde_json::private::Number",
];

/// A position in one JSON document.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Nesting budget left (see [`NESTING_BUDGET`]).
    budget: u8,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            at: 0,
            budget: NESTING_BUDGET,
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.text.as_bytes().get(at).copied()
    }

    /// Skips whitespace and returns the next byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(byte) = self.byte(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Whether the next byte after any whitespace is `byte` (nothing is consumed but the
    /// whitespace).
    pub(super) fn is_next(&mut self, byte: u8) -> bool {
        self.peek() == Some(byte)
    }

    /// Consumes `expected` after any whitespace.
    fn eat(&mut self, expected: u8) -> Result<(), Invalid> {
        if self.peek() == Some(expected) {
            self.at += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// Enters an array or object whose opening byte is next.
    fn open(&mut self) -> Result<(), Invalid> {
        self.budget = self
            .budget
            .checked_sub(1)
            .filter(|&left| left > 0)
            .ok_or(Invalid)?;
        self.at += 1;
        Ok(())
    }

    /// Leaves an array or object whose closing byte is next.
    fn close(&mut self) {
        self.budget = self.budget.saturating_add(1);
        self.at += 1;
    }

    /// Nothing but whitespace is left.
    pub(super) fn end(mut self) -> Result<(), Invalid> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Invalid),
        }
    }

    /// Enters an object: the next value must be one.
    pub(super) fn object(&mut self) -> Result<(), Invalid> {
        match self.peek() {
            Some(b'{') => self.open(),
            _ => Err(Invalid),
        }
    }

    /// The next member name of the object entered last, with its `:` consumed; `None` (and the
    /// object left) at its `}`. `first` is true until the first member has been read.
    pub(super) fn member(&mut self, first: &mut bool) -> Result<Option<Cow<'a, str>>, Invalid> {
        let opening = *first;
        match self.peek() {
            Some(b'}') => {
                self.close();
                return Ok(None);
            }
            Some(b'"') if opening => *first = false,
            Some(b',') if !opening => {
                self.at += 1;
                if self.peek() != Some(b'"') {
                    return Err(Invalid);
                }
            }
            _ => return Err(Invalid),
        }
        self.at += 1;
        let name = self.string_rest()?;
        // serde_json reads an object whose first member has one of its private names as
        // something else (a raw value, an exact number) when the application's build has the
        // matching feature on; such an object would not read back as the object it is, so it
        // is refused whatever the features.
        if opening && SERDE_JSON_PRIVATE_NAMES.contains(&name.as_ref()) {
            return Err(Invalid);
        }
        self.eat(b':')?;
        Ok(Some(name))
    }

    /// Enters an array: the next value must be one.
    pub(super) fn array(&mut self) -> Result<(), Invalid> {
        match self.peek() {
            Some(b'[') => self.open(),
            _ => Err(Invalid),
        }
    }

    /// Whether another element of the array entered last follows (false, and the array left,
    /// at its `]`). `first` is true until the first element has been read.
    pub(super) fn element(&mut self, first: &mut bool) -> Result<bool, Invalid> {
        match self.peek() {
            Some(b']') => {
                self.close();
                Ok(false)
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            Some(b',') => {
                self.at += 1;
                match self.peek() {
                    Some(b']') | None => Err(Invalid),
                    Some(_) => Ok(true),
                }
            }
            _ => Err(Invalid),
        }
    }

    /// The next value, which must be a string; borrowed from the text unless it has escapes.
    pub(super) fn string(&mut self) -> Result<Cow<'a, str>, Invalid> {
        self.eat(b'"')?;
        self.string_rest()
    }

    /// The next value as a string if it is one; any other value is checked and skipped.
    pub(super) fn string_or_skip(&mut self) -> Result<Option<Cow<'a, str>>, Invalid> {
        if self.peek() == Some(b'"') {
            self.string().map(Some)
        } else {
            self.skip().map(|()| None)
        }
    }

    /// The next value, which must be a number, as serde_json converts it to `f64`.
    pub(super) fn number(&mut self) -> Result<f64, Invalid> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            _ => return Err(Invalid),
        }
        let (start, exact) = self.number_text()?;
        match exact {
            Some(value) => Ok(value),
            None => serde_json::from_str::<f64>(self.since(start)?).map_err(|_| Invalid),
        }
    }

    /// Checks and skips the next value, whatever it is, with every rule a generic parse
    /// applies (nesting is bounded by the budget, so the recursion is too).
    pub(super) fn skip(&mut self) -> Result<(), Invalid> {
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                self.string_rest().map(drop)
            }
            Some(b'-' | b'0'..=b'9') => {
                let (start, exact) = self.number_text()?;
                if exact.is_none() {
                    // As a generic parse keeps it: finite as an `f64`, unless the application's
                    // serde_json keeps numbers as text (its `arbitrary_precision` feature).
                    serde_json::from_str::<serde_json::Number>(self.since(start)?)
                        .map_err(|_| Invalid)?;
                }
                Ok(())
            }
            Some(b'n') => self.word("null"),
            Some(b't') => self.word("true"),
            Some(b'f') => self.word("false"),
            Some(b'[') => {
                self.open()?;
                let mut first = true;
                while self.element(&mut first)? {
                    self.skip()?;
                }
                Ok(())
            }
            Some(b'{') => {
                self.open()?;
                let mut first = true;
                while self.member(&mut first)?.is_some() {
                    self.skip()?;
                }
                Ok(())
            }
            _ => Err(Invalid),
        }
    }

    /// `null`, `true` or `false`, whose first byte is next.
    fn word(&mut self, word: &str) -> Result<(), Invalid> {
        let end = self.at + word.len();
        if self.text.as_bytes().get(self.at..end) == Some(word.as_bytes()) {
            self.at = end;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The text from `start` to the current position.
    fn since(&self, start: usize) -> Result<&'a str, Invalid> {
        self.text.get(start..self.at).ok_or(Invalid)
    }

    /// Reads a number's text by the JSON grammar, its first byte (`-` or a digit) next: where
    /// it starts (its text is [`Reader::since`] that), with its value when it is an integer
    /// short enough to be exact.
    fn number_text(&mut self) -> Result<(usize, Option<f64>), Invalid> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut at = start;
        let negative = bytes.get(at) == Some(&b'-');
        if negative {
            at += 1;
        }
        let digits_start = at;
        // The integer part's value, meaningful while it has at most `EXACT_DIGITS` digits.
        let mut integer = 0_u64;
        match bytes.get(at) {
            Some(b'0') => {
                at += 1;
                // One leading zero only.
                if matches!(bytes.get(at), Some(b'0'..=b'9')) {
                    return Err(Invalid);
                }
            }
            Some(b'1'..=b'9') => {
                // Eight digits a turn while eight follow (a timestamp has ten), then one.
                while let Some(Ok(chunk)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
                    let Some(value) = eight_digits(chunk) else {
                        break;
                    };
                    integer = integer.wrapping_mul(100_000_000).wrapping_add(value);
                    at += 8;
                }
                while let Some(&digit @ b'0'..=b'9') = bytes.get(at) {
                    integer = integer
                        .wrapping_mul(10)
                        .wrapping_add(u64::from(digit - b'0'));
                    at += 1;
                }
            }
            _ => return Err(Invalid),
        }
        let integer_end = at;
        if bytes.get(at) == Some(&b'.') {
            at = some_digits(bytes, at + 1)?;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            at = some_digits(bytes, at)?;
        }
        self.at = at;
        let exact = (at == integer_end && integer_end - digits_start <= EXACT_DIGITS).then(|| {
            // Exact: at most 15 digits. `-0` is negative zero, as serde_json reads it.
            let value = integer as f64;
            if negative { -value } else { value }
        });
        Ok((start, exact))
    }

    /// The rest of a string whose opening quote was just consumed (inlined: most strings are
    /// a few bytes, and a call costs as much as reading them).
    #[inline(always)]
    fn string_rest(&mut self) -> Result<Cow<'a, str>, Invalid> {
        let start = self.at;
        let end = self.plain_run();
        match self.byte(end) {
            Some(b'"') => {
                self.at = end + 1;
                // Cut at the end, then the start: each cut checks one boundary, inline.
                let text = self.text.get(..end).and_then(|text| text.get(start..));
                text.map(Cow::Borrowed).ok_or(Invalid)
            }
            Some(b'\\') => {
                let mut owned = String::from(self.text.get(start..end).ok_or(Invalid)?);
                self.at = end;
                self.escaped_rest(&mut owned)?;
                Ok(Cow::Owned(owned))
            }
            _ => Err(Invalid),
        }
    }

    /// Where the run of plain string bytes from the current position ends: at a quote, a
    /// backslash, a control character or the end of the text.
    #[inline(always)]
    fn plain_run(&self) -> usize {
        let bytes = self.text.as_bytes();
        let mut at = self.at;
        // Sixteen bytes at a time (two words tested together, so a long string takes half
        // the branches), then eight, then byte by byte.
        while let Some(chunk) = bytes.get(at..at + 16) {
            let (Ok(low), Ok(high)) = (chunk[..8].try_into(), chunk[8..].try_into()) else {
                break;
            };
            let (low, high) = (stops(low), stops(high));
            if low | high != 0 {
                let stop = if low != 0 {
                    low.trailing_zeros()
                } else {
                    64 + high.trailing_zeros()
                };
                return at + stop as usize / 8;
            }
            at += 16;
        }
        if let Some(Ok(chunk)) = bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
            let found = stops(chunk);
            if found != 0 {
                return at + found.trailing_zeros() as usize / 8;
            }
            at += 8;
        }
        while let Some(&byte) = bytes.get(at) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            at += 1;
        }
        at
    }

    /// Reads the rest of a string from an escape on, appending its text to `owned`.
    fn escaped_rest(&mut self, owned: &mut String) -> Result<(), Invalid> {
        loop {
            let start = self.at;
            let end = self.plain_run();
            owned.push_str(self.text.get(start..end).ok_or(Invalid)?);
            self.at = end + 1;
            match self.byte(end) {
                Some(b'"') => return Ok(()),
                Some(b'\\') => {}
                _ => return Err(Invalid),
            }
            let escape = self.byte(self.at).ok_or(Invalid)?;
            self.at += 1;
            owned.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return Err(Invalid),
            });
        }
    }

    /// The character of a `\u` escape (just consumed): a surrogate must be a leading one
    /// followed at once by a `\u` escape of a trailing one.
    fn unicode_escape(&mut self) -> Result<char, Invalid> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                if self.text.as_bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(Invalid);
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Invalid);
                }
                0x1_0000 + (((u32::from(unit) - 0xD800) << 10) | (u32::from(low) - 0xDC00))
            }
            unit => u32::from(unit),
        };
        // Lone trailing surrogates are the only values left that are not characters.
        char::from_u32(code).ok_or(Invalid)
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u16, Invalid> {
        let digits = self
            .text
            .as_bytes()
            .get(self.at..self.at + 4)
            .ok_or(Invalid)?;
        let mut unit = 0_u16;
        for &digit in digits {
            let value = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(Invalid),
            };
            unit = unit << 4 | u16::from(value);
        }
        self.at += 4;
        Ok(unit)
    }
}

/// The bytes of `chunk` that end a run of plain string bytes, as the high bit of each: a
/// quote, a backslash or a byte below 0x20 (a byte that is zero after `^` or below after `-`).
/// Bits above the lowest may be wrong (a borrow carries up), but the lowest set bit is always
/// exact, and it is the only one read.
fn stops(chunk: [u8; 8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let word = u64::from_le_bytes(chunk);
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    ((quote.wrapping_sub(ONES) & !quote)
        | (backslash.wrapping_sub(ONES) & !backslash)
        | (word.wrapping_sub(ONES * 0x20) & !word))
        & HIGH_BITS
}

/// The value of eight ASCII digits, the first the most significant; `None` unless all eight
/// are digits.
fn eight_digits(chunk: [u8; 8]) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    let word = u64::from_le_bytes(chunk);
    // A digit is 0x30..=0x39: its high nibble is 3, and still 3 once 6 is added (no byte of
    // the first test's passing can carry into the next in the second).
    if word & HIGH_NIBBLES != THREES
        || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != THREES
    {
        return None;
    }
    // Each byte now holds its digit, the first digit in the lowest byte. Neighbours are
    // combined in lanes twice as wide each step (no lane outgrows its width: 99, 9999,
    // 99999999): pairs, then fours, then all eight.
    let digits = word - THREES;
    let pairs = digits.wrapping_mul(10).wrapping_add(digits >> 8) & 0x00FF_00FF_00FF_00FF;
    let fours = pairs.wrapping_mul(100).wrapping_add(pairs >> 16) & 0x0000_FFFF_0000_FFFF;
    Some(fours.wrapping_mul(10_000).wrapping_add(fours >> 32) & 0xFFFF_FFFF)
}

/// The end of a run of at least one digit starting at `at`.
fn some_digits(bytes: &[u8], mut at: usize) -> Result<usize, Invalid> {
    if !matches!(bytes.get(at), Some(b'0'..=b'9')) {
        return Err(Invalid);
    }
    while matches!(bytes.get(at), Some(b'0'..=b'9')) {
        at += 1;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Eight bytes are read as a number exactly when all are digits, to the value a
        /// digit-by-digit reading gives.
        #[test]
        fn eight_digits_read_as_digit_by_digit(
            chunk in proptest::array::uniform8(prop_oneof![
                // Mostly digits, so that all eight are in about one case of six.
                20 => b'0'..=b'9',
                1 => Just(b'/'),
                1 => Just(b':'),
                1 => Just(b'.'),
                1 => Just(b'e'),
                1 => any::<u8>(),
            ]),
        ) {
            let expected = chunk.iter().try_fold(0_u64, |value, &byte| {
                byte.is_ascii_digit().then(|| value * 10 + u64::from(byte - b'0'))
            });
            prop_assert_eq!(eight_digits(chunk), expected, "{:?}", chunk);
        }

        /// The eight-bytes-at-a-time scan stops where a byte-by-byte one does.
        #[test]
        fn plain_runs_end_where_a_byte_scan_says(
            text in "([a-z\"\\\\]|[\\x00-\\x1f]|\\x7f|é|😀|\u{80}){0,40}",
            from in 0_usize..40,
        ) {
            let from = (0..=from.min(text.len())).rev().find(|at| text.is_char_boundary(*at)).unwrap_or(0);
            let mut reader = Reader::new(&text);
            reader.at = from;
            let expected = text.as_bytes()[from..]
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
                .map_or(text.len(), |offset| from + offset);
            prop_assert_eq!(reader.plain_run(), expected);
        }
    }
}
