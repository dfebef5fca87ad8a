//! Exports of an access report (portability, promises W6, P6): the JSON document
//! (`export.json`, schema in `docs/exports.md`), a zip of CSV files (one per table, with a
//! README.txt), and a standalone HTML report a person can read and print (`report.html`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use askama::Template;
use zip::write::SimpleFileOptions;

use crate::error::DsrError;
use crate::report::AccessReport;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DsrError + '_ {
    move |source| DsrError::Io { path: path.display().to_string(), source }
}

/// The JSON document.
pub fn json(report: &AccessReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// One CSV field, quoted when it needs to be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The CSV files: `DATASET.TABLE.csv` → text.
pub fn csv_files(report: &AccessReport) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in &report.tables {
        let keys: Vec<&String> = t.rows.first().map(|r| r.key.keys().collect()).unwrap_or_default();
        let columns: Vec<&str> = t.columns.iter().map(|c| c.column.as_str()).collect();
        let mut text = String::new();
        let header: Vec<String> = keys.iter().map(|k| field(k)).chain(columns.iter().map(|c| field(c))).collect();
        text.push_str(&header.join(","));
        text.push_str("\r\n");
        for r in &t.rows {
            let line: Vec<String> = keys
                .iter()
                .map(|k| field(&r.key.get(*k).map(cell).unwrap_or_default()))
                .chain(columns.iter().map(|c| field(&r.values.get(*c).map(cell).unwrap_or_default())))
                .collect();
            text.push_str(&line.join(","));
            text.push_str("\r\n");
        }
        out.push((format!("{}.{}.csv", t.dataset, t.table), text));
    }
    out
}

/// README.txt of the CSV archive: what each file and column is, why it is held, how long.
pub fn readme(report: &AccessReport) -> String {
    let mut s = format!(
        "Your personal data held by {}\r\nGenerated {} under privacy policy version {}.\r\n\r\n\
         One CSV file per table (UTF-8, comma-separated, RFC 4180). The first columns of each file are the row's key;\r\n\
         the others are your data. export.json holds the same data with its explanations (schema: docs/exports.md).\r\n",
        report.controller, report.generated_at, report.policy_version
    );
    for (t, (file, _)) in report.tables.iter().zip(csv_files(report)) {
        s.push_str(&format!("\r\n{file}: {} ({})\r\n", t.table, t.dataset_name));
        if let Some(d) = &t.description {
            s.push_str(&format!("  {d}\r\n"));
        }
        for c in &t.columns {
            let cat = c.category_name.clone().or_else(|| c.category.clone()).unwrap_or_else(|| "identifier".into());
            s.push_str(&format!("  - {}: {cat}\r\n", c.column));
            for p in &c.purposes {
                s.push_str(&format!("      why: {} ({})\r\n", p.name, p.legal_bases.join(", ")));
            }
            for r in &c.retention {
                s.push_str(&format!("      kept: {} ({})\r\n", r.period, r.name));
            }
            if !c.recipients.is_empty() {
                let names: Vec<&str> = c.recipients.iter().map(|r| r.name.as_str()).collect();
                s.push_str(&format!("      shared with: {}\r\n", names.join(", ")));
            }
            if let Some(h) = &c.legal_hold {
                s.push_str(&format!("      kept under legal hold: {} ({}; {})\r\n", h.name, h.basis, h.period));
            }
        }
    }
    for r in &report.referred {
        s.push_str(&format!(
            "\r\nData held for our customers in {} (ask them, they decide about it): {} customer(s)\r\n",
            r.table,
            r.customers.len()
        ));
    }
    s
}

/// The CSV files and README.txt, zipped (stored, no compression).
pub fn csv_zip(report: &AccessReport) -> Result<Vec<u8>, DsrError> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let zerr = |e: zip::result::ZipError| DsrError::Internal(format!("cannot build the zip archive: {e}"));
        zip.start_file("README.txt", opts).map_err(zerr)?;
        zip.write_all(readme(report).as_bytes()).map_err(|e| DsrError::Internal(e.to_string()))?;
        for (name, text) in csv_files(report) {
            zip.start_file(name, opts).map_err(zerr)?;
            zip.write_all(text.as_bytes()).map_err(|e| DsrError::Internal(e.to_string()))?;
        }
        zip.finish().map_err(zerr)?;
    }
    Ok(buf.into_inner())
}

#[derive(Template)]
#[template(path = "report.html")]
struct HtmlReport<'a> {
    r: &'a AccessReport,
}

impl HtmlReport<'_> {
    fn cell(&self, v: &serde_json::Value) -> String {
        cell(v)
    }
}

/// The readable, standalone HTML report (every value escaped; print styles).
pub fn html(report: &AccessReport) -> Result<String, DsrError> {
    HtmlReport { r: report }.render().map_err(|e| DsrError::Internal(format!("cannot render the report: {e}")))
}

/// Writes `export.json`, `export-csv.zip` and `report.html` into `dir` (created if needed);
/// returns their paths.
pub fn write_all(report: &AccessReport, dir: &Path) -> Result<Vec<PathBuf>, DsrError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = [
        (dir.join("export.json"), json(report).into_bytes()),
        (dir.join("export-csv.zip"), csv_zip(report)?),
        (dir.join("report.html"), html(report)?.into_bytes()),
    ];
    let mut out = Vec::new();
    for (path, bytes) in files {
        std::fs::write(&path, bytes).map_err(io(&path))?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
    }
}
