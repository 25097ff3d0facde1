//! The hand-written recursive-descent parser of the policy language. Errors carry the 1-based
//! column (in characters) and say what was expected there.

use super::Node;
use crate::verify::claims::TokenUse;

/// Deepest nesting of parentheses and `not` accepted (keeps recursion bounded).
const MAX_DEPTH: usize = 64;

const ATOMS: &str = "public, deny, authenticated, cedar, group:, scope:, token_use:, client:, issuer:, claim: or policy:";

/// A policy expression that does not parse: the 1-based column (in characters) and what was
/// expected there.
///
/// ```
/// use cognito_authz_core::Policy;
/// let error = "group:a and ".parse::<Policy>().unwrap_err();
/// assert_eq!(error.column, 13);
/// assert_eq!(error.to_string(), "column 13: expected an atom after 'and'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct PolicyParseError {
    /// 1-based column, counted in characters, where the problem is.
    pub column: usize,
    /// What was expected (or found) there.
    pub message: String,
}

/// Parses a whole expression, and returns with it the 1-based column of each of its atoms in
/// the order they were written (which is the order a depth-first walk of the tree meets them).
pub(super) fn parse(text: &str) -> Result<(Node, Vec<usize>), PolicyParseError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        position: 0,
        depth: 0,
        columns: Vec::new(),
    };
    parser.skip_whitespace();
    if parser.at_end() {
        return Err(parser.error_here("expected a policy expression"));
    }
    let node = parser.or("")?;
    parser.skip_whitespace();
    match parser.peek() {
        None => Ok((node, parser.columns)),
        Some(')') => Err(parser.error_here("unexpected ')' without a matching '('")),
        Some(_) => {
            let found = parser.describe_here();
            let hint = parser.hint_after_atom();
            Err(parser.error_here(&format!(
                "expected 'and', 'or' or the end, found {found}{hint}"
            )))
        }
    }
}

