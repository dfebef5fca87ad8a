//! The SQLite files: deterministic, Ada's rows where they should be, every reference resolving.

use std::collections::HashSet;

use covenant_demo_app::{BOB_EMAIL, Database, Error, SHARED_PHONE, Sizes, TABLES};

use super::{check_ada, checksum, dump_sqlite, generate, open, options};

#[test]
fn the_same_arguments_give_identical_data() {
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = generate(a.path(), 3_000, 7);
    let sb = generate(b.path(), 3_000, 7);
    generate(c.path(), 3_000, 8);
    assert_eq!(sa.tables, sb.tables);
    let (da, db, dc) = (dump_sqlite(a.path()), dump_sqlite(b.path()), dump_sqlite(c.path()));
    assert_eq!(da.len() as u64, sa.total_rows());
    assert_eq!(checksum(&da), checksum(&db));
    assert_ne!(checksum(&da), checksum(&dc), "another seed gives other data");
    for d in Database::ALL {
        let bytes = |dir: &std::path::Path| std::fs::read(dir.join(d.file_name())).unwrap();
        assert!(bytes(a.path()) == bytes(b.path()), "{} differs byte for byte", d.file_name());
    }
}

#[test]
fn ada_has_her_rows_whatever_the_size_and_seed() {
    for (contacts, seed) in [(10, 1), (1_500, 2), (6_000, 3)] {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), contacts, seed);
        let (crm, events) = (open(dir.path(), Database::Crm), open(dir.path(), Database::Events));
        check_ada(|db, sql| {
            let conn = if db == Database::Crm { &crm } else { &events };
            conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
        });
        // Bob is Ada's colleague with rows of his own; Tom and Tessa share a phone.
        let count = |sql: &str| -> i64 { crm.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count(&format!("SELECT COUNT(*) FROM users WHERE email = '{BOB_EMAIL}' AND account_id = 1")), 1);
        assert_eq!(count("SELECT COUNT(*) FROM tickets WHERE user_id = 2"), 2);
        assert_eq!(count(&format!("SELECT COUNT(*) FROM contacts WHERE phone = '{SHARED_PHONE}'")), 2);
        assert_eq!(count("SELECT COUNT(*) FROM contacts WHERE company = 'Difference Engines plc'"), 2);
    }
}

#[test]
fn every_reference_resolves() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 4_000, 11);
    let crm = open(dir.path(), Database::Crm);
    let broken: Vec<(String, i64, String)> = crm
        .prepare("SELECT \"table\", rowid, parent FROM pragma_foreign_key_check")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(broken, vec![]);
    assert_eq!(crm.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0)).unwrap(), "ok");
    // Across the databases: every login belongs to a user, by public id.
    let ids: HashSet<String> = crm
        .prepare("SELECT public_id FROM users")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let events = open(dir.path(), Database::Events);
    let refs: Vec<String> = events
        .prepare("SELECT DISTINCT user_ref FROM login_events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!refs.is_empty());
    assert!(refs.iter().all(|r| ids.contains(r)), "a login of an unknown user");
    // Comments are written by users of the account whose contact the card is about.
    let foreign: i64 = crm
        .query_row(
            "SELECT COUNT(*) FROM comments c JOIN client_cards k ON k.id = c.card_id \
             JOIN contacts p ON p.id = k.contact_id JOIN users u ON u.id = c.author_user_id \
             WHERE c.id > 8 AND u.account_id <> p.account_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(foreign, 0);
}

#[test]
fn values_look_real() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(2_000, 5);
    covenant_demo_app::write_sqlite(dir.path(), &opts, false).unwrap();
    let crm = open(dir.path(), Database::Crm);
    let strings = |sql: &str| -> Vec<String> {
        crm.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let emails = strings("SELECT email FROM users UNION ALL SELECT email FROM contacts WHERE email IS NOT NULL");
    let unique: HashSet<&String> = emails.iter().collect();
    assert_eq!(unique.len() + 1, emails.len(), "only Ada is both a user and a contact");
    assert!(emails.iter().all(|e| e.contains('@') && e == &e.to_lowercase()));
    for phone in strings(
        "SELECT phone FROM users WHERE phone IS NOT NULL UNION SELECT phone FROM contacts WHERE phone IS NOT NULL",
    ) {
        assert!(
            phone.starts_with('+') && (9..=16).contains(&phone.len()) && phone[1..].bytes().all(|b| b.is_ascii_digit()),
            "{phone}"
        );
    }
    for last4 in strings("SELECT card_last4 FROM payments WHERE card_last4 IS NOT NULL") {
        assert!(last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()), "{last4}");
    }
    let (from, until) = (opts.until - 3 * 366 * 86_400, opts.until);
    for t in
        strings("SELECT created_at FROM users UNION SELECT created_at FROM comments UNION SELECT paid_at FROM payments")
    {
        assert_eq!(t.len(), 20, "{t}");
        let days = covenant_demo_app::time::parse_date(&t[..10]).unwrap();
        assert!(days >= from && days <= until, "{t}");
    }
    let events = open(dir.path(), Database::Events);
    let ips: Vec<String> = events
        .prepare("SELECT ip FROM login_events UNION SELECT ip FROM email_events WHERE ip IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(ips.iter().all(|ip| ip.parse::<std::net::IpAddr>().is_ok()), "not an IP address");
}

#[test]
fn sizes_follow_the_number_of_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), 5_000, 1);
    let sizes = Sizes::for_contacts(5_000);
    assert_eq!(summary.rows("contacts"), Some(5_000));
    assert_eq!(summary.rows("accounts"), Some(50));
    assert_eq!(summary.rows("users"), Some(u64::from(sizes.users) + 3));
    assert_eq!(summary.tables.len(), TABLES.len());
    for t in &summary.tables {
        assert!(t.rows > 0, "{} is empty", t.table);
    }
    let crm = open(dir.path(), Database::Crm);
    let fewest: i64 = crm
        .query_row("SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM users GROUP BY account_id)", [], |r| r.get(0))
        .unwrap();
    assert!(fewest >= 3);
    let stats: i64 = crm.query_row("SELECT COUNT(*) FROM sqlite_stat1", [], |r| r.get(0)).unwrap();
    assert!(stats > 0, "the tables were analysed");
    let mode: String = crm.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn existing_files_are_kept_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 100, 1);
    let before = dump_sqlite(dir.path());
    let e = covenant_demo_app::write_sqlite(dir.path(), &options(200, 2), false).unwrap_err();
    assert!(matches!(e, Error::Exists { .. }));
    assert!(e.to_string().contains("pass --replace"), "{e}");
    assert_eq!(dump_sqlite(dir.path()), before);
    covenant_demo_app::write_sqlite(dir.path(), &options(200, 2), true).unwrap();
    assert_ne!(dump_sqlite(dir.path()), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "files of an unfinished write are left");
}
