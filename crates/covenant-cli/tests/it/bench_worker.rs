//! `covenant bench worker` on a small demo application: both rounds' rates and their ratio are
//! printed, after every request was checked to have completed; bad arguments are refused.

use std::process::Command;

fn covenant() -> Command {
    Command::new(env!("CARGO_BIN_EXE_covenant"))
}

/// The users of the demo's CRM database.
async fn users(dir: &std::path::Path) -> i64 {
    super::count_in_crm(dir, "SELECT count(*) FROM users").await
}

#[tokio::test]
async fn bench_worker_prints_both_rates_and_their_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let made = covenant().args(["demo-data", "--contacts", "2000", "--out"]).arg(&demo).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let before = users(&demo).await;
    let out = covenant()
        .args(["bench", "worker", "--requests", "20", "--batch", "4", "--config"])
        .arg(demo.join("covenant.toml"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // Ten requests each way, all completed (the command fails otherwise), their users erased.
    assert!(stdout.contains("in batches of up to 4, 2 at a time: 10 requests"), "{stdout}");
    assert!(stdout.contains("one at a time: 10 requests"), "{stdout}");
    let ratio = stdout.lines().last().and_then(|l| l.strip_prefix("batches over one at a time:"));
    assert!(ratio.and_then(|r| r.trim().parse::<f64>().ok()).is_some_and(|r| r > 0.0), "{stdout}");
    assert_eq!(users(&demo).await, before - 20);
}

#[test]
fn bench_worker_refuses_bad_arguments() {
    for (flag, value) in [("--requests", "3"), ("--batch", "0")] {
        let out = covenant().args(["bench", "worker", "--contacts", "100", flag, value]).output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{stderr}");
    }
}
