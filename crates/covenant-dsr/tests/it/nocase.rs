//! Identity columns compared ignoring letter case (`match = "case_insensitive"`): a person
//! whose email an application stored as typed (`Ada@Example.COM`) in some tables and lowercased
//! in others is found, erased and corrected everywhere; with exact matching (the default) the
//! lookups are what they were. Promises P6 and W6 (access, rectification and erasure of all of
//! a person's data), T5 (deletion).

use std::collections::BTreeMap;
use std::future::Future;

use covenant_core::Identity;
use covenant_dsr::{AccessReport, Correction, Outcome, Quiet, Request, RequestKind};

use super::fixture::{Fixture, examples};

const PEOPLE: usize = 4;

/// Ada's email as the application stored it: with capitals in `users`, `marketing_preferences`
/// and `email_events`, lowercased in `payments.billing_email`.
pub(super) async fn capitals(f: &Fixture) {
    f.exec(
        "crm",
        "UPDATE users SET email = 'Ada@Example.COM' WHERE id = 1;\n\
         UPDATE marketing_preferences SET email = 'ADA@example.com' WHERE email = 'ada@example.com';",
    )
    .await;
    f.exec("events", "UPDATE email_events SET email = 'Ada@Example.COM' WHERE email = 'ada@example.com';").await;
}

/// The demo annotations with `match = "case_insensitive"` on the email columns of `users`,
/// `marketing_preferences` and `email_events`.
pub(super) fn case_insensitive(f: &Fixture) {
    let read = |name: &str| std::fs::read_to_string(examples().join("crm").join(name)).unwrap();
    let edit = |text: String, line: &str| {
        assert!(text.contains(line), "the demo annotations have no `{line}`");
        text.replacen(
            line,
            &line.replacen("identity = \"email\"", "identity = \"email\", match = \"case_insensitive\"", 1),
            1,
        )
    };
    let crm = edit(
        edit(
            read("crm.dataset.toml"),
            r#"{ name = "email", identity = "email", category = "user.contact.personal_info" }"#,
        ),
        r#"{ name = "email", identity = "email", category = "user.privacy_preferences.marketing" }"#,
    );
    let events = edit(
        read("events.dataset.toml"),
        r#"{ name = "email", identity = "email", category = "user.behavior.email_opens" }"#,
    );
    f.use_annotations(&crm, &events);
}

async fn both<F, Fut>(case: F)
where
    F: Fn(Fixture) -> Fut,
    Fut: Future<Output = Fixture>,
{
    let f = Fixture::sqlite(PEOPLE).await;
    capitals(&f).await;
    case(f).await;
    if let Some(f) = Fixture::postgres(PEOPLE).await {
        capitals(&f).await;
        case(f).await.drop_db().await;
    }
}

async fn run(f: &Fixture, kind: RequestKind, identity: Identity, correction: Option<&str>) -> Outcome {
    let exec = f.executor().await;
    let mut req = Request::new(kind, vec![identity]);
    if let Some(c) = correction {
        req.corrections.push(Correction::parse(c, exec.datasets()).unwrap());
    }
    let out = exec.run(&req, &Quiet).await.unwrap();
    exec.close().await;
    out
}

async fn access(f: &Fixture, identity: Identity) -> AccessReport {
    match run(f, RequestKind::Access, identity, None).await {
        Outcome::Access(r) => r,
        other => panic!("{other:?}"),
    }
}

fn ada() -> Identity {
    Identity::email("ada@example.com").unwrap()
}

fn tables(r: &AccessReport) -> Vec<String> {
    r.tables.iter().filter(|t| !t.rows.is_empty()).map(|t| format!("{}.{}", t.dataset, t.table)).collect()
}

/// The values of `column` in the person's rows of `table`.
fn values(r: &AccessReport, table: &str, column: &str) -> Vec<String> {
    let mut out: Vec<String> = r
        .tables
        .iter()
        .filter(|t| t.table == table)
        .flat_map(|t| &t.rows)
        .filter_map(|row| row.values.get(column).and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// Rows of the dump that hold `needle`, whatever its letter case.
fn holding<'d>(dump: &'d BTreeMap<String, Vec<String>>, table: &str, needle: &str) -> Vec<&'d String> {
    dump[table].iter().filter(|r| r.to_lowercase().contains(needle)).collect()
}

