//! Diagnostics for policy files: what is wrong, where (file:line:col with the source line), and
//! how to fix it.

use std::fmt::{self, Write as _};
use std::ops::Range;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One step of a path into a policy document: a key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into a policy document, e.g. `retention[2].categories[0]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DocPath(pub Vec<Seg>);

impl DocPath {
    pub fn root() -> DocPath {
        DocPath(Vec::new())
    }
    /// Appends a key.
    pub fn key(mut self, k: &str) -> DocPath {
        self.0.push(Seg::Key(k.to_owned()));
        self
    }
    /// Appends an index.
    pub fn index(mut self, i: usize) -> DocPath {
        self.0.push(Seg::Index(i));
        self
    }
    /// Shorthand: `DocPath::at("activities", 3)` is `activities[3]`.
    pub fn at(key: &str, i: usize) -> DocPath {
        DocPath::root().key(key).index(i)
    }
}

impl fmt::Display for DocPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A finding about a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable name: a lint name such as `unknown-category`, or `syntax`, `unknown-key`, `schema`.
    pub code: &'static str,
    /// What is wrong (lowercase, no final period, user input in backticks).
    pub message: String,
    /// Where in the document, as a path.
    pub path: DocPath,
    /// Where in the source text, in bytes, once located.
    pub span: Option<Range<usize>>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, path: DocPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, code, message: message.into(), path, span: None, help: None }
    }
    pub fn warning(code: &'static str, path: DocPath, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, code, message: message.into(), path, span: None, help: None }
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
    pub fn with_span(mut self, span: Range<usize>) -> Diagnostic {
        self.span = Some(span);
        self
    }
}

/// A policy file's name and text, for locating and printing diagnostics.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile { name: name.into(), text: text.into() }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// `file:line:col` of a diagnostic, or just `file` when it has no span.
    pub fn position(&self, d: &Diagnostic) -> String {
        match &d.span {
            Some(span) => {
                let (line, col) = self.line_col(span.start);
                format!("{}:{line}:{col}", self.name)
            }
            None => self.name.clone(),
        }
    }

    /// Renders a diagnostic the way compilers do:
    ///
    /// ```text
    /// error[unknown-category]: retention rule `service` names unknown category `user.fo`
    ///   --> policy.toml:40:16
    ///    |
    /// 40 | categories = ["user.fo"]
    ///    |               ^^^^^^^^^
    ///    = help: declare it in [[categories]] or fix the spelling
    /// ```
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = format!("{}[{}]: {}\n", d.severity, d.code, d.message);
        let _ = writeln!(out, "  --> {}", self.position(d));
        let mut pad = "  ".to_owned();
        if let Some(span) = &d.span {
            let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
            let (line_no, col) = self.line_col(start);
            let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = self.text[start..].find('\n').map_or(self.text.len(), |i| start + i);
            let line = self.text[line_start..line_end].trim_end_matches('\r');
            let end = floor_char_boundary(&self.text, span.end.clamp(start, line_end));
            let width = self.text[start..end].chars().count().max(1);
            let gutter = line_no.to_string().len();
            pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line_no} | {line}");
            let _ = writeln!(out, "{pad} | {}{}", " ".repeat(col - 1), "^".repeat(width));
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        if !d.path.0.is_empty() {
            let _ = writeln!(out, "{pad} = at: {}", d.path);
        }
        out
    }
}

/// Levenshtein distance in characters, for "did you mean …?" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_file_line_col_with_caret_and_help() {
        let src = SourceFile::new("p.toml", "schema = 1\n[policy]\ntitel = \"x\"\n");
        let d = Diagnostic::error("unknown-key", DocPath::root().key("policy").key("titel"), "unknown key `titel`")
            .with_span(20..25)
            .with_help("did you mean `title`?");
        assert_eq!(
            src.render(&d),
            "error[unknown-key]: unknown key `titel`\n  --> p.toml:3:1\n  |\n3 | titel = \"x\"\n  | ^^^^^\n  = help: did you mean `title`?\n  = at: policy.titel\n"
        );
    }

    #[test]
    fn edit_distance_counts_character_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = SourceFile::new("p", "é = 1\nabc");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(2), (1, 2));
        assert_eq!(src.line_col(1), (1, 1)); // inside a character: floor to its start
        assert_eq!(src.line_col(8), (2, 2));
        assert_eq!(src.line_col(999), (2, 4));
    }
}