struct Parser {
    chars: Vec<char>,
    position: usize,
    depth: usize,
    /// Where each atom parsed so far starts (1-based column).
    columns: Vec<usize>,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')'
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    fn at_end(&self) -> bool {
        self.position >= self.chars.len()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.position += 1;
        }
    }

    fn error_at(&self, position: usize, message: &str) -> PolicyParseError {
        PolicyParseError {
            column: position + 1,
            message: message.to_owned(),
        }
    }

    fn error_here(&self, message: &str) -> PolicyParseError {
        self.error_at(self.position, message)
    }

    /// The word at the cursor, for "found …" messages.
    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end".to_owned(),
            Some(c @ ('(' | ')' | '"')) => format!("'{c}'"),
            Some(_) => {
                let word: String = self.chars[self.position..]
                    .iter()
                    .take_while(|c| !is_delimiter(**c))
                    .take(40)
                    .collect();
                format!("'{word}'")
            }
        }
    }

    /// Whether `keyword` stands at the cursor as a whole word.
    fn at_keyword(&self, keyword: &str) -> bool {
        let mut index = self.position;
        for expected in keyword.chars() {
            if self.chars.get(index) != Some(&expected) {
                return false;
            }
            index += 1;
        }
        self.chars.get(index).is_none_or(|c| is_delimiter(*c))
    }

    fn consume_keyword(&mut self, keyword: &str) -> bool {
        if self.at_keyword(keyword) {
            self.position += keyword.chars().count();
            true
        } else {
            false
        }
    }

    /// A hint for an operator written the way other languages do: `AND`, `&&`, `||`, `!`.
    fn operator_hint(&self) -> Option<&'static str> {
        let rest: String = self.chars[self.position.min(self.chars.len())..]
            .iter()
            .take_while(|c| !is_delimiter(**c))
            .collect();
        let word = rest.to_ascii_lowercase();
        if rest.starts_with("&&") || rest.starts_with('&') {
            Some(" (write 'and', not '&&')")
        } else if rest.starts_with("||") || rest.starts_with('|') {
            Some(" (write 'or', not '||')")
        } else if rest.starts_with('!') {
            Some(" (write 'not', not '!')")
        } else if matches!(word.as_str(), "and" | "or" | "not") {
            Some(" (the operators are lower case: and, or, not)")
        } else {
            None
        }
    }

    /// After a complete atom: an operator hint, or for a bare word (no `prefix:`) the likely
    /// cause, a name with a space that needs quotes.
    fn hint_after_atom(&self) -> String {
        if let Some(hint) = self.operator_hint() {
            return hint.to_owned();
        }
        let word: String = self.chars[self.position.min(self.chars.len())..]
            .iter()
            .take_while(|c| !is_delimiter(**c))
            .collect();
        if !word.is_empty() && !word.contains(':') && !word.starts_with('"') {
            " (a name with spaces needs quotes, e.g. group:\"team blue\")".to_owned()
        } else {
            String::new()
        }
    }

    /// `or := and ("or" and)*`; `after` names what preceded, for "expected an atom after …".
    fn or(&mut self, after: &str) -> Result<Node, PolicyParseError> {
        let mut items = vec![self.and(after)?];
        loop {
            self.skip_whitespace();
            if !self.consume_keyword("or") {
                break;
            }
            items.push(self.and("'or'")?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Authenticated)
        } else {
            Node::Or(flatten(items, |node| match node {
                Node::Or(inner) => Ok(inner),
                other => Err(other),
            }))
        })
    }

    /// `and := unary ("and" unary)*`.
    fn and(&mut self, after: &str) -> Result<Node, PolicyParseError> {
        let mut items = vec![self.unary(after)?];
        loop {
            self.skip_whitespace();
            if !self.consume_keyword("and") {
                break;
            }
            items.push(self.unary("'and'")?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Node::Authenticated)
        } else {
            Node::And(flatten(items, |node| match node {
                Node::And(inner) => Ok(inner),
                other => Err(other),
            }))
        })
    }

    /// `unary := "not" unary | "(" expr ")" | atom`.
    fn unary(&mut self, after: &str) -> Result<Node, PolicyParseError> {
        self.skip_whitespace();
        let expected_atom = if after.is_empty() {
            "expected an atom".to_owned()
        } else {
            format!("expected an atom after {after}")
        };
        match self.peek() {
            None => return Err(self.error_here(&expected_atom)),
            Some(')') => return Err(self.error_here(&format!("{expected_atom}, found ')'"))),
            _ => {}
        }
        if self.depth >= MAX_DEPTH {
            return Err(
                self.error_here(&format!("expression nests deeper than {MAX_DEPTH} levels"))
            );
        }
        if self.consume_keyword("not") {
            self.depth += 1;
            let inner = self.unary("'not'");
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner?)));
        }
        if self.peek() == Some('(') {
            let open = self.position;
            self.position += 1;
            self.depth += 1;
            let inner = self.or("'('");
            self.depth -= 1;
            let inner = inner?;
            self.skip_whitespace();
            if self.peek() == Some(')') {
                self.position += 1;
                return Ok(inner);
            }
            let found = self.describe_here();
            let hint = self.hint_after_atom();
            return Err(self.error_here(&format!(
                "expected 'and', 'or' or ')' to close the '(' at column {}, found {found}{hint}",
                open + 1
            )));
        }
        for keyword in ["and", "or"] {
            if self.at_keyword(keyword) {
                return Err(self.error_here(&format!("{expected_atom}, found '{keyword}'")));
            }
        }
        let start = self.position;
        let atom = self.atom(&expected_atom)?;
        self.columns.push(start + 1);
        Ok(atom)
    }

    fn atom(&mut self, expected_atom: &str) -> Result<Node, PolicyParseError> {
        let start = self.position;
        let word_end = self.chars[start..]
            .iter()
            .position(|c| !(c.is_ascii_alphabetic() || *c == '_'))
            .map_or(self.chars.len(), |offset| start + offset);
        let word: String = self.chars[start..word_end].iter().collect();
        if self.chars.get(word_end) != Some(&':') {
            if self.chars.get(word_end).is_none_or(|c| is_delimiter(*c)) {
                match word.as_str() {
                    "public" => {
                        self.position = word_end;
                        return Ok(Node::Public);
                    }
                    "deny" => {
                        self.position = word_end;
                        return Ok(Node::Deny);
                    }
                    "authenticated" => {
                        self.position = word_end;
                        return Ok(Node::Authenticated);
                    }
                    "cedar" => {
                        self.position = word_end;
                        return Ok(Node::Cedar);
                    }
                    _ => {}
                }
            }
            let found = self.describe_here();
            let hint = self.operator_hint().unwrap_or_default();
            return Err(self.error_here(&format!("{expected_atom} ({ATOMS}), found {found}{hint}")));
        }
        self.position = word_end + 1;
        let prefix_end = self.position;
        let node = match word.as_str() {
            "group" => Node::Group(self.name("group:")?),
            "scope" => Node::Scope(self.name("scope:")?),
            "client" => Node::Client(self.name("client:")?),
            "issuer" => Node::Issuer(self.name("issuer:")?),
            "policy" => Node::Named(self.name("policy:")?),
            "token_use" => {
                let (text, _) = self.value(false)?;
                match TokenUse::parse(&text) {
                    Some(token_use) => Node::TokenUse(token_use),
                    None => {
                        return Err(self
                            .error_at(prefix_end, "expected 'id' or 'access' after 'token_use:'"));
                    }
                }
            }
            "claim" => {
                let (name, _) = self.value(true)?;
                if name.is_empty() {
                    return Err(self.error_at(prefix_end, "expected a claim name after 'claim:'"));
                }
                if self.peek() == Some('=') {
                    self.position += 1;
                    let value_start = self.position;
                    let (value, quoted) = self.value(false)?;
                    if value.is_empty() && !quoted {
                        return Err(self.error_at(
                            value_start,
                            "expected a value after '=' (write \"\" for an empty string)",
                        ));
                    }
                    Node::ClaimEquals(name, value)
                } else {
                    Node::ClaimPresent(name)
                }
            }
            _ => {
                return Err(
                    self.error_at(start, &format!("unknown atom '{word}:' (expected {ATOMS})"))
                );
            }
        };
        match self.peek() {
            Some(c) if !is_delimiter(c) => {
                let found = self.describe_here();
                Err(self.error_here(&format!(
                    "expected a space, ')' or the end after the atom, found {found}"
                )))
            }
            _ => Ok(node),
        }
    }

    /// A non-empty name after `prefix`.
    fn name(&mut self, prefix: &str) -> Result<String, PolicyParseError> {
        let start = self.position;
        let (name, _) = self.value(false)?;
        if name.is_empty() {
            return Err(self.error_at(start, &format!("expected a name after '{prefix}'")));
        }
        Ok(name)
    }

    /// A quoted string or a bare run up to a delimiter (and `=` when `stop_at_equals`).
    /// Returns the text and whether it was quoted.
    fn value(&mut self, stop_at_equals: bool) -> Result<(String, bool), PolicyParseError> {
        if self.peek() == Some('"') {
            let open = self.position;
            self.position += 1;
            let mut text = String::new();
            loop {
                match self.peek() {
                    None => {
                        return Err(self.error_at(open, "unterminated quoted string"));
                    }
                    Some('"') => {
                        self.position += 1;
                        return Ok((text, true));
                    }
                    Some('\\') => match self.chars.get(self.position + 1) {
                        Some(c @ ('"' | '\\')) => {
                            text.push(*c);
                            self.position += 2;
                        }
                        _ => {
                            return Err(self.error_here(
                                "unknown escape: inside quotes only \\\" and \\\\ are escapes",
                            ));
                        }
                    },
                    Some(c) => {
                        text.push(c);
                        self.position += 1;
                    }
                }
            }
        }
        let mut text = String::new();
        while let Some(c) = self.peek() {
            if is_delimiter(c) || (stop_at_equals && c == '=') {
                break;
            }
            if c == '"' || c == '\\' {
                return Err(self.error_here(&format!(
                    "unexpected '{c}' inside a name: quote the whole name, e.g. group:\"a b\""
                )));
            }
            text.push(c);
            self.position += 1;
        }
        Ok((text, false))
    }
}

