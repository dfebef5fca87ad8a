//! `covenant demo-data`: the demo customer application (a call-center CRM under Oki-Toki's
//! policy) with realistic, deterministic data, and a ready `covenant.toml` next to it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use covenant_demo_app::{Database, Options, Summary};

/// How `covenant demo-data` runs.
pub struct DemoDataOptions<'a> {
    pub contacts: u64,
    pub out: &'a Path,
    pub seed: u64,
    /// `YYYY-MM-DD`: generated time ends that day (default: a fixed day, for reproducible data).
    pub until: Option<&'a str>,
    /// Load into this PostgreSQL database instead of writing SQLite files.
    pub postgres: Option<&'a str>,
    pub replace: bool,
}

/// The configuration file written next to the data, as the command documents it.
pub fn config_text(postgres: Option<&str>) -> String {
    let (crm, events) = match postgres {
        Some(url) => (url.to_owned(), url.to_owned()),
        None => ("sqlite://crm.db".to_owned(), "sqlite://events.db".to_owned()),
    };
    format!(
        "# Covenant configuration for the demo application (written by `covenant demo-data`).\n\
         policy = \"policy.toml\"\n\
         tenant = \"demo\"\n\
         \n\
         [store]\n\
         url = \"sqlite://covenant.db?mode=rwc\"\n\
         \n\
         [[datasets]]\n\
         annotations = \"crm.dataset.toml\"\n\
         url = {}\n\
         \n\
         [[datasets]]\n\
         annotations = \"events.dataset.toml\"\n\
         url = {}\n",
        toml_string(&crm),
        toml_string(&events)
    )
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the policy, the two annotation files and `covenant.toml` into `dir`; returns the
/// path of `covenant.toml`.
pub fn write_config(dir: &Path, postgres: Option<&str>) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let files = [
        ("policy.toml", covenant_demo_app::POLICY_TOML.to_owned()),
        ("crm.dataset.toml", covenant_demo_app::CRM_DATASET_TOML.to_owned()),
        ("events.dataset.toml", covenant_demo_app::EVENTS_DATASET_TOML.to_owned()),
        ("covenant.toml", config_text(postgres)),
    ];
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(dir.join("covenant.toml"))
}

fn options(opts: &DemoDataOptions<'_>) -> Result<Options> {
    let mut o = Options::new(opts.contacts);
    o.seed = opts.seed;
    o.progress = true;
    if let Some(day) = opts.until {
        o.until = covenant_demo_app::time::parse_date(day)
            .with_context(|| format!("`{day}` is not a date; write it as YYYY-MM-DD, e.g. 2026-11-01"))?;
    }
    Ok(o)
}

/// Generates the data (SQLite files in `out`, or the PostgreSQL database) and writes the
/// configuration; returns what was written and the path of `covenant.toml`.
pub fn generate(opts: &DemoDataOptions<'_>) -> Result<(Summary, PathBuf)> {
    let o = options(opts)?;
    let summary = match opts.postgres {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!("`{}` is not a PostgreSQL URL; write it as postgres://USER:PASSWORD@HOST/DATABASE", redact(url));
            }
            crate::serve::runtime()?
                .block_on(covenant_demo_app::write_postgres(url, &o, opts.replace))
                .with_context(|| format!("cannot load the demo data into `{}`", redact(url)))?
        }
        None => covenant_demo_app::write_sqlite(opts.out, &o, opts.replace)
            .with_context(|| format!("cannot write the demo data into `{}`", opts.out.display()))?,
    };
    let config = write_config(opts.out, opts.postgres)?;
    Ok((summary, config))
}

fn redact(url: &str) -> String {
    covenant_connectors::introspect::redact_url(url)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn megabytes(path: &Path) -> String {
    std::fs::metadata(path).map(|m| format!("{:.1} MB", m.len() as f64 / 1e6)).unwrap_or_else(|_| "?".to_owned())
}

/// The rows per table, the total and the time taken.
pub fn print_summary(summary: &Summary) {
    println!("{:<8} {:<24} {:>12}", "database", "table", "rows");
    for t in &summary.tables {
        println!("{:<8} {:<24} {:>12}", t.database.name(), t.table, thousands(t.rows));
    }
    println!(
        "{:<8} {:<24} {:>12}   in {:.1} s",
        "total",
        "",
        thousands(summary.total_rows()),
        summary.elapsed.as_secs_f64()
    );
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

pub fn run(opts: &DemoDataOptions<'_>) -> Result<ExitCode> {
    let (summary, config) = generate(opts)?;
    print_summary(&summary);
    match opts.postgres {
        Some(url) => println!("loaded into {} (tables of `crm` and `events` side by side)", redact(url)),
        None => {
            for db in Database::ALL {
                let path = opts.out.join(db.file_name());
                println!("wrote {} ({})", absolute(&path).display(), megabytes(&path));
            }
        }
    }
    println!(
        "Ada Lovelace is {} (user {}, public id {}); Bob Marsh ({}) is her colleague",
        covenant_demo_app::ADA_EMAIL,
        covenant_demo_app::ADA_USER_ID,
        covenant_demo_app::ada_public_id(),
        covenant_demo_app::BOB_EMAIL
    );
    println!("{}", absolute(&config).display());
    Ok(ExitCode::SUCCESS)
}

/// For `covenant demo`: the demo application in `dir`, generated unless already there.
pub fn ensure(dir: &Path, contacts: u64) -> Result<PathBuf> {
    let present = Database::ALL.iter().all(|db| dir.join(db.file_name()).is_file());
    let config = dir.join("covenant.toml");
    if present {
        if !config.is_file() {
            write_config(dir, None)?;
        }
        println!("\ndemo application already in {} (delete crm.db to generate it again)", absolute(dir).display());
    } else {
        let opts = DemoDataOptions {
            contacts,
            out: dir,
            seed: covenant_demo_app::DEFAULT_SEED,
            until: None,
            postgres: None,
            replace: true,
        };
        let (summary, _) = generate(&opts)?;
        println!(
            "\ngenerated the demo application (a call-center CRM): {} rows in {} tables in {:.1} s",
            thousands(summary.total_rows()),
            summary.tables.len(),
            summary.elapsed.as_secs_f64()
        );
    }
    for db in Database::ALL {
        println!("  {:<7} {}", db.name(), absolute(&dir.join(db.file_name())).display());
    }
    println!(
        "  person: {} (also a contact of another account); untouched colleague: {}",
        covenant_demo_app::ADA_EMAIL,
        covenant_demo_app::BOB_EMAIL
    );
    println!("  config: {}", absolute(&config).display());
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_has_the_documented_shape() {
        let expected = "# Covenant configuration for the demo application (written by `covenant demo-data`).
policy = \"policy.toml\"
tenant = \"demo\"

[store]
url = \"sqlite://covenant.db?mode=rwc\"

[[datasets]]
annotations = \"crm.dataset.toml\"
url = \"sqlite://crm.db\"

[[datasets]]
annotations = \"events.dataset.toml\"
url = \"sqlite://events.db\"
";
        assert_eq!(config_text(None), expected);
        let pg = config_text(Some("postgres://u:p@h/db"));
        assert_eq!(pg.matches("url = \"postgres://u:p@h/db\"").count(), 2);
        assert!(toml::from_str::<toml::Table>(&pg).is_ok());
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}
