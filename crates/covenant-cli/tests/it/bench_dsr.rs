//! `covenant bench dsr` keeps its command-line contract on a small demo application: it ends
//! with the lines `access median ms: X`, `erasure median ms: Y` and `overhead vs hand-written
//! SQL: Z`, in that order, which scripts read, on SQLite and (when `COVENANT_TEST_POSTGRES_URL`
//! is set) on PostgreSQL; and bad arguments are refused.

use std::process::Command;

fn covenant() -> Command {
    Command::new(env!("CARGO_BIN_EXE_covenant"))
}

/// The number after `prefix` on `line`, if the line is exactly that.
fn number(line: &str, prefix: &str) -> Option<f64> {
    line.strip_prefix(prefix)?.trim().parse().ok()
}

#[tokio::test]
async fn bench_dsr_ends_with_the_three_summary_lines() {
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
    // The batches ran, two whole batches each way by default: ten erasures of users in each,
    // and ten of contacts on their customers' instructions (promises O3, P7), whose rows are gone.
    for whose in ["users'", "contacts' (on their customers' instructions)"] {
        let ours = format!(
            "\nbatch of 10 erasures, {whose}, 4 per transaction, looked up in 4 parts, 2 round(s): 20 erasures in"
        );
        assert!(stdout.contains(&ours), "{stdout}");
        assert!(
            stdout.contains(&format!("hand-written batch of 10 erasures, {whose}, the same way: 20 erasures in")),
            "{stdout}"
        );
    }
    floor_line(&stdout);
    // Each contact's request may also find other contacts of its customer by the phone number
    // its row holds: at least twenty are gone, and no card or comment was left behind.
    let demo = dir.path().join("demo");
    let contacts = super::count_in_crm(&demo, "SELECT count(*) FROM contacts").await;
    assert!(contacts <= 2000 - 20, "{contacts} contacts left");
    let orphans = "SELECT (SELECT count(*) FROM comments WHERE card_id NOT IN (SELECT id FROM client_cards)) \
                   + (SELECT count(*) FROM client_cards WHERE contact_id NOT IN (SELECT id FROM contacts))";
    assert_eq!(super::count_in_crm(&demo, orphans).await, 0);
}

/// The floor of the users' batch, measured in the same run: the same erasures' writes alone,
/// set-based. The benchmark fails if those writes left any of their users (promise T5).
fn floor_line(stdout: &str) {
    let floor = stdout
        .lines()
        .find_map(|l| l.strip_prefix("writes alone of 10 erasures, users', set-based by hand, 4 per transaction"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let rate = floor.split("erasures/s: ").nth(1).and_then(|r| r.split_whitespace().next()?.parse::<f64>().ok());
    assert!(rate.is_some_and(|r| r > 0.0), "{stdout}");
}

#[tokio::test]
async fn bench_dsr_runs_on_postgres() {
    let Some((admin, name)) = super::pg_database("cli_bench").await else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = covenant()
        .args(["bench", "dsr", "--contacts", "2000", "--samples", "3", "--batch", "10", "--chunk", "4", "--postgres"])
        .arg(super::with_database(&admin, &name))
        .arg("--out")
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    super::drop_pg_database(&admin, &name).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("on PostgreSQL"), "{stdout}");
    assert!(stdout.lines().last().is_some_and(|l| l.starts_with("overhead vs hand-written SQL:")), "{stdout}");
    floor_line(&stdout);
}

#[test]
fn bench_dsr_refuses_bad_arguments() {
    let out = covenant().args(["bench", "dsr", "--samples", "0", "--contacts", "100"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--samples"), "{stderr}");
    let out = covenant().args(["bench", "dsr", "--rounds", "0", "--contacts", "100"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rounds"));
}
