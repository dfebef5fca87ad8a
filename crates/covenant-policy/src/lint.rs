//! Semantic lints over a parsed policy.

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Policy;

/// A lint's name, default severity and one-line summary (for `covenant policy lints`).
#[derive(Clone, Copy, Debug)]
pub struct LintInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

/// Every lint Covenant runs.
pub const LINTS: &[LintInfo] = &[];

/// Runs every lint. Diagnostics carry document paths; the loader turns them into spans.
pub fn lint(_policy: &Policy) -> Vec<Diagnostic> {
    Vec::new()
}
