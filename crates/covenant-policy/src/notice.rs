//! The public privacy notice (GDPR Art. 13/14), generated from the policy.

use crate::model::Policy;

/// The notice as Markdown.
pub fn markdown(policy: &Policy) -> String {
    format!("# {}\n", policy.policy.title)
}

/// The notice as a standalone HTML page.
pub fn html(policy: &Policy) -> Result<String, crate::RenderError> {
    Ok(format!("<h1>{}</h1>", policy.policy.title))
}
