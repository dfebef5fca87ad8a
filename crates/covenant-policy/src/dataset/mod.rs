//! Dataset annotations: how each application database holds personal data (see `model`), read
//! strictly with located diagnostics and checked against the policy they serve.

mod check;
pub mod model;

use std::path::Path;

pub use check::{held_categories, unheld_categories, validate};
pub use model::{
    Column, DATASET_SCHEMA_VERSION, Dataset, IdentityColumn, IdentityMatch, Link, Reference, RowErasure, Strategy,
    Table, Truncation,
};

use crate::diagnostic::{Diagnostic, Severity, SourceFile};
use crate::load::{Format, MAX_POLICY_BYTES, locate_and_sort, parse_document};
use crate::model::Policy;

/// Dataset annotations that parsed, with everything the checks found.
#[derive(Debug)]
pub struct CheckedDataset {
    pub source: SourceFile,
    /// `None` when the file did not parse at all.
    pub dataset: Option<Dataset>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedDataset {
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

/// Why dataset annotations could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read dataset annotations `{path}`: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("dataset annotations `{path}` are {size} bytes; the limit is {MAX_POLICY_BYTES} bytes")]
    TooLarge { path: String, size: u64 },
    #[error("{}", render_invalid(.0))]
    Invalid(Box<CheckedDataset>),
}

fn render_invalid(c: &CheckedDataset) -> String {
    let n = c.errors().count();
    let rendered: Vec<String> = c.errors().map(|d| c.source.render(d)).collect();
    format!(
        "dataset annotations `{}` have {n} error{}:\n\n{}",
        c.source.name,
        if n == 1 { "" } else { "s" },
        rendered.join("\n")
    )
}

/// Parses dataset annotation text, without checking it against a policy.
pub fn parse_dataset(text: &str, format: Format) -> Result<Dataset, Vec<Diagnostic>> {
    parse_document::<Dataset>(text, format, "dataset annotation file").map_err(|mut diags| {
        for d in &mut diags {
            if let Some(h) = &mut d.help {
                *h = h.replace("covenant policy schema", "covenant dataset schema");
            }
        }
        diags
    })
}

/// Parses dataset annotations and checks them against `policy`.
pub fn check_dataset_source(source: SourceFile, format: Format, policy: &Policy) -> CheckedDataset {
    match parse_dataset(&source.text, format) {
        Err(diagnostics) => CheckedDataset { source, dataset: None, diagnostics },
        Ok(dataset) => {
            let mut diagnostics = validate(&dataset, policy);
            locate_and_sort(&mut diagnostics, &source.text, format);
            CheckedDataset { source, dataset: Some(dataset), diagnostics }
        }
    }
}

/// Reads dataset annotations, refusing oversized files.
fn read(path: &Path) -> Result<SourceFile, DatasetError> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| DatasetError::Io { path: name.clone(), source })?;
    if meta.len() > MAX_POLICY_BYTES as u64 {
        return Err(DatasetError::TooLarge { path: name, size: meta.len() });
    }
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: name.clone(), source })?;
    Ok(SourceFile::new(name, text))
}

/// Reads, parses and checks a dataset annotation file against `policy`.
pub fn check_dataset_file(path: &Path, policy: &Policy) -> Result<CheckedDataset, DatasetError> {
    Ok(check_dataset_source(read(path)?, Format::from_path(path), policy))
}

/// Loads dataset annotations that must be free of errors (warnings are allowed).
pub fn load_dataset_file(path: &Path, policy: &Policy) -> Result<Dataset, DatasetError> {
    into_dataset(check_dataset_file(path, policy)?)
}

/// Loads dataset annotations from text that must be free of errors.
pub fn load_dataset_str(name: &str, text: &str, format: Format, policy: &Policy) -> Result<Dataset, DatasetError> {
    into_dataset(check_dataset_source(SourceFile::new(name, text), format, policy))
}

fn into_dataset(checked: CheckedDataset) -> Result<Dataset, DatasetError> {
    if checked.has_errors() {
        return Err(DatasetError::Invalid(Box::new(checked)));
    }
    match checked.dataset {
        Some(d) => Ok(d),
        None => Err(DatasetError::Invalid(Box::new(checked))),
    }
}

/// The JSON Schema of the dataset annotation format.
pub fn dataset_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Dataset)).unwrap_or(serde_json::Value::Null)
}
