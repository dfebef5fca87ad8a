//! The published JSON Schema of the policy file format.

/// The JSON Schema (draft 2020-12) of a policy file, pretty-printed.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(crate::model::Policy);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_names_every_top_level_key_and_forbids_unknown_ones() {
        let schema: serde_json::Value = serde_json::from_str(&super::json_schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for key in ["schema", "policy", "controller", "categories", "activities", "retention", "rights"] {
            assert!(props.contains_key(key), "{key}");
        }
        assert_eq!(schema["additionalProperties"], serde_json::Value::Bool(false));
    }
}
