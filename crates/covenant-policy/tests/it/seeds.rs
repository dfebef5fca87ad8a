//! The five example policies: they check clean, keep every promise they cite, and render what the
//! issue's acceptance points ask for.

use std::path::{Path, PathBuf};

use covenant_policy::{Format, Severity, SourceFile, check_file, check_source};

fn examples_dir() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../../examples")
}

fn example(name: &str) -> PathBuf {
    examples_dir().join(name).join("policy.toml")
}

/// Every promise ID of each company (see the seed promises), which its policy must cite.
const PROMISES: &[(&str, &str, u32)] =
    &[("workki", "W", 14), ("workpex", "P", 9), ("workoptima", "O", 9), ("okki", "K", 11), ("okitoki", "T", 9)];

#[test]
fn every_example_checks_without_errors_or_warnings() {
    for (name, _, _) in PROMISES {
        let checked = check_file(&example(name)).unwrap();
        let found: Vec<String> = checked.diagnostics.iter().map(|d| checked.source.render(d)).collect();
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
        assert!(checked.policy.is_some());
    }
}

#[test]
fn every_example_cites_each_of_its_promises() {
    for (name, prefix, count) in PROMISES {
        let text = std::fs::read_to_string(example(name)).unwrap();
        for n in 1..=*count {
            let id = format!("{prefix}{n}");
            let cited = text.lines().filter(|l| l.contains('#')).any(|l| {
                let comment = &l[l.find('#').unwrap_or(0)..];
                comment.contains("promise") && comment.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == id)
            });
            assert!(cited, "{name}: promise {id} is not cited in a `# promise {id}` comment");
        }
    }
}

#[test]
fn every_example_loads_the_same_from_yaml() {
    for (name, _, _) in PROMISES {
        let policy = covenant_policy::load_file(&example(name)).unwrap();
        let yaml = serde_saphyr::to_string(&policy).unwrap();
        let again = check_source(SourceFile::new(format!("{name}.yaml"), yaml), Format::Yaml);
        assert!(!again.has_errors(), "{name}: {}", again.render());
        assert_eq!(again.policy.as_ref(), Some(&policy), "{name}");
    }
}

// promise K2, K3, K5: OKKI's record of processing lists its three roles, Singapore storage and
// all twelve data types (a)-(l).
#[test]
fn okki_ropa_json_lists_three_roles_singapore_and_twelve_data_types() {
    let policy = covenant_policy::load_file(&example("okki")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&covenant_policy::ropa::json(&policy)).unwrap();
    let text = json.to_string();
    for role in ["controller", "processor", "joint_controller"] {
        assert!(text.contains(&format!("\"{role}\"")), "role {role} missing");
    }
    assert!(text.contains("\"SG\"") && text.contains("Singapore"), "Singapore storage missing");
    for letter in 'a'..='l' {
        assert!(text.contains(&format!("\"({letter})\"")), "data type ({letter}) missing");
    }
}

// promise P9, W13: a longer retention period is a material change.
#[test]
fn longer_retention_in_a_real_policy_is_material() {
    let path = example("workki");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("period = \"3 years\""), "workki keeps something for 3 years (promise W10)");
    let old = covenant_policy::load_str("old.toml", &text, Format::Toml).unwrap();
    let new = covenant_policy::load_str(
        "new.toml",
        &text.replacen("period = \"3 years\"", "period = \"5 years\"", 1),
        Format::Toml,
    )
    .unwrap();
    let d = covenant_policy::diff::diff(&old, &new);
    assert!(d.is_material(), "{}", d.render_text());
    assert!(d.changes.iter().any(|c| c.material && c.summary.contains("5 years")), "{}", d.render_text());
}

#[test]
fn a_retention_rule_naming_an_unknown_category_is_located() {
    let text = std::fs::read_to_string(example("okitoki")).unwrap();
    // Break the first category reference inside the first retention rule.
    let start = text.find("[[retention]]").unwrap();
    let cats = start + text[start..].find("categories = [\"").unwrap() + "categories = [\"".len();
    let broken = format!("{}zz.unknown{}", &text[..cats], &text[cats + text[cats..].find('"').unwrap()..]);
    let checked = check_source(SourceFile::new("copy.toml", broken.clone()), Format::Toml);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error && d.message.contains("zz.unknown"))
        .unwrap_or_else(|| panic!("no error for the unknown category:\n{}", checked.render()));
    let line = broken[..cats].matches('\n').count() + 1;
    let pos = checked.source.position(d);
    assert!(pos.starts_with(&format!("copy.toml:{line}:")), "{pos}");
}

/// Test fixtures are realistic policies too: they must pass every lint, so that tests exercise
/// the renderers and the diff on input a user could actually publish. The one exception:
/// diff-base.toml leaves out the right to restriction so that the diff tests can add it.
#[test]
fn every_fixture_checks_without_errors_or_warnings() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml" || e == "yaml") {
            let checked = check_file(&path).unwrap();
            let allowed = |code: &str| path.ends_with("diff-base.toml") && code == "rights-missing-core";
            let unexpected: Vec<String> =
                checked.diagnostics.iter().filter(|d| !allowed(d.code)).map(|d| checked.source.render(d)).collect();
            assert!(unexpected.is_empty(), "{}:\n{}", path.display(), unexpected.join("\n"));
            seen += 1;
        }
    }
    assert!(seen >= 3, "fixtures missing");
}

/// The policy in docs/policy-format.md is a real, clean policy: the guide cannot drift.
#[test]
fn the_guide_example_checks_clean() {
    let guide = std::fs::read_to_string(
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
            .join("../../docs/policy-format.md"),
    )
    .unwrap();
    let start = guide.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + guide[start..].find("```").unwrap();
    let checked = check_source(SourceFile::new("guide.toml", &guide[start..end]), Format::Toml);
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
}
