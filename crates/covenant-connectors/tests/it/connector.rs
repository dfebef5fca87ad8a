//! The connector on both databases: values round-trip, lists of any length match, writes are
//! atomic and in order, identifiers are quoted.

use std::future::Future;

use covenant_connectors::{Connector, ConnectorError, ConnectorOptions, Matching, TableRef, Value, WriteOp};

use super::db::TestDb;

async fn both<F, Fut>(case: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = TestDb>,
{
    case(TestDb::sqlite()).await;
    if let Some(db) = TestDb::postgres().await {
        case(db).await.drop_db().await;
    }
}

fn t(name: &str) -> TableRef {
    TableRef::new(None, name)
}

fn s(v: &str) -> String {
    v.to_owned()
}

const SCHEMA_SQLITE: &str = r#"
CREATE TABLE kinds (id BIGINT PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, t TEXT, b BOOLEAN, y BLOB, at TEXT);
CREATE TABLE "we""ird" ("the id" BIGINT PRIMARY KEY, "sel""ect" TEXT);
CREATE TABLE pairs (a TEXT NOT NULL, b BIGINT NOT NULL, v TEXT, PRIMARY KEY (a, b));
CREATE TABLE parent (id BIGINT PRIMARY KEY);
CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id));
"#;

const SCHEMA_PG: &str = r#"
CREATE TABLE kinds (id BIGINT PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, t TEXT, b BOOLEAN, y BYTEA, at TIMESTAMPTZ);
CREATE TABLE "we""ird" ("the id" BIGINT PRIMARY KEY, "sel""ect" TEXT);
CREATE TABLE pairs (a TEXT NOT NULL, b BIGINT NOT NULL, v TEXT, PRIMARY KEY (a, b));
CREATE TABLE parent (id BIGINT PRIMARY KEY);
CREATE TABLE child (id BIGINT PRIMARY KEY, parent_id BIGINT REFERENCES parent (id));
CREATE SCHEMA app;
CREATE TABLE app.people (id UUID PRIMARY KEY, email VARCHAR(200), n INTEGER);
"#;

async fn setup(db: &TestDb) -> Connector {
    db.exec(if db.is_postgres() { SCHEMA_PG } else { SCHEMA_SQLITE }).await;
    Connector::connect(db.url(), &ConnectorOptions { max_connections: 2, ..ConnectorOptions::default() }).await.unwrap()
}

fn kinds_cols() -> Vec<String> {
    ["id", "i", "r", "t", "b", "y", "at"].iter().map(|c| s(c)).collect()
}

