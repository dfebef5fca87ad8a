//! `covenant dsr run --kind erasure`, killed with SIGKILL at random points: after each restart
//! with the same command the request completes, and the databases equal those of an
//! uninterrupted run, table by table. The kill points are timed from the moment the run is
//! recorded in the journal (so they fall while it is being written, not during start-up), over
//! the time the uninterrupted run stayed open, from there to its finish. The delays are seeded
//! and printed (`COVENANT_KILL_SEED` replays a run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Row, SqliteConnection};

const ROWS: usize = 10_000;
const KILLS: usize = 20;

fn examples() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../../examples")
}

/// A small xorshift generator: the delays are reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn exec(path: &Path, sql: &str) {
    let mut c = SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut c).await.unwrap();
    c.close().await.unwrap();
}

/// The demo databases with Ada's 10,000 rows (AI messages and email events) among other
/// people's, a configuration and a pseudonym key.
async fn template(dir: &Path) {
    let crm = dir.join("crm.db");
    let events = dir.join("events.db");
    exec(&crm, &std::fs::read_to_string(examples().join("crm/sql/crm.sqlite.sql")).unwrap()).await;
    exec(&events, &std::fs::read_to_string(examples().join("crm/sql/events.sqlite.sql")).unwrap()).await;
    let mut sql = String::from("BEGIN; INSERT INTO accounts VALUES (1, 'Acme', 'pro', '2024-01-01T00:00:00Z');\n");
    for i in 1..=20 {
        let email = if i == 1 { "ada@example.com".to_owned() } else { format!("p{i}@example.com") };
        sql += &format!(
            "INSERT INTO users VALUES ({i}, 1, 'u_{i}', '{email}', 'Person {i}', NULL, 'h', NULL, '2024-01-01T00:00:00Z', NULL, NULL);\n\
             INSERT INTO payments VALUES ({i}, {i}, '{email}', 'Holder {i}', 'Street', '1234', 100, 'EUR', '2024-02-01T00:00:00Z');\n\
             INSERT INTO tickets VALUES ({i}, {i}, {}, 'S', 'B', 'open', '2024-01-01T00:00:00Z');\n\
             INSERT INTO marketing_preferences VALUES ('{email}', TRUE, TRUE, '2024-01-01T00:00:00Z');\n",
            if i == 2 { 1 } else { i }
        );
    }
    let mut ev = String::from("BEGIN;\n");
    let mut id = 0;
    for k in 0..ROWS {
        id += 1;
        if k % 2 == 0 {
            sql += &format!(
                "INSERT INTO ai_messages VALUES ({id}, 1, 'c', 'user', 'message {k}', '2024-01-01T00:00:00Z');\n"
            );
        } else {
            ev += &format!(
                "INSERT INTO email_events VALUES ({id}, 'ada@example.com', 'c{k}', 'open', '10.0.0.1', 'UA', '2024-01-01T00:00:00Z');\n"
            );
        }
    }
    for k in 0..200 {
        id += 1;
        sql += &format!(
            "INSERT INTO ai_messages VALUES ({id}, {}, 'c', 'user', 'other {k}', '2024-01-01T00:00:00Z');\n",
            2 + k % 19
        );
        ev += &format!(
            "INSERT INTO email_events VALUES ({id}, 'p{}@example.com', 'c', 'open', NULL, NULL, '2024-01-01T00:00:00Z');\n",
            2 + k % 19
        );
    }
    sql += "COMMIT;";
    ev += "COMMIT;";
    exec(&crm, &sql).await;
    exec(&events, &ev).await;
    let e = examples();
    std::fs::write(
        dir.join("covenant.toml"),
        format!(
            "policy = \"{}\"\ntenant = \"demo\"\n[store]\nurl = \"sqlite://covenant.db?mode=rwc\"\n\
             [[datasets]]\nannotations = \"{}\"\nurl = \"sqlite://crm.db\"\n\
             [[datasets]]\nannotations = \"{}\"\nurl = \"sqlite://events.db\"\n\
             [secrets]\npseudonym_key_file = \"pseudonym.key\"\n",
            e.join("okitoki/policy.toml").display(),
            e.join("crm/crm.dataset.toml").display(),
            e.join("crm/events.dataset.toml").display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("pseudonym.key"), format!("{}\n", "ab".repeat(32))).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_covenant"));
    c.args(["dsr", "run", "--config"])
        .arg(dir.join("covenant.toml"))
        .args(["--kind", "erasure", "--identity", "email=ada@example.com", "--format", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits until the journal in `dir` holds an open run, or the process has ended; returns
/// whether the run was seen open.
async fn wait_for_open_run(dir: &Path, child: &mut std::process::Child) -> bool {
    wait_for_runs(dir, child, true).await
}

/// Waits until the journal in `dir` holds an open run (`open`) or none (`!open`), or the
/// process has ended; returns whether that state was seen.
async fn wait_for_runs(dir: &Path, child: &mut std::process::Child, open: bool) -> bool {
    let url = format!("sqlite://{}?mode=ro", dir.join("covenant.db").display());
    let mut conn: Option<SqliteConnection> = None;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if conn.is_none() && dir.join("covenant.db").exists() {
            conn = SqliteConnection::connect(&url).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            let count: Result<i64, _> =
                sqlx::query_scalar("SELECT count(*) FROM dsr_runs WHERE state = 'open'").fetch_one(&mut *c).await;
            if count.is_ok_and(|n| (n > 0) == open) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn run_to_end(dir: &Path) -> (String, String) {
    let out = command(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the run failed: {stderr}");
    (stdout, stderr)
}

/// Every row of every table of both databases, sorted (also used by the batch tests).
pub(super) async fn dump(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for db in ["crm.db", "events.db"] {
        let mut c = SqliteConnection::connect(&format!("sqlite://{}", dir.join(db).display())).await.unwrap();
        let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        for t in tables {
            let cols: Vec<String> =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{t}')")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
            let expr = cols.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
            let mut rows: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {expr} FROM \"{t}\"")))
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            rows.sort();
            out.insert(format!("{db}/{t}"), rows);
        }
        c.close().await.unwrap();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_survives_sigkill_at_any_point() {
    let root = tempfile::tempdir().unwrap();
    let tpl = root.path().join("template");
    std::fs::create_dir_all(&tpl).unwrap();
    template(&tpl).await;

    // The uninterrupted result, and how long the run stays open, from its recording to its
    // finish.
    let clean = root.path().join("clean");
    copy_dir(&tpl, &clean);
    let mut child = command(&clean).spawn().unwrap();
    assert!(wait_for_open_run(&clean, &mut child).await, "the run was never seen open");
    let started = Instant::now();
    // The run is open until its finish; the process then prints and exits, which is not
    // worth killing.
    wait_for_runs(&clean, &mut child, false).await;
    let duration = started.elapsed();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(json.contains("\"kind\": \"erasure\""), "{json}");
    let expected = dump(&clean).await;
    assert_eq!(expected["crm.db/ai_messages"].len(), 200, "Ada's messages are gone, the others' stay");
    assert_eq!(expected["events.db/email_events"].len(), 200);

    let seed: u64 = std::env::var("COVENANT_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    println!(
        "uninterrupted run, from its recording to its finish: {duration:?}; kill seed: {seed} (COVENANT_KILL_SEED={seed} replays it)"
    );
    let mut rng = Rng(seed);
    let mut resumed = 0;
    for k in 0..KILLS {
        let dir = root.path().join(format!("kill{k}"));
        copy_dir(&tpl, &dir);
        let delay = Duration::from_micros(rng.next() % (duration.as_micros() as u64).max(1));
        let mut child = command(&dir).spawn().unwrap();
        wait_for_open_run(&dir, &mut child).await;
        std::thread::sleep(delay);
        // SIGKILL on Unix: no chance to clean up.
        let _ = child.kill();
        let _ = child.wait();
        let (_, stderr) = run_to_end(&dir);
        if stderr.contains("resuming run ") {
            resumed += 1;
        }
        let got = dump(&dir).await;
        for (table, rows) in &expected {
            assert_eq!(&got[table], rows, "kill {k} after {delay:?} (seed {seed}): table {table} differs");
        }
        // Running it once more changes nothing.
        run_to_end(&dir);
        assert_eq!(dump(&dir).await, got, "kill {k}: a second run changed something");
    }
    println!("{resumed} of {KILLS} restarts resumed an open run");
    // The kills fall inside the run: most restarts find it open. (A kill can still come after
    // the run's last write, so not all of them.)
    assert!(resumed >= KILLS / 4, "only {resumed} of {KILLS} kills fell inside the run (seed {seed})");
}
