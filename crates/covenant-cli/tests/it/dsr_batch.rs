//! `covenant dsr batch` on the demo application (`covenant demo-data`), on SQLite and (when
//! `COVENANT_TEST_POSTGRES_URL` is set) on PostgreSQL: a mixed batch where one request fails
//! alone, a refused input that changes nothing, `--format json`, a harmless rerun, CSV on
//! standard input and `--dry-run`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sqlx::{Connection, PgConnection, Row, SqliteConnection};

/// The demo application in a temporary folder, its data in SQLite files or in a fresh
/// PostgreSQL database (dropped at the end).
struct Demo {
    dir: tempfile::TempDir,
    /// `(admin URL, database name)` on PostgreSQL.
    postgres: Option<(String, String)>,
}

fn covenant() -> Command {
    Command::new(env!("CARGO_BIN_EXE_covenant"))
}

impl Demo {
    fn sqlite() -> Demo {
        Demo::sqlite_with(200)
    }

    fn sqlite_with(contacts: u32) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let out = covenant()
            .args(["demo-data", "--contacts", &contacts.to_string(), "--out"])
            .arg(dir.path().join("demo"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Demo { dir, postgres: None }
    }

    async fn postgres() -> Option<Demo> {
        let (admin, name) = super::pg_database("cli_batch").await?;
        let dir = tempfile::tempdir().unwrap();
        let out = covenant()
            .args(["demo-data", "--contacts", "200", "--postgres", &super::with_database(&admin, &name), "--out"])
            .arg(dir.path().join("demo"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Some(Demo { dir, postgres: Some((admin, name)) })
    }

    async fn drop(self) {
        if let Some((admin, name)) = &self.postgres {
            super::drop_pg_database(admin, name).await;
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("demo/covenant.toml")
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The emails of `n` users other than Ada and Bob.
    async fn users(&self, n: usize) -> Vec<String> {
        let sql = format!(
            "SELECT email FROM users WHERE email NOT IN ('ada@example.com', 'bob@example.com') ORDER BY id LIMIT {n}"
        );
        let rows = match &self.postgres {
            Some((admin, name)) => {
                let mut c = PgConnection::connect(&super::with_database(admin, name)).await.unwrap();
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>()
            }
            None => {
                let url = format!("sqlite://{}", self.dir.path().join("demo/crm.db").display());
                let mut c = SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
                rows.iter().map(|r| r.get::<String, _>(0)).collect::<Vec<_>>()
            }
        };
        assert_eq!(rows.len(), n, "the demo has too few users");
        rows
    }

    /// `covenant dsr batch --config … ARGS`, with `stdin` on standard input.
    fn batch(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = covenant();
        cmd.args(["dsr", "batch", "--config"]).arg(self.config()).args(args);
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// The access report of a person (`dsr run --kind access`), without its time.
    fn access(&self, email: &str) -> Value {
        let out = covenant()
            .args(["dsr", "run", "--config"])
            .arg(self.config())
            .args(["--kind", "access", "--identity", &format!("email={email}"), "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["result"].as_object_mut().unwrap().remove("generated_at");
        v
    }

    /// The journaled runs (`dsr runs`).
    fn runs(&self) -> Vec<Value> {
        let out = covenant()
            .args(["dsr", "runs", "--limit", "1000", "--format", "json", "--config"])
            .arg(self.config())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

/// The `users` rows of an access report.
fn user_rows(access: &Value) -> Vec<Value> {
    access["result"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] == "users")
        .flat_map(|t| t["rows"].as_array().unwrap().clone())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Rows of every table of the SQLite demo databases, sorted.
async fn dump(demo: &Demo) -> BTreeMap<String, Vec<String>> {
    super::dsr_kill::dump(&demo.dir.path().join("demo")).await
}

/// Five erasures, an access, a rectification that cannot be applied (Ada's email corrected to
/// another user's, which the databases hold unique) and an objection: the rectification fails
/// alone (exit 1), everything else is done; the same file again changes nothing.
async fn mixed_batch(demo: &Demo) {
    let users = demo.users(6).await;
    for u in &users {
        assert_eq!(user_rows(&demo.access(u)).len(), 1, "{u} is a user before the batch");
    }
    let mut input = String::new();
    for u in &users[..5] {
        input += &format!("{{\"kind\": \"erasure\", \"identities\": {{\"email\": \"{u}\"}}}}\n");
    }
    input += "{\"kind\": \"access\", \"identities\": [\"email=bob@example.com\"], \"id\": \"ticket-1\"}\n";
    input += &format!(
        "{{\"kind\": \"rectification\", \"identities\": {{\"email\": \"ada@example.com\"}}, \"set\": {{\"email\": \"{}\"}}}}\n",
        users[5]
    );
    input += &format!(
        "{{\"kind\": \"objection\", \"identities\": {{\"email\": \"{}\"}}, \"purposes\": [\"newsletter\"]}}\n",
        users[5]
    );
    let file = demo.file("requests.jsonl", &input);
    // Chunks of 3: the failing rectification shares a transaction with an erasure.
    let out = demo.batch(&["--input", file.to_str().unwrap(), "--chunk", "3"], None);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("failed: line 7: rectification for email:ada@example.com: "), "{stderr}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("failed: ")).count(), 1, "{stderr}");
    assert!(stdout.contains("7 request(s) done (access 1, erasure 5, objection 1), 1 failed"), "{stdout}");
    assert!(stdout.contains("erasures per second"), "{stdout}");
    let deleted: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("rows: ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no row totals: {stdout}"));
    assert!(deleted >= 5, "{stdout}");

    for u in &users[..5] {
        assert!(user_rows(&demo.access(u)).is_empty(), "{u} is erased");
    }
    let ada = user_rows(&demo.access("ada@example.com"));
    assert_eq!(ada.len(), 1, "Ada keeps her email: her rectification failed");
    assert_eq!(ada[0]["values"]["email"], "ada@example.com");
    assert_eq!(user_rows(&demo.access(&users[5])).len(), 1, "the objector is still there");
    let kinds: Vec<String> = demo.runs().iter().map(|r| r["kind"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "erasure").count(), 5, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "objection").count(), 1, "{kinds:?}");

    // The same file again, as JSON Lines: nothing more to erase, the same failure.
    let before: Vec<Value> =
        users.iter().chain(["ada@example.com".to_owned()].iter()).map(|u| demo.access(u)).collect();
    let out = demo.batch(&["--input", file.to_str().unwrap(), "--format", "json"], None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["line"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7, 8]);
    for l in &lines[..5] {
        assert_eq!(l["status"], "done", "{l}");
        assert_eq!(l["kind"], "erasure");
        assert!(l["key"].as_str().unwrap().starts_with("erasure:"), "{l}");
        for step in l["outcome"]["result"]["steps"].as_array().unwrap() {
            for counts in ["deleted", "updated", "mentions_cut"] {
                assert!(step[counts].as_object().unwrap().is_empty(), "the rerun changed something: {l}");
            }
        }
    }
    assert_eq!(lines[5]["id"], "ticket-1");
    assert_eq!(lines[5]["key"], "request:ticket-1");
    assert_eq!(lines[5]["outcome"]["kind"], "access");
    assert!(!user_rows(&lines[5]["outcome"]).is_empty(), "Bob's access report holds his user row");
    assert_eq!(lines[6]["status"], "failed");
    assert!(!lines[6]["error"].as_str().unwrap().is_empty());
    assert_eq!(lines[7]["outcome"]["result"]["flags"][0], "objection:newsletter");
    let after: Vec<Value> = users.iter().chain(["ada@example.com".to_owned()].iter()).map(|u| demo.access(u)).collect();
    assert_eq!(before, after, "the rerun changed the databases");
}

#[test]
fn mixed_batch_on_sqlite() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let demo = Demo::sqlite();
        mixed_batch(&demo).await;
        demo.drop().await;
    });
}

#[test]
fn mixed_batch_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let Some(demo) = Demo::postgres().await else { return };
        mixed_batch(&demo).await;
        demo.drop().await;
    });
}

#[test]
fn bad_lines_are_refused_and_nothing_runs() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let demo = Demo::sqlite();
        let users = demo.users(2).await;
        let before = dump(&demo).await;
        let ok = format!("{{\"kind\": \"erasure\", \"identities\": {{\"email\": \"{}\"}}}}", users[0]);
        let input = [
            ok.as_str(),
            r#"{"kind": "erase", "identities": {"email": "ada@example.com"}}"#,
            "",
            r#"{"kind": "erasure", "identities": {"email": "not-an-email"}}"#,
            &format!("{{\"kind\": \"erasure\", \"identities\": {{\"email\": \"{}\"}}}}", users[1]),
            r#"{"kind": "access", "identities": {"email": "ada@example.com"}, "set": {"email": "a@b.com"}}"#,
            r#"{"kind": "objection", "identities": {"email": "ada@example.com"}, "purposes": ["no_such_activity"]}"#,
            r#"{"kind": "erasure", "identity": "email=ada@example.com"}"#,
            ok.as_str(),
            "not json",
        ]
        .join("\n");
        let file = demo.file("bad.jsonl", &input);
        for format in ["text", "json"] {
            let out = demo.batch(&["--input", file.to_str().unwrap(), "--format", format], None);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{stderr}");
            assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
            for (line, needle) in [
                (2, "unknown request kind `erase`"),
                (4, "`not-an-email` is not an email address"),
                (6, "`set` and `old` are for rectification"),
                (7, "`no_such_activity` is not an activity of the policy"),
                (8, "unknown field `identity`"),
                (9, "the same request as line 1"),
                (10, "not a JSON object"),
            ] {
                let at = format!("line {line}: ");
                let l = stderr.lines().find(|l| l.contains(&at)).unwrap_or_else(|| panic!("no {at}in {stderr}"));
                assert!(l.contains(needle), "{l}");
            }
            for good in ["line 1: ", "line 3: ", "line 5: "] {
                assert!(!stderr.contains(good), "{good}is fine: {stderr}");
            }
            assert!(stderr.contains("7 bad line(s)") && stderr.contains("nothing was run"), "{stderr}");
        }
        // CSV with a column it does not know.
        let csv = demo.file("bad.csv", &format!("kind,email,fax\nerasure,{},1\n", users[0]));
        let out = demo.batch(&["--input", csv.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("line 1: unknown column `fax`"), "{}", text(&out.stderr));
        // More requests than a file may hold.
        let many: String = (0..=100_000)
            .map(|i| format!("{{\"kind\": \"confirm\", \"identities\": {{\"email\": \"p{i}@example.com\"}}}}\n"))
            .collect();
        let big = demo.file("big.jsonl", &many);
        let out = demo.batch(&["--input", big.to_str().unwrap()], None);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("more than 100000"), "{}", text(&out.stderr));
        // Arguments clap refuses.
        let out = demo.batch(&["--input", file.to_str().unwrap(), "--chunk", "0"], None);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("--chunk"), "{}", text(&out.stderr));

