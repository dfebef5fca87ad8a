//! `covenant dataset …`: check dataset annotations (against the policy and, with `--db`,
//! against the live database), print their JSON Schema, draft them from a live database.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use covenant_connectors::introspect::{self, DatabaseSchema, DraftOptions};
use covenant_policy::dataset::{CheckedDataset, Dataset, check_dataset_file, check_dataset_source, unheld_categories};
use covenant_policy::locate::Locator;
use covenant_policy::{Format, Severity, SourceFile};

use crate::policy_cmd;

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Which database each file is checked against: none, one for all, or one per file.
fn pair_databases<'a>(files: &[PathBuf], dbs: &'a [String]) -> Result<Vec<Option<&'a str>>> {
    match dbs.len() {
        0 => Ok(vec![None; files.len()]),
        1 => Ok(vec![Some(dbs[0].as_str()); files.len()]),
        n if n == files.len() => Ok(dbs.iter().map(|d| Some(d.as_str())).collect()),
        n => bail!(
            "{n} --db for {} annotation file{}; pass one --db for all files, or one per file in the same order",
            files.len(),
            plural(files.len())
        ),
    }
}

/// Adds the problems `dataset` has against the live database to `checked`, located in its text:
/// what the schema lacks, and identity columns whose stored values exact lookups miss.
fn check_against(
    checked: &mut CheckedDataset,
    schema: &DatabaseSchema,
    url: &str,
    rt: &tokio::runtime::Runtime,
) -> Result<()> {
    let Some(dataset) = &checked.dataset else { return Ok(()) };
    let mut found = introspect::missing_in_database(dataset, schema);
    found.extend(rt.block_on(introspect::identity_case_warnings(url, dataset, schema))?);
    let locator = match Format::from_path(Path::new(&checked.source.name)) {
        Format::Toml => Locator::toml(&checked.source.text),
        Format::Yaml => Locator::yaml(&checked.source.text),
    };
    if let Some(locator) = locator {
        for d in &mut found {
            d.span = locator.span(&d.path);
        }
    }
    checked.diagnostics.extend(found);
    checked.diagnostics.sort_by_key(|d| (std::cmp::Reverse(d.severity), d.span.as_ref().map(|s| s.start)));
    Ok(())
}