/// Splices operands of the same kind into one chain (`a and (b and c)` = `a and b and c`).
fn flatten(items: Vec<Node>, same_kind: impl Fn(Node) -> Result<Vec<Node>, Node>) -> Vec<Node> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match same_kind(item) {
            Ok(inner) => out.extend(inner),
            Err(other) => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    #[test]
    fn errors_give_the_column_and_what_was_expected() {
        let cases = [
            ("", 1, "expected a policy expression"),
            ("   ", 4, "expected a policy expression"),
            ("group:a and", 12, "expected an atom after 'and'"),
            (
                "group:a and )",
                13,
                "expected an atom after 'and', found ')'",
            ),
            ("group:a or", 11, "expected an atom after 'or'"),
            ("not", 4, "expected an atom after 'not'"),
            ("(", 2, "expected an atom after '('"),
            (
                "(group:a",
                9,
                "expected 'and', 'or' or ')' to close the '(' at column 1, found the end",
            ),
            (
                "(group:a group:b)",
                10,
                "expected 'and', 'or' or ')' to close the '(' at column 1, found 'group:b'",
            ),
            ("group:a)", 8, "unexpected ')' without a matching '('"),
            (
                "group:a group:b",
                9,
                "expected 'and', 'or' or the end, found 'group:b'",
            ),
            ("and group:a", 1, "expected an atom, found 'and'"),
            (
                "group:a and or",
                13,
                "expected an atom after 'and', found 'or'",
            ),
            (
                "admin",
                1,
                "expected an atom (public, deny, authenticated, cedar, group:, scope:, token_use:, client:, issuer:, claim: or policy:), found 'admin'",
            ),
            (
                "groups:admin",
                1,
                "unknown atom 'groups:' (expected public, deny, authenticated, cedar, group:, scope:, token_use:, client:, issuer:, claim: or policy:)",
            ),
            ("group:", 7, "expected a name after 'group:'"),
            ("group: admin", 7, "expected a name after 'group:'"),
            ("scope:", 7, "expected a name after 'scope:'"),
            ("policy:", 8, "expected a name after 'policy:'"),
            (
                "token_use:both",
                11,
                "expected 'id' or 'access' after 'token_use:'",
            ),
            (
                "token_use:",
                11,
                "expected 'id' or 'access' after 'token_use:'",
            ),
            ("claim:", 7, "expected a claim name after 'claim:'"),
            ("claim:=x", 7, "expected a claim name after 'claim:'"),
            (
                "claim:x=",
                9,
                "expected a value after '=' (write \"\" for an empty string)",
            ),
            ("group:\"team blue", 7, "unterminated quoted string"),
            (
                "group:\"a\\nb\"",
                9,
                "unknown escape: inside quotes only \\\" and \\\\ are escapes",
            ),
            (
                "group:\"a\"b",
                10,
                "expected a space, ')' or the end after the atom, found 'b'",
            ),
            (
                "group:a\"b\"",
                8,
                "unexpected '\"' inside a name: quote the whole name, e.g. group:\"a b\"",
            ),
            ("group:é and", 12, "expected an atom after 'and'"),
            // Operators as other languages write them, and unquoted names with spaces.
            (
                "group:a AND group:b",
                9,
                "expected 'and', 'or' or the end, found 'AND' (the operators are lower case: and, or, not)",
            ),
            (
                "group:a && group:b",
                9,
                "expected 'and', 'or' or the end, found '&&' (write 'and', not '&&')",
            ),
            (
                "(group:a || group:b)",
                10,
                "expected 'and', 'or' or ')' to close the '(' at column 1, found '||' (write 'or', not '||')",
            ),
            (
                "!group:a",
                1,
                "expected an atom (public, deny, authenticated, cedar, group:, scope:, token_use:, client:, issuer:, claim: or policy:), found '!group:a' (write 'not', not '!')",
            ),
            (
                "group:team blue",
                12,
                "expected 'and', 'or' or the end, found 'blue' (a name with spaces needs quotes, e.g. group:\"team blue\")",
            ),
        ];
        for (text, column, message) in cases {
            let error = text.parse::<Policy>().expect_err(text);
            assert_eq!(
                (error.column, error.message.as_str()),
                (column, message),
                "{text:?}"
            );
            assert_eq!(error.to_string(), format!("column {column}: {message}"));
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}group:a{}", "(".repeat(200), ")".repeat(200));
        let error = deep.parse::<Policy>().expect_err("too deep");
        assert!(error.message.contains("nests deeper"), "{error}");
        let nots = format!("{}group:a", "not ".repeat(200));
        assert!(nots.parse::<Policy>().is_err());
        let fine = format!("{}group:a{}", "(".repeat(30), ")".repeat(30));
        assert_eq!(fine.parse::<Policy>(), Ok(Policy::group("a")));
    }

    #[test]
    fn atom_columns_are_recorded_in_the_order_written() {
        let (_, columns) =
            parse("group:a or (policy:admin and not  policy:\"x y\") or claim:é=1 or cedar")
                .expect("parses");
        assert_eq!(columns, [1, 13, 35, 52, 65]);
    }
}
