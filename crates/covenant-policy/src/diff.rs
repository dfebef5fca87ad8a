//! Changes between two versions of a policy, each classified as material or not.

use covenant_core::Period;
use serde::Serialize;

use crate::model::Policy;

/// What kind of change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One change between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, as a document path: `retention[service-data].period`.
    pub path: String,
    pub kind: ChangeKind,
    /// What changed, in words.
    pub summary: String,
    /// Whether it affects people's rights and so needs notice before it takes effect.
    pub material: bool,
    /// Why it is (or is not) material.
    pub reason: String,
}

/// Every change between two versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    pub changes: Vec<Change>,
    /// Notice the new policy requires before material changes take effect.
    pub notice_period: Option<Period>,
}

impl PolicyDiff {
    pub fn is_material(&self) -> bool {
        self.changes.iter().any(|c| c.material)
    }
}

/// Compares two versions.
pub fn diff(_old: &Policy, new: &Policy) -> PolicyDiff {
    PolicyDiff { changes: Vec::new(), notice_period: new.changes.as_ref().and_then(|c| c.material_notice) }
}

impl PolicyDiff {
    /// A readable listing of the changes.
    pub fn render_text(&self) -> String {
        String::new()
    }
}