        assert_eq!(dump(&demo).await, before, "a refused file changed the databases");
        assert!(demo.runs().is_empty(), "a refused file journaled runs");
    });
}

#[test]
fn csv_on_standard_input_dry_run_then_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let demo = Demo::sqlite();
        let users = demo.users(2).await;
        let before = dump(&demo).await;
        let csv = format!("kind,email,phone,id\r\nerasure,{},,\"req-1\"\n\nconfirm,\"{}\",,\n", users[0], users[1]);
        let out = demo.batch(&["--input", "-", "--dry-run"], Some(&csv));
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
        assert!(stdout.contains(&format!("line 2: erasure for email:{}: ", users[0])), "{stdout}");
        assert!(stdout.contains("deletes rows of"), "{stdout}");
        assert!(stdout.contains(&format!("line 4: confirm for email:{}: ", users[1])), "{stdout}");
        assert!(stdout.contains("2 request(s) planned (1 would write"), "{stdout}");
        assert_eq!(dump(&demo).await, before, "a dry run changed the databases");
        assert!(demo.runs().is_empty(), "a dry run journaled runs");

        let out = demo.batch(&["--input", "-", "--dry-run", "--format", "json"], Some(&csv));
        let plans: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0]["key"], "request:req-1");
        assert_eq!(plans[0]["plan"]["kind"], "erasure");

        let out = demo.batch(&["--input", "-"], Some(&csv));
        assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
        assert!(text(&out.stdout).contains("2 request(s) done (confirm 1, erasure 1), 0 failed"));
        assert!(user_rows(&demo.access(&users[0])).is_empty(), "{} is erased", users[0]);
        assert_eq!(user_rows(&demo.access(&users[1])).len(), 1);
        let runs = demo.runs();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0]["state"], "done", "{runs:?}");
    });
}

