//! `covenant policy …`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use covenant_policy::{LoadError, Policy, Severity};

/// Loads a policy that must have no errors; the error message carries every diagnostic.
pub fn load(path: &Path) -> Result<Policy> {
    match covenant_policy::load_file(path) {
        Ok(p) => Ok(p),
        Err(e @ LoadError::Invalid(_)) => Err(anyhow::anyhow!("{e}\nfix these and run the command again")),
        Err(e) => Err(e.into()),
    }
}

pub fn check(files: &[PathBuf], deny_warnings: bool, quiet: bool) -> Result<ExitCode> {
    let mut failed = 0usize;
    for file in files {
        let checked = match covenant_policy::check_file(file) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
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
            println!(
                "{}: {verdict} ({errors} error{}, {warnings} warning{})",
                file.display(),
                plural(errors),
                plural(warnings)
            );
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} polic{} failed the check", files.len(), if files.len() == 1 { "y" } else { "ies" });
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub fn diff(old: &Path, new: &Path, json: bool, announced: Option<jiff::civil::Date>) -> Result<ExitCode> {
    let (old_p, new_p) = (load(old)?, load(new)?);
    let d = covenant_policy::diff::diff(&old_p, &new_p);
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", d.render_text());
    if let (Some(day), Some(period), true) = (announced, d.notice_period, d.is_material()) {
        let effective = period.after_date(day)?;
        println!("announced on {day}, the material changes may take effect on {effective} at the earliest");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn lints() {
    println!("{:<40} {:<8} what it checks", "lint", "level");
    for l in covenant_policy::lint::LINTS {
        let level = match l.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        println!("{:<40} {:<8} {}", l.code, level, l.summary);
    }
}
