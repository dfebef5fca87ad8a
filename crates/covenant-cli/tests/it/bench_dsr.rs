//! `covenant bench dsr` keeps its command-line contract on a small demo application: it ends
//! with the lines `access median ms: X`, `erasure median ms: Y` and `overhead vs hand-written
//! SQL: Z`, in that order, which scripts read; and bad arguments are refused.

use std::process::Command;

fn covenant() -> Command {
    Command::new(env!("CARGO_BIN_EXE_covenant"))
}

/// The number after `prefix` on `line`, if the line is exactly that.
fn number(line: &str, prefix: &str) -> Option<f64> {
    line.strip_prefix(prefix)?.trim().parse().ok()
}

#[test]
fn bench_dsr_ends_with_the_three_summary_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = covenant()
        .args(["bench", "dsr", "--contacts", "2000", "--samples", "3", "--batch", "10", "--chunk", "4", "--out"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    let [.., access, erasure, overhead] = lines.as_slice() else { panic!("{stdout}") };
    assert!(number(access, "access median ms:").is_some_and(|x| x > 0.0), "{stdout}");
    assert!(number(erasure, "erasure median ms:").is_some_and(|x| x > 0.0), "{stdout}");
    assert!(number(overhead, "overhead vs hand-written SQL:").is_some_and(|x| x > 0.0), "{stdout}");
    // The batches ran: ten erasures each way.
    assert!(stdout.contains("batch of 10 erasures"), "{stdout}");
    assert!(stdout.contains("hand-written batch of 10 erasures"), "{stdout}");
}

#[test]
fn bench_dsr_refuses_bad_arguments() {
    let out = covenant().args(["bench", "dsr", "--samples", "0", "--contacts", "100"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--samples"), "{stderr}");
}