#[test]
fn help_teaches_the_input_format() {
    let out = covenant().args(["dsr", "batch", "--help"]).output().unwrap();
    let help = text(&out.stdout);
    assert!(out.status.success());
    for needle in ["JSON Lines", "\"identities\"", "kind,email", "--dry-run", "resumed", "100,000"] {
        assert!(help.contains(needle), "no `{needle}` in {help}");
    }
}

/// Whether the journal of the demo holds an open run.
async fn open_runs(demo: &Demo) -> i64 {
    let path = demo.dir.path().join("demo/covenant.db");
    if !path.exists() {
        return 0;
    }
    let Ok(mut c) = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await else {
        return 0;
    };
    let n =
        sqlx::query_scalar("SELECT count(*) FROM dsr_runs WHERE state = 'open'").fetch_one(&mut c).await.unwrap_or(0);
    let _ = c.close().await;
    n
}

/// A batch killed (SIGKILL) while a chunk's runs are open, then run again from the same file:
/// the open runs are resumed and the databases end as those of an uninterrupted batch.
#[test]
fn killed_batch_is_finished_by_running_the_file_again() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clean = Demo::sqlite_with(2000);
        let killed = Demo::sqlite_with(2000);
        let users = clean.users(60).await;
        assert_eq!(killed.users(60).await, users, "the demo data is deterministic");
        let input: String = users
            .iter()
            .map(|u| format!("{{\"kind\": \"erasure\", \"identities\": {{\"email\": \"{u}\"}}}}\n"))
            .collect();
        let args = ["--input", "requests.jsonl", "--chunk", "10"];
        let run = |demo: &Demo| {
            let file = demo.file("requests.jsonl", &input);
            let mut cmd = covenant();
            cmd.args(["dsr", "batch", "--config"])
                .arg(demo.config())
                .args(["--input"])
                .arg(file)
                .args(&args[2..])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            cmd
        };
        let out = run(&clean).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let expected = dump(&clean).await;

        let mut child = run(&killed).spawn().unwrap();
        let mut seen = false;
        while child.try_wait().unwrap().is_none() {
            if open_runs(&killed).await > 0 {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(seen, "the batch ended before a run was seen open");
        let left_open = open_runs(&killed).await;
        let out = run(&killed).output().unwrap();
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
        assert!(stdout.contains("60 request(s) done (erasure 60), 0 failed"), "{stdout}");
        if left_open > 0 {
            assert!(stdout.contains(&format!("{left_open} resumed an interrupted run")), "{left_open} open: {stdout}");
        } else {
            println!("note: the kill fell after the open chunk had finished");
        }
        assert_eq!(open_runs(&killed).await, 0);
        let got = dump(&killed).await;
        for (table, rows) in &expected {
            assert_eq!(&got[table], rows, "table {table} differs from the uninterrupted batch");
        }
    });
}