pub fn check(
    policy_file: &Path,
    files: &[PathBuf],
    dbs: &[String],
    deny_warnings: bool,
    quiet: bool,
) -> Result<ExitCode> {
    let policy = policy_cmd::load(policy_file)?;
    let pairs = pair_databases(files, dbs)?;
    let mut schemas: HashMap<&str, DatabaseSchema> = HashMap::new();
    let rt = if dbs.is_empty() { None } else { Some(crate::serve::runtime()?) };
    if let Some(rt) = &rt {
        for url in dbs {
            if !schemas.contains_key(url.as_str()) {
                let schema = rt.block_on(introspect::introspect(url))?;
                schemas.insert(url.as_str(), schema);
            }
        }
    }
    let mut failed = 0usize;
    let mut datasets: Vec<Dataset> = Vec::new();
    for (file, db) in files.iter().zip(pairs) {
        let mut checked = match check_dataset_file(file, &policy) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        if let (Some(url), Some(rt)) = (db, &rt)
            && let Some(schema) = schemas.get(url)
        {
            check_against(&mut checked, schema, url, rt)?;
        }
        if !checked.diagnostics.is_empty() {
            eprintln!("{}", checked.render());
        }
        let errors = checked.errors().count();
        let warnings = checked.warnings().count();
        let bad = errors > 0 || (deny_warnings && warnings > 0);
        if bad {
            failed += 1;
        }
        if !quiet {
            let verdict = if bad { "FAILED" } else { "ok" };
            let against = db.map(|u| format!(", against {}", introspect::redact_url(u))).unwrap_or_default();
            println!(
                "{}: {verdict} ({errors} error{}, {warnings} warning{}{against})",
                file.display(),
                plural(errors),
                plural(warnings)
            );
        }
        if let Some(d) = checked.dataset {
            datasets.push(d);
        }
    }
    let refs: Vec<&Dataset> = datasets.iter().collect();
    let unheld = unheld_categories(&policy, &refs);
    if !unheld.is_empty() && !datasets.is_empty() {
        eprintln!(
            "{}[unheld-categories]: the policy declares {} categor{} that no dataset holds",
            Severity::Warning,
            unheld.len(),
            if unheld.len() == 1 { "y" } else { "ies" }
        );
        for c in &unheld {
            eprintln!("  - {} ({})", c.id, c.name);
        }
        eprintln!(
            "  = help: annotate the columns that hold them; if nothing collects them, the notice promises more than is collected"
        );
    }
    if failed > 0 {
        eprintln!(
            "{failed} of {} annotation file{} failed the check",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

pub fn schema() -> ExitCode {
    println!("{:#}", covenant_policy::dataset::dataset_schema());
    ExitCode::SUCCESS
}

fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

pub fn generate(db: &str, policy_file: Option<&Path>, id: Option<&str>, out: Option<&Path>) -> Result<ExitCode> {
    let id = match id {
        Some(id) if valid_id(id) => id.to_owned(),
        Some(id) => bail!(
            "`{id}` is not a dataset id; use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter"
        ),
        None => introspect::dataset_id_from_url(db),
    };
    let policy = policy_file.map(policy_cmd::load).transpose()?;
    let schema = crate::serve::runtime()?.block_on(introspect::introspect(db))?;
    if schema.tables.is_empty() {
        bail!("the database `{}` has no tables; check the URL", introspect::redact_url(db));
    }
    let source = introspect::redact_url(db);
    let text =
        introspect::draft_annotations(&schema, &DraftOptions { id: &id, source: &source, policy: policy.as_ref() });
    let name = out.map_or_else(|| format!("{id}.dataset.toml"), |p| p.display().to_string());
    // The draft must parse; with a policy, it is checked against it.
    let checked = match &policy {
        Some(p) => Some(check_dataset_source(SourceFile::new(name.clone(), text.clone()), Format::Toml, p)),
        None => {
            covenant_policy::dataset::parse_dataset(&text, Format::Toml)
                .map_err(|d| anyhow::anyhow!("the draft does not parse ({} problems); please report this", d.len()))?;
            None
        }
    };
    match out {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("cannot write `{}`", path.display()))?,
        None => print!("{text}"),
    }
    let columns: usize = text.lines().filter(|l| l.trim_start().starts_with("{ name =")).count();
    let guesses = text.matches("# guessed:").count();
    eprintln!(
        "drafted `{id}` from {source}: {} table{}, {columns} annotated column{}, {guesses} guess{} to review (lines marked `# guessed:`)",
        schema.tables.len(),
        plural(schema.tables.len()),
        plural(columns),
        if guesses == 1 { "" } else { "es" }
    );
    if let Some(c) = checked {
        eprintln!(
            "checked against the policy: {} error{}, {} warning{}{}",
            c.errors().count(),
            plural(c.errors().count()),
            c.warnings().count(),
            plural(c.warnings().count()),
            if c.diagnostics.is_empty() { "" } else { " (see them with `covenant dataset check`)" }
        );
        if c.has_errors() {
            eprintln!("{}", c.render());
            return Ok(ExitCode::from(1));
        }
    }
    if let Some(path) = out {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_pair_with_files() {
        let files = vec![PathBuf::from("a.toml"), PathBuf::from("b.toml")];
        assert_eq!(pair_databases(&files, &[]).unwrap(), vec![None, None]);
        let one = vec!["sqlite://x.db".to_owned()];
        assert_eq!(pair_databases(&files, &one).unwrap(), vec![Some("sqlite://x.db"); 2]);
        let two = vec!["sqlite://a.db".to_owned(), "sqlite://b.db".to_owned()];
        assert_eq!(pair_databases(&files, &two).unwrap(), vec![Some("sqlite://a.db"), Some("sqlite://b.db")]);
        let three = vec![String::new(); 3];
        let e = pair_databases(&files, &three).unwrap_err().to_string();
        assert!(e.contains("3 --db for 2 annotation files"), "{e}");
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("crm") && valid_id("crm-2") && !valid_id("Crm") && !valid_id("2crm") && !valid_id(""));
    }
}