/// Every table Ada has rows in, found whatever the case of her stored email.
const ADA_TABLES: [&str; 7] = [
    "crm.users",
    "crm.tickets",
    "crm.payments",
    "crm.ai_messages",
    "crm.marketing_preferences",
    "events.email_events",
    "events.login_events",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_matching_finds_only_the_stored_spelling_as_before() {
    both(|f| async move {
        // The demo annotations: exact matching. Only the lowercased copy is found, and what
        // hangs off it; the rows stored with capitals are neither returned nor erased.
        let r = access(&f, ada()).await;
        assert_eq!(tables(&r), ["crm.payments"]);
        let before = f.dump().await;
        let Outcome::Erasure(_) = run(&f, RequestKind::Erasure, ada(), None).await else { panic!() };
        let after = f.dump().await;
        for t in ["users", "marketing_preferences", "email_events"] {
            assert_eq!(after[t], before[t], "{t}");
        }
        assert_eq!(holding(&after, "email_events", "ada@example.com").len(), 2);
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_matching_returns_every_spelling() {
    both(|f| async move {
        case_insensitive(&f);
        let r = access(&f, ada()).await;
        assert_eq!(tables(&r), ADA_TABLES);
        assert_eq!(values(&r, "users", "email"), ["Ada@Example.COM"]);
        assert_eq!(values(&r, "marketing_preferences", "email"), ["ADA@example.com"]);
        assert_eq!(values(&r, "email_events", "email"), ["Ada@Example.COM", "Ada@Example.COM"]);
        assert_eq!(values(&r, "payments", "billing_email"), ["ada@example.com"]);
        // The identity read from her `users` row is normalised, so a request by her account id
        // finds the same rows through it.
        let by_account = access(&f, Identity::parse("account_id", "u_1").unwrap()).await;
        assert_eq!(tables(&by_account), ADA_TABLES);
        assert!(by_account.identities.contains(&"email:ada@example.com".to_owned()), "{:?}", by_account.identities);
        assert_eq!(values(&by_account, "email_events", "email").len(), 2);
        // Nobody else is found by her address.
        let other = access(&f, Identity::email("person2@example.com").unwrap()).await;
        assert!(values(&other, "users", "email") == ["person2@example.com"], "{:?}", tables(&other));
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_matching_erases_every_spelling() {
    both(|f| async move {
        case_insensitive(&f);
        let before = f.dump().await;
        let Outcome::Erasure(w) = run(&f, RequestKind::Erasure, ada(), None).await else { panic!() };
        let after = f.dump().await;
        // Exactly her rows are gone from the tables that delete them, whatever their spelling.
        for t in ["users", "marketing_preferences", "email_events"] {
            let expected: Vec<&String> =
                before[t].iter().filter(|r| !r.to_lowercase().contains("ada@example.com")).collect();
            assert!(expected.len() < before[t].len(), "{t}: the fixture has her rows");
            assert_eq!(after[t].iter().collect::<Vec<_>>(), expected, "{t}");
        }
        let deleted: u64 = w.steps.iter().flat_map(|s| s.counts.deleted.values()).sum();
        let count = |d: &BTreeMap<String, Vec<String>>| d.values().map(Vec::len).sum::<usize>() as u64;
        assert_eq!(count(&before) - count(&after), deleted);
        // Access now returns only what a legal hold keeps (her invoice, promise T5).
        let r = access(&f, ada()).await;
        assert_eq!(tables(&r), ["crm.payments"]);
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_insensitive_matching_corrects_every_spelling() {
    both(|f| async move {
        case_insensitive(&f);
        let Outcome::Rectification(w) = run(&f, RequestKind::Rectification, ada(), Some("email=ada@example.org")).await
        else {
            panic!()
        };
        let updated: Vec<&String> = w.steps.iter().flat_map(|s| s.counts.updated.keys()).collect();
        assert_eq!(updated, ["marketing_preferences", "payments", "users", "email_events"], "{w:?}");
        let after = f.dump().await;
        for (t, n) in [("users", 1), ("marketing_preferences", 1), ("payments", 1), ("email_events", 2)] {
            assert!(holding(&after, t, "ada@example.com").is_empty(), "{t}: {:?}", after[t]);
            assert_eq!(holding(&after, t, "ada@example.org").len(), n, "{t}: {:?}", after[t]);
        }
        f
    })
    .await;
}
