//! Loading policies and the schema, and validating the policies strictly against it, with
//! every error located by file, line and column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use super::CedarError;

/// One source text and the name errors give it.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) label: String,
    pub(crate) text: String,
}

impl Source {
    pub(crate) fn read(path: &Path) -> Result<Self, CedarError> {
        let label = path.display().to_string();
        let bytes = crate::bounded_read::read_file_bounded(path)
            .map_err(|error| CedarError::in_file(&label, format!("cannot read: {error}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| CedarError::in_file(&label, "is not UTF-8".to_owned()))?;
        Ok(Self { label, text })
    }

    /// An error at byte `offset` of this source.
    fn error_at(&self, offset: Option<usize>, message: String) -> CedarError {
        match offset {
            Some(offset) => {
                let (line, column) = line_column(&self.text, offset);
                CedarError {
                    file: Some(self.label.clone()),
                    line,
                    column,
                    message,
                }
            }
            None => CedarError::in_file(&self.label, message),
        }
    }
}

/// The `.cedar` files of a folder, in name order.
pub(crate) fn folder(path: &Path) -> Result<Vec<PathBuf>, CedarError> {
    let label = path.display().to_string();
    let entries = std::fs::read_dir(path)
        .map_err(|error| CedarError::in_file(&label, format!("cannot read folder: {error}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry
            .map_err(|error| CedarError::in_file(&label, format!("cannot read folder: {error}")))?;
        let file = entry.path();
        if file.extension().is_some_and(|ext| ext == "cedar") && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(CedarError::in_file(
            &label,
            "holds no .cedar policy file".to_owned(),
        ));
    }
    Ok(files)
}

/// Parses a schema in the Cedar schema format, or in the JSON format when it starts with `{`.
pub(crate) fn schema(source: &Source) -> Result<Schema, CedarError> {
    if source.text.trim_start().starts_with('{') {
        Schema::from_json_str(&source.text).map_err(|error| {
            source.error_at(
                first_offset(&error),
                format!("invalid JSON schema: {}", chain(&error)),
            )
        })
    } else {
        Schema::from_cedarschema_str(&source.text)
            .map(|(schema, _warnings)| schema)
            .map_err(|error| {
                source.error_at(
                    first_offset(&error),
                    format!("invalid schema: {}", chain(&error)),
                )
            })
    }
}

/// Parses every source into one set. A policy's id is its `@id("…")` annotation, else
/// `<file name>#<n>` (`n` counting from 0 in the file); ids must be unique. Templates are
/// refused (nothing would link them).
pub(crate) fn policies(
    sources: &[Source],
) -> Result<(PolicySet, HashMap<PolicyId, usize>), CedarError> {
    let mut set = PolicySet::new();
    let mut origin = HashMap::new();
    for (index, source) in sources.iter().enumerate() {
        let parsed = PolicySet::from_str(&source.text).map_err(|error| {
            source.error_at(
                first_offset(&error),
                format!("invalid policy: {}", chain(&error)),
            )
        })?;
        if parsed.templates().next().is_some() {
            return Err(source.error_at(
                None,
                "holds a policy template; templates are not supported (write each policy out)"
                    .to_owned(),
            ));
        }
        let file_name = Path::new(&source.label).file_name().map_or_else(
            || source.label.clone(),
            |name| name.to_string_lossy().into_owned(),
        );
        let mut policies: Vec<_> = parsed.policies().cloned().collect();
        // `from_str` numbers policies in file order as policy0, policy1, …
        policies.sort_by_key(|policy| {
            policy
                .id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        for (n, policy) in policies.into_iter().enumerate() {
            let id = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => format!("{file_name}#{n}"),
            };
            let id = PolicyId::new(id);
            if origin.contains_key(&id) {
                return Err(source.error_at(
                    None,
                    format!("policy id {:?} is used twice", id.to_string()),
                ));
            }
            let renamed = policy.new_id(id.clone());
            set.add(renamed)
                .map_err(|error| source.error_at(None, format!("policy {id}: {error}")))?;
            origin.insert(id, index);
        }
    }
    Ok((set, origin))
}

/// Strict validation: every error is fatal, reported at the first one's position.
pub(crate) fn validate(
    schema: &Schema,
    set: &PolicySet,
    sources: &[Source],
    origin: &HashMap<PolicyId, usize>,
) -> Result<(), CedarError> {
    let validator = Validator::new(schema.clone());
    let result = validator.validate(set, ValidationMode::Strict);
    if let Some(error) = result.validation_errors().next() {
        let source = origin
            .get(error.policy_id())
            .and_then(|index| sources.get(*index));
        let message = format!(
            "policy {} does not validate against the schema: {}",
            error.policy_id(),
            chain(error)
        );
        return Err(match source {
            Some(source) => source.error_at(first_offset(error), message),
            None => CedarError::new(message),
        });
    }
    Ok(())
}

/// The first labelled byte offset of a diagnostic (or of its related ones).
fn first_offset(diagnostic: &dyn Diagnostic) -> Option<usize> {
    if let Some(mut labels) = diagnostic.labels()
        && let Some(label) = labels.next()
    {
        return Some(label.offset());
    }
    if let Some(related) = diagnostic.related() {
        for inner in related {
            if let Some(offset) = first_offset(inner) {
                return Some(offset);
            }
        }
    }
    None
}

/// The message with its causes and help, on one line.
fn chain(error: &dyn Diagnostic) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    if let Some(related) = error.related() {
        for inner in related.take(3) {
            let inner_text = inner.to_string();
            if !text.contains(&inner_text) {
                text.push_str("; ");
                text.push_str(&inner_text);
            }
        }
    }
    if let Some(help) = error.help() {
        text.push_str(" (");
        text.push_str(&help.to_string());
        text.push(')');
    }
    text
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut column = 1;
    for (index, ch) in text.char_indices() {
        if index >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}
