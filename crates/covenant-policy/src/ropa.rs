//! The record of processing activities (GDPR Art. 30), generated from the policy.

use crate::model::Policy;

/// The record as pretty-printed JSON.
pub fn json(_policy: &Policy) -> String {
    String::new()
}

/// The record as CSV, one row per activity.
pub fn csv(_policy: &Policy) -> String {
    String::new()
}

/// The record as a standalone HTML page.
pub fn html(_policy: &Policy) -> Result<String, crate::RenderError> {
    Ok(String::new())
}
