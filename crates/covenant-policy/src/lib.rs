#![doc = include_str!("../README.md")]

#[cfg(test)]
mod arbitrary;
pub mod dataset;
pub mod diagnostic;
pub mod diff;
pub mod lint;
mod load;
pub mod locate;
pub mod model;
pub mod notice;
pub mod ropa;
pub mod schema;

pub use diagnostic::{Diagnostic, DocPath, Severity, SourceFile};
pub use load::{
    Checked, Format, LoadError, MAX_POLICY_BYTES, check_file, check_source, load_file, load_str, parse, read_source,
};
pub use model::Policy;

/// A rendering failed (a template could not be written).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render the template: {0}")]
    Template(#[from] askama::Error),
}
