//! Reading policy files: TOML (or YAML), strictly, with every problem reported at file:line:col.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::diagnostic::{Diagnostic, DocPath, Severity, SourceFile};
use crate::locate::Locator;
use crate::model::{Policy, SCHEMA_VERSION};

/// The largest policy file read, so that a wrong path cannot exhaust memory.
pub const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;

/// The syntax of a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
}

impl Format {
    /// `.yaml` and `.yml` are YAML; everything else is TOML.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("yaml" | "yml") => Format::Yaml,
            _ => Format::Toml,
        }
    }
}

/// A policy that parsed, with everything the lints found.
#[derive(Debug)]
pub struct Checked {
    pub source: SourceFile,
    /// `None` when the file did not parse into a policy at all.
    pub policy: Option<Policy>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Warning)
    }
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
    /// All diagnostics rendered with their source lines.
    pub fn render(&self) -> String {
        self.diagnostics.iter().map(|d| self.source.render(d)).collect::<Vec<_>>().join("\n")
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read policy file `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("policy file `{path}` is {size} bytes; the limit is {MAX_POLICY_BYTES} bytes")]
    TooLarge { path: String, size: u64 },
    #[error("{}", render_invalid(.0))]
    Invalid(Box<Checked>),
}

fn render_invalid(c: &Checked) -> String {
    let n = c.errors().count();
    let rendered: Vec<String> = c.errors().map(|d| c.source.render(d)).collect();
    format!(
        "policy file `{}` has {n} error{}:\n\n{}",
        c.source.name,
        if n == 1 { "" } else { "s" },
        rendered.join("\n")
    )
}

/// Reads a policy file's text, refusing oversized files.
pub fn read_source(path: &Path) -> Result<SourceFile, LoadError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io { path: name.clone(), source })?;
    if meta.len() > MAX_POLICY_BYTES as u64 {
        return Err(LoadError::TooLarge { path: name, size: meta.len() });
    }
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: name.clone(), source })?;
    Ok(SourceFile::new(name, text))
}

/// Reads, parses and lints a policy file. I/O problems are errors; everything about the content
/// is in the returned diagnostics.
pub fn check_file(path: &Path) -> Result<Checked, LoadError> {
    let source = read_source(path)?;
    Ok(check_source(source, Format::from_path(path)))
}

/// Loads a policy that must be free of errors (warnings are allowed).
pub fn load_file(path: &Path) -> Result<Policy, LoadError> {
    let checked = check_file(path)?;
    into_policy(checked)
}

/// Loads a policy from text that must be free of errors.
pub fn load_str(name: &str, text: &str, format: Format) -> Result<Policy, LoadError> {
    into_policy(check_source(SourceFile::new(name, text), format))
}

fn into_policy(checked: Checked) -> Result<Policy, LoadError> {
    if checked.has_errors() {
        return Err(LoadError::Invalid(Box::new(checked)));
    }
    match checked.policy {
        Some(p) => Ok(p),
        None => Err(LoadError::Invalid(Box::new(checked))),
    }
}

/// Parses and lints policy text.
pub fn check_source(source: SourceFile, format: Format) -> Checked {
    let parsed = parse(&source.text, format);
    match parsed {
        Err(diagnostics) => Checked { source, policy: None, diagnostics },
        Ok(policy) => {
            let mut diagnostics = crate::lint::lint(&policy);
            locate_and_sort(&mut diagnostics, &source.text, format);
            Checked { source, policy: Some(policy), diagnostics }
        }
    }
}

/// Gives every diagnostic found on a parsed document the span its path points at, then orders
/// them: errors first, each kind in the order of the text.
pub(crate) fn locate_and_sort(diagnostics: &mut [Diagnostic], text: &str, format: Format) {
    let locator = match format {
        Format::Toml => Locator::toml(text),
        Format::Yaml => Locator::yaml(text),
    };
    if let Some(locator) = locator {
        for d in diagnostics.iter_mut() {
            if d.span.is_none() {
                d.span = locator.span(&d.path);
            }
        }
    }
    diagnostics.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.span.as_ref().map(|s| s.start)));
}

/// Parses policy text into the model, without lints.
pub fn parse(text: &str, format: Format) -> Result<Policy, Vec<Diagnostic>> {
    parse_document(text, format, "policy")
}

/// Parses a versioned Covenant document (a policy, dataset annotations) into `T`: size limit,
/// `schema` version, then the typed model; every failure is one located diagnostic. `what`
/// names the document in messages ("policy").
pub(crate) fn parse_document<T: DeserializeOwned>(
    text: &str,
    format: Format,
    what: &str,
) -> Result<T, Vec<Diagnostic>> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(vec![Diagnostic::error(
            "too-large",
            DocPath::root(),
            format!("the {what} is {} bytes; the limit is {MAX_POLICY_BYTES} bytes", text.len()),
        )]);
    }
    check_version(text, format, what)?;
    let syntax_ok = match format {
        Format::Toml => Locator::toml(text).is_some(),
        Format::Yaml => Locator::yaml(text).is_some(),
    };
    let mut result = match format {
        Format::Toml => toml::from_str::<T>(text).map_err(|e| vec![from_toml_error(&e)]),
        Format::Yaml => serde_saphyr::from_str::<T>(text).map_err(|e| vec![from_yaml_error(text, &e)]),
    };
    // The text is well-formed, so what failed is a value: name it so.
    if let (true, Err(diags)) = (syntax_ok, &mut result) {
        for d in diags.iter_mut().filter(|d| d.code == "syntax") {
            d.code = "invalid-value";
        }
    }
    result
}

#[derive(Deserialize)]
struct VersionProbe {
    schema: Option<serde_json::Value>,
}

fn check_version(text: &str, format: Format, what: &str) -> Result<(), Vec<Diagnostic>> {
    let probe = match format {
        Format::Toml => toml::from_str::<VersionProbe>(text).map_err(|e| vec![from_toml_error(&e)])?,
        Format::Yaml => serde_saphyr::from_str::<VersionProbe>(text).map_err(|e| vec![from_yaml_error(text, &e)])?,
    };
    let locator = match format {
        Format::Toml => Locator::toml(text),
        Format::Yaml => Locator::yaml(text),
    };
    let path = DocPath::root().key("schema");
    let span = locator.as_ref().and_then(|l| l.span(&path));
    let diag = match probe.schema {
        None => Diagnostic::error(
            "schema",
            DocPath::root(),
            format!("the {what} does not say which schema version it is written in"),
        )
        .with_help(format!("add `schema = {SCHEMA_VERSION}` as the first line")),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(SCHEMA_VERSION)) => return Ok(()),
        Some(v) => Diagnostic::error("schema", path, format!("unsupported schema version `{v}`")).with_help(format!(
            "this build of Covenant reads schema version {SCHEMA_VERSION}; write `schema = {SCHEMA_VERSION}`"
        )),
    };
    Err(vec![match span {
        Some(s) => diag.with_span(s),
        None => diag,
    }])
}

fn from_toml_error(e: &toml::de::Error) -> Diagnostic {
    let message = tidy(e.message());
    let (code, help) = classify(&message);
    let mut d = Diagnostic::error(code, DocPath::root(), message);
    d.help = help;
    if let Some(span) = e.span() {
        d.span = Some(span);
    }
    d
}

fn from_yaml_error(text: &str, e: &serde_saphyr::Error) -> Diagnostic {
    let full = e.without_snippet().to_string();
    // The library appends its own " at line L column C"; the diagnostic shows the position itself.
    let message = match full.find(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full.lines().next().unwrap_or("invalid YAML").to_owned(),
    };
    let message = tidy(&message);
    let (code, help) = classify(&message);
    let mut d = Diagnostic::error(code, DocPath::root(), message);
    d.help = help;
    if let Some(loc) = e.location() {
        d.span = Some(line_col_to_span(text, loc.line() as usize, loc.column() as usize));
    }
    d
}

/// A byte span for a 1-based line and character column: the rest of the word at that spot.
fn line_col_to_span(text: &str, line: usize, col: usize) -> Range<usize> {
    let line_start: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
    let line_text = text[line_start.min(text.len())..].lines().next().unwrap_or("");
    let start = line_start + line_text.char_indices().nth(col.saturating_sub(1)).map_or(line_text.len(), |(b, _)| b);
    let rest = &text[start.min(text.len())..];
    let len = rest.find([':', '\n', ',', ']', '}']).unwrap_or(rest.len()).max(1);
    start..(start + len).min(text.len())
}

/// Lowercase, no final period, and the file format's words ("key", not "field").
fn tidy(message: &str) -> String {
    let m = message.trim().trim_end_matches('.');
    match m.strip_prefix("unknown field ") {
        Some(rest) => format!("unknown key {rest}"),
        None => match m.strip_prefix("missing field ") {
            Some(rest) => format!("missing key {rest}"),
            None => m.to_owned(),
        },
    }
}

/// Names the kind of a parse error and suggests a fix.
fn classify(message: &str) -> (&'static str, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown key ") {
        let help = suggestion(rest).map_or_else(
            || "remove it, or check its spelling; `covenant policy schema` lists every key".to_owned(),
            |s| format!("did you mean `{s}`? (`covenant policy schema` lists every key)"),
        );
        return ("unknown-key", Some(help));
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let help = suggestion(rest)
            .map_or_else(|| "use one of the values listed".to_owned(), |s| format!("did you mean `{s}`?"));
        return ("invalid-value", Some(help));
    }
    if message.starts_with("missing key") {
        return ("missing-key", Some("add the key; `covenant policy schema` describes what it holds".to_owned()));
    }
    ("syntax", None)
}

/// From "`titel`, expected one of `title`, `version`" (backticks optional in the list), the
/// closest expected name, if close.
fn suggestion(rest: &str) -> Option<String> {
    let given = rest.split('`').nth(1)?;
    let (_, list) = rest.split_once("expected one of ")?;
    list.split(',')
        .map(|n| n.trim().trim_matches('`'))
        .map(|n| (crate::diagnostic::edit_distance(given, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_pick_close_names_only() {
        assert_eq!(suggestion("`titel`, expected one of `title`, `version`").as_deref(), Some("title"));
        assert_eq!(suggestion("`zzz`, expected one of `title`, `version`"), None);
        assert_eq!(suggestion("`titel`, expected one of title, version").as_deref(), Some("title"));
    }

    #[test]
    fn yaml_positions_become_byte_spans() {
        let text = "a: 1\nbé: x\n";
        let span = line_col_to_span(text, 2, 1);
        assert_eq!(&text[span], "bé");
    }
}