#[tokio::test]
async fn values_round_trip() {
    both(|db| async move {
        let c = setup(&db).await;
        let at = if db.is_postgres() { "2026-01-02 10:00:00+00" } else { "2026-01-02T10:00:00Z" };
        db.exec(&format!(
            "INSERT INTO kinds VALUES (1, -7, 0.25, 'Ada ''L''', TRUE, {}, '{at}'), (2, NULL, NULL, NULL, NULL, NULL, NULL)",
            if db.is_postgres() { "'\\x00ff'::bytea" } else { "X'00FF'" }
        ))
        .await;
        let rows = c.fetch(&t("kinds"), &kinds_cols(), &[s("id")], &[vec![Value::Integer(1)]]).await.unwrap();
        let bool_true = if db.is_postgres() { Value::Bool(true) } else { Value::Integer(1) };
        let at_value = if db.is_postgres() { Value::Timestamp(at.into()) } else { Value::Text(at.into()) };
        let expected = vec![
            Value::Integer(1),
            Value::Integer(-7),
            Value::Real(0.25),
            Value::Text("Ada 'L'".into()),
            bool_true,
            Value::Bytes(vec![0, 255]),
            at_value,
        ];
        assert_eq!(rows, vec![expected.clone()]);

        // Writing the values read onto the other row stores the same values.
        let set: Vec<(String, Value)> = kinds_cols().into_iter().zip(expected.clone()).skip(1).collect();
        let op = WriteOp::Update { table: t("kinds"), key_columns: vec![s("id")], keys: vec![vec![Value::Integer(2)]], set };
        assert_eq!(c.apply(&[op]).await.unwrap(), 1);
        let back = c.read_back(&t("kinds"), &[s("id")], &[vec![Value::Integer(2)]], &kinds_cols()[1..]).await.unwrap();
        let mut want = expected.clone();
        want[0] = Value::Integer(2);
        assert_eq!(back, vec![want]);

        // And null writes null, whatever the column's type.
        let set: Vec<(String, Value)> = kinds_cols().into_iter().skip(1).map(|c| (c, Value::Null)).collect();
        let op = WriteOp::Update { table: t("kinds"), key_columns: vec![s("id")], keys: vec![vec![Value::Integer(2)]], set };
        c.apply(&[op]).await.unwrap();
        let back = c.read_back(&t("kinds"), &[s("id")], &[vec![Value::Integer(2)]], &kinds_cols()[1..]).await.unwrap();
        assert_eq!(back[0][1..], vec![Value::Null; 6][..]);
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn long_lists_match_every_row_once() {
    both(|db| async move {
        let c = setup(&db).await;
        let values: Vec<String> = (0..1500).map(|i| format!("({i}, {})", i % 7)).collect();
        db.exec(&format!("INSERT INTO kinds (id, i) VALUES {}", values.join(", "))).await;
        for n in [1, 3, 512, 513, 1200] {
            // Every key twice, plus keys that match nothing and a null.
            let mut keys: Vec<Vec<Value>> = (0..n).map(|i| vec![Value::Integer(i as i64 * 2)]).collect();
            keys.extend((0..n).map(|i| vec![Value::Integer(i as i64 * 2)]));
            keys.push(vec![Value::Integer(-1)]);
            keys.push(vec![Value::Null]);
            let rows = c.fetch(&t("kinds"), &[s("id")], &[s("id")], &keys).await.unwrap();
            let want = (0..n).filter(|i| i * 2 < 1500).count();
            assert_eq!(rows.len(), want, "{n} keys");
        }
        // By a non-key column: every row whose `i` is 3.
        let rows = c.fetch(&t("kinds"), &[s("id")], &[s("i")], &[vec![Value::Integer(3)]]).await.unwrap();
        assert_eq!(rows.len(), (0..1500).filter(|i| i % 7 == 3).count());
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn case_insensitive_lookups_find_every_spelling() {
    // An identity column annotated `match = "case_insensitive"`: a person stored as typed is
    // found by their normalised address (complete access and erasure, promises P6, W6).
    both(|db| async move {
        let c = setup(&db).await;
        db.exec(
            "INSERT INTO kinds (id, t) VALUES (1, 'Ada@Example.COM'), (2, 'ada@example.com'), (3, 'Bob@Example.com'), \
             (4, NULL), (5, 'ada@example.comx'), (6, 'x'' OR ''1''=''1')",
        )
        .await;
        let ids = |mut rows: Vec<Vec<Value>>| {
            rows.sort_by_key(|r| r[0].sort_key());
            rows.into_iter().map(|r| r[0].clone()).collect::<Vec<_>>()
        };
        let int = |v: &[i64]| v.iter().map(|i| Value::Integer(*i)).collect::<Vec<_>>();
        let ada = [Value::from("ada@example.com")];
        let fetch = |matching, values: Vec<Value>| {
            let c = c.clone();
            async move { ids(c.fetch_matching(&t("kinds"), &[s("id")], "t", matching, &values).await.unwrap()) }
        };
        // Exact: only the stored spelling, as `fetch` does.
        assert_eq!(fetch(Matching::Exact, ada.to_vec()).await, int(&[2]));
        assert_eq!(ids(c.fetch(&t("kinds"), &[s("id")], &[s("t")], &[ada.to_vec()]).await.unwrap()), int(&[2]));
        // Ignoring case: every spelling, one value or a list, whatever case the value has.
        assert_eq!(fetch(Matching::CaseInsensitive, ada.to_vec()).await, int(&[1, 2]));
        assert_eq!(fetch(Matching::CaseInsensitive, vec![Value::from("ADA@example.COM")]).await, int(&[1, 2]));
        let list = vec![Value::from("ada@example.com"), Value::from("bob@example.com"), Value::Null];
        assert_eq!(fetch(Matching::CaseInsensitive, list.clone()).await, int(&[1, 2, 3]));
        assert_eq!(fetch(Matching::Exact, list).await, int(&[2]));
        // Lists longer than one statement holds.
        let mut long: Vec<Value> = (0..700).map(|i| Value::from(format!("nobody{i}@example.com"))).collect();
        long.push(Value::from("BOB@EXAMPLE.COM"));
        assert_eq!(fetch(Matching::CaseInsensitive, long).await, int(&[3]));
        // Values stay values.
        assert_eq!(fetch(Matching::CaseInsensitive, vec![Value::from("X' or '1'='1")]).await, int(&[6]));
        assert!(fetch(Matching::CaseInsensitive, vec![Value::from("ada@example")]).await.is_empty());
        // Through a session, as data-subject requests look people up.
        let mut session = c.session().await.unwrap();
        let rows = session.fetch_matching(&t("kinds"), &[s("id")], "t", Matching::CaseInsensitive, &ada).await.unwrap();
        assert_eq!(ids(rows), int(&[1, 2]));
        drop(session);
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn composite_keys_and_quoted_identifiers() {
    both(|db| async move {
        let c = setup(&db).await;
        db.exec("INSERT INTO pairs VALUES ('x', 1, 'a'), ('x', 2, 'b'), ('y', 1, 'c')").await;
        db.exec(r#"INSERT INTO "we""ird" VALUES (1, 'drop table kinds'), (2, 'x')"#).await;
        let keys = vec![vec![Value::from("x"), Value::Integer(2)], vec![Value::from("y"), Value::Integer(1)]];
        let mut rows = c.fetch(&t("pairs"), &[s("v")], &[s("a"), s("b")], &keys).await.unwrap();
        rows.sort_by_key(|r| r[0].sort_key());
        assert_eq!(rows, vec![vec![Value::from("b")], vec![Value::from("c")]]);
        let op = WriteOp::Delete { table: t("pairs"), key_columns: vec![s("a"), s("b")], keys };
        assert_eq!(c.apply(&[op]).await.unwrap(), 2);

        let weird = t("we\"ird");
        let rows = c.fetch(&weird, &[s("sel\"ect")], &[s("the id")], &[vec![Value::Integer(1)]]).await.unwrap();
        assert_eq!(rows, vec![vec![Value::from("drop table kinds")]]);
        // A value that looks like SQL is only ever a value.
        let rows =
            c.fetch(&weird, &[s("the id")], &[s("sel\"ect")], &[vec![Value::from("x' OR '1'='1")]]).await.unwrap();
        assert!(rows.is_empty());
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn writes_are_one_transaction_in_order() {
    both(|db| async move {
        let c = setup(&db).await;
        db.exec("INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 2)").await;
        let key = |i: i64| vec![Value::Integer(i)];
        // Deleting the parent first breaks the foreign key: nothing at all is written.
        let wrong = vec![
            WriteOp::Update {
                table: t("child"),
                key_columns: vec![s("id")],
                keys: vec![key(11)],
                set: vec![(s("parent_id"), Value::Null)],
            },
            WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(1)] },
        ];
        let err = c.apply(&wrong).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Query { .. }), "{err}");
        let rows = c.fetch(&t("child"), &[s("parent_id")], &[s("id")], &[key(11)]).await.unwrap();
        assert_eq!(rows, vec![vec![Value::Integer(2)]], "the update was rolled back");
        // Children first, then the parent: both happen.
        let right = vec![
            WriteOp::Delete { table: t("child"), key_columns: vec![s("id")], keys: vec![key(10)] },
            WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(1)] },
        ];
        assert_eq!(c.apply(&right).await.unwrap(), 2);
        assert!(c.fetch(&t("parent"), &[s("id")], &[s("id")], &[key(1)]).await.unwrap().is_empty());
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn a_batch_merges_statements_and_counts_each_groups_rows() {
    both(|db| async move {
        let c = setup(&db).await;
        db.exec(
            "INSERT INTO parent VALUES (1), (2), (3); INSERT INTO child VALUES (10, 1), (11, 2), (12, 3); \
             INSERT INTO pairs VALUES ('x', 1, 'a'), ('y', 2, 'b'), ('z', 3, 'c')",
        )
        .await;
        let key = |i: i64| vec![Value::Integer(i)];
        let cut = |keys: Vec<Vec<Value>>| WriteOp::Update {
            table: t("child"),
            key_columns: vec![s("id")],
            keys,
            set: vec![(s("parent_id"), Value::Null)],
        };
        let del = |k: i64| WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(k)] };
        let pair = |a: &str, b: i64| WriteOp::Delete {
            table: t("pairs"),
            key_columns: vec![s("a"), s("b")],
            keys: vec![vec![Value::Text(s(a)), Value::Integer(b)]],
        };
        // Each group cuts its children before deleting its parent: merged, every cut runs
        // before every delete, so the foreign keys hold. Row 99 is gone already: not counted.
        let g0 = [cut(vec![key(10)]), del(1), pair("x", 1)];
        let g1 = [cut(vec![key(11), key(99)]), del(2), pair("y", 2)];
        assert_eq!(c.apply_groups(&[&g0, &g1]).await.unwrap(), vec![3, 3]);
        let mut children =
            c.fetch(&t("child"), &[s("id"), s("parent_id")], &[s("id")], &[key(10), key(11), key(12)]).await.unwrap();
        children.sort_by_key(|r| r[0].as_text());
        assert_eq!(
            children,
            vec![
                vec![Value::Integer(10), Value::Null],
                vec![Value::Integer(11), Value::Null],
                vec![Value::Integer(12), Value::Integer(3)]
            ]
        );
        let parents = c.fetch(&t("parent"), &[s("id")], &[s("id")], &[key(1), key(2), key(3)]).await.unwrap();
        assert_eq!(parents, vec![vec![Value::Integer(3)]]);
        let texts = |v: &[&str]| v.iter().map(|x| vec![Value::Text(s(x))]).collect::<Vec<_>>();
        let pairs = c.fetch(&t("pairs"), &[s("a")], &[s("v")], &texts(&["a", "b", "c"])).await.unwrap();
        assert_eq!(pairs, vec![vec![Value::Text(s("z"))]]);
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn a_gated_write_commits_only_once_its_gate_succeeds() {
    both(|db| async move {
        let c = setup(&db).await;
        db.exec("INSERT INTO parent VALUES (1), (2), (3)").await;
        let key = |i: i64| vec![Value::Integer(i)];
        let one = [WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(1)] }];
        let two = [WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(2), key(3)] }];
        let remaining =
            || async { c.fetch(&t("parent"), &[s("id")], &[s("id")], &[key(1), key(2), key(3)]).await.unwrap().len() };
        // The gate fails (the journal could not record the writes): the statements ran, the
        // transaction is rolled back and the gate's error comes back.
        let failed = c.apply_groups_when(&[&one[..], &two[..]], async { Err::<(), _>("not recorded") }).await.unwrap();
        assert_eq!(failed, Err("not recorded"));
        assert_eq!(remaining().await, 3, "nothing was committed");
        // The gate completes after the statements ran: the transaction waited for it, then
        // committed; each group's rows are counted.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let gate = async move { rx.await.map_err(|_| "dropped") };
        let groups = [&one[..], &two[..]];
        let write = c.apply_groups_when(&groups, gate);
        let open = async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let before = remaining().await;
            tx.send(()).unwrap();
            before
        };
        let (done, before) = tokio::join!(write, open);
        assert_eq!(done.unwrap(), Ok(vec![1, 2]));
        assert_eq!(before, 3, "not committed before the gate");
        assert_eq!(remaining().await, 0);
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn writes_never_wait_for_lookups_holding_every_connection() {
    both(|db| async move {
        let c = setup(&db).await;
        db.exec("INSERT INTO parent VALUES (1), (2)").await;
        let key = |i: i64| vec![Value::Integer(i)];
        // A batch looks up its next people while one is written: here both lookup connections
        // of the pool (`max_connections: 2`) are held by sessions for the whole write.
        let (a, b) = (c.session().await.unwrap(), c.session().await.unwrap());
        let one = [WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys: vec![key(1)] }];
        let wait = std::time::Duration::from_secs(20);
        let written =
            tokio::time::timeout(wait, c.apply(&one)).await.expect("the write waited for a lookup's connection");
        assert_eq!(written.unwrap(), 1);
        let fixed = if db.is_postgres() {
            "DELETE FROM parent WHERE id = CAST($1 AS bigint)"
        } else {
            "DELETE FROM parent WHERE id = $1"
        };
        let statements = [(fixed, vec![Value::Integer(2)])];
        tokio::time::timeout(wait, c.run_fixed(&statements, true))
            .await
            .expect("the fixed write waited for a lookup's connection")
            .unwrap();
        drop((a, b));
        assert!(c.fetch(&t("parent"), &[s("id")], &[s("id")], &[key(1), key(2)]).await.unwrap().is_empty());
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn sqlite_writes_reach_the_database_file_while_the_connector_is_open() {
    let db = TestDb::sqlite();
    db.exec("PRAGMA journal_mode = WAL").await;
    let c = setup(&db).await;
    let values: Vec<String> = (1..=2000).map(|i| format!("({i})")).collect();
    db.exec(&format!("INSERT INTO parent VALUES {}", values.join(", "))).await;
    let keys: Vec<Vec<Value>> = (1..=1500).map(|i| vec![Value::Integer(i)]).collect();
    let gone = [WriteOp::Delete { table: t("parent"), key_columns: vec![s("id")], keys }];
    assert_eq!(c.apply(&gone).await.unwrap(), 1500);
    // The write's commit left its pages in the write-ahead log; a checkpoint in the background
    // copies them into the database file itself, while the connector stays open. Read the file
    // alone (a copy without its log) until it shows the write.
    let path = db.url().trim_start_matches("sqlite://").trim_end_matches("?mode=rwc").to_owned();
    let copy = tempfile::tempdir().unwrap();
    let copied = copy.path().join("copy.db");
    let in_file = || async {
        std::fs::copy(&path, &copied).ok()?;
        let url = format!("sqlite://{}", copied.display());
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url).await.ok()?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM parent").fetch_one(&mut conn).await.ok()?;
        let _ = sqlx::Connection::close(conn).await;
        let _ = std::fs::remove_file(copy.path().join("copy.db-wal"));
        Some(n)
    };
    let mut seen = None;
    for _ in 0..200 {
        seen = in_file().await;
        if seen == Some(500) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, Some(500), "the database file shows the write without its log");
    c.close().await;
}

#[tokio::test]
async fn unknown_tables_and_columns_are_named() {
    both(|db| async move {
        let c = setup(&db).await;
        let err = c.fetch(&t("nope"), &[s("id")], &[s("id")], &[vec![Value::Integer(1)]]).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "table `nope` does not exist in the database; check the annotations' `name` and `schema`"
        );
        let err = c.fetch(&t("kinds"), &[s("idd")], &[s("id")], &[vec![Value::Integer(1)]]).await.unwrap_err();
        assert_eq!(err.to_string(), "column `idd` does not exist in table `kinds`; check the annotations");
        assert!(c.check_table(&t("kinds"), &["id", "t"]).await.is_ok());
        c.close().await;
        db
    })
    .await;
}

#[tokio::test]
async fn postgres_schemas_and_other_types() {
    let Some(db) = TestDb::postgres().await else { return };
    let c = setup(&db).await;
    db.exec("INSERT INTO app.people VALUES ('0190a8e4-7a6e-7000-8000-000000000001', 'ada@example.com', 3)").await;
    let people = TableRef::new(Some("app"), "people");
    let rows =
        c.fetch(&people, &[s("id"), s("n")], &[s("email")], &[vec![Value::from("ada@example.com")]]).await.unwrap();
    assert_eq!(rows, vec![vec![Value::from("0190a8e4-7a6e-7000-8000-000000000001"), Value::Integer(3)]]);
    // Ignoring case on a varchar column, and on a column that is not text at all (read as text).
    for (column, value) in [("email", "ADA@Example.com"), ("id", "0190A8E4-7A6E-7000-8000-000000000001")] {
        for values in [vec![Value::from(value)], vec![Value::from(value), Value::from("other")]] {
            let found = c.fetch_matching(&people, &[s("n")], column, Matching::CaseInsensitive, &values).await.unwrap();
            assert_eq!(found, vec![vec![Value::Integer(3)]], "{column} {values:?}");
        }
    }
    let capitals = [Value::from("ADA@Example.com")];
    let exact = c.fetch_matching(&people, &[s("n")], "email", Matching::Exact, &capitals).await.unwrap();
    assert!(exact.is_empty());
    let op = WriteOp::Update {
        table: people.clone(),
        key_columns: vec![s("id")],
        keys: vec![vec![rows[0][0].clone()]],
        set: vec![(s("email"), Value::Null), (s("n"), Value::Integer(4))],
    };
    assert_eq!(c.apply(&[op]).await.unwrap(), 1);
    let back = c.read_back(&people, &[s("id")], &[vec![rows[0][0].clone()]], &[s("email"), s("n")]).await.unwrap();
    assert_eq!(back[0][1..], [Value::Null, Value::Integer(4)]);
    c.close().await;
    db.drop_db().await;
}
