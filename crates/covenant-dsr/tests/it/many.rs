//! Discovery of several people at once (`discover_many`, how batches look people up) finds
//! for each person exactly what the person's own discovery finds: the rows each lookup returns
//! for the whole chunk go to the right people only. Promises P6, W6 (complete access), T5
//! (erasure of the person's data, and nobody else's).

use covenant_core::Identity;
use covenant_dsr::{Request, RequestKind, Scope};

use super::fixture::{Fixture, email};
use super::nocase::{capitals, case_insensitive};

const PEOPLE: usize = 6;

fn id(kind: &str, raw: &str) -> Identity {
    Identity::parse(kind, raw).unwrap()
}

/// Everyone of the fixture by email, and people that test the edges: Ada by phone alone and
/// by her account id alone (found through other rows), Ada twice more (shared rows), person
/// 2 by two identities, person 3 by an account id written with capitals (the same value in
/// another spelling), someone unknown, and nobody at all.
fn people() -> Vec<Vec<Identity>> {
    let mut people: Vec<Vec<Identity>> = (1..=PEOPLE).map(|i| vec![Identity::email(&email(i)).unwrap()]).collect();
    people.push(vec![id("phone", "+358400000001")]);
    people.push(vec![id("account_id", "u_1")]);
    people.push(vec![Identity::email(&email(1)).unwrap()]);
    people.push(vec![Identity::email(&email(2)).unwrap(), id("account_id", "u_2")]);
    people.push(vec![id("account_id", "U_3")]);
    people.push(vec![id("account_id", "u_3")]);
    people.push(vec![Identity::email("nobody@example.com").unwrap()]);
    people.push(vec![id("email", "ADA@example.com")]);
    people.push(Vec::new());
    people
}

async fn same_as_alone(f: &Fixture) {
    let exec = f.executor().await;
    let people = people();
    for kind in [RequestKind::Access, RequestKind::Erasure, RequestKind::Rectification] {
        for scope in [Scope::Controller, Scope::Customer("1".into()), Scope::Customer("2".into())] {
            let mut req = Request::new(kind, people[0].clone());
            req.scope = scope.clone();
            let plan = exec.plan(&req).unwrap();
            let together = exec.discover_many(&plan, &people).await.unwrap();
            assert_eq!(together.len(), people.len());
            let mut found_rows = 0;
            for (p, ids) in people.iter().enumerate() {
                let mut alone_req = Request::new(kind, ids.clone());
                alone_req.scope = scope.clone();
                let alone = exec.discover(&alone_req, &plan).await.unwrap();
                found_rows += alone.row_count();
                assert_eq!(together[p], alone, "{kind:?} {scope:?}: person {p} ({ids:?})");
            }
            assert!(found_rows > 0, "{kind:?} {scope:?}: the people have rows");
        }
    }
    // In chunks of one and of two people: the same again.
    let mut req = Request::new(RequestKind::Erasure, people[0].clone());
    req.scope = Scope::Controller;
    let plan = exec.plan(&req).unwrap();
    let all = exec.discover_many(&plan, &people).await.unwrap();
    for size in [1, 2] {
        let mut parts = Vec::new();
        for chunk in people.chunks(size) {
            parts.extend(exec.discover_many(&plan, chunk).await.unwrap());
        }
        assert_eq!(parts, all, "chunks of {size}");
    }
    exec.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_looked_up_together_find_what_each_finds_alone() {
    let f = Fixture::sqlite(PEOPLE).await;
    same_as_alone(&f).await;
    if let Some(f) = Fixture::postgres(PEOPLE).await {
        same_as_alone(&f).await;
        f.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_looked_up_together_ignoring_letter_case_find_what_each_finds_alone() {
    // Ada's email stored with capitals, the email columns compared ignoring case.
    let f = Fixture::sqlite(PEOPLE).await;
    capitals(&f).await;
    case_insensitive(&f);
    same_as_alone(&f).await;
    if let Some(f) = Fixture::postgres(PEOPLE).await {
        capitals(&f).await;
        case_insensitive(&f);
        same_as_alone(&f).await;
        f.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_a_collation_matches_to_other_spellings_go_to_every_person_who_asked() {
    // The application declared `login_events.user_ref` `COLLATE NOCASE` while the annotations
    // compare it exactly: SQLite returns `u_3`'s rows to a lookup by `U_3`. Alone, a person
    // known by `U_3` finds them (and through them all of person 3); looked up together with
    // others, the rows of `u_3` must not go only to the person who spelled it `u_3`, nor be
    // dropped because nobody spelled it that way.
    let f = Fixture::sqlite(PEOPLE).await;
    f.exec(
        "events",
        "CREATE TABLE login_events_nocase (id INTEGER PRIMARY KEY, user_ref TEXT COLLATE NOCASE NOT NULL, \
         ip TEXT NOT NULL, user_agent TEXT, occurred_at TEXT NOT NULL);\n\
         INSERT INTO login_events_nocase SELECT * FROM login_events;\n\
         DROP TABLE login_events;\n\
         ALTER TABLE login_events_nocase RENAME TO login_events;\n\
         CREATE INDEX login_events_user ON login_events (user_ref);",
    )
    .await;
    let exec = f.executor().await;
    let upper = vec![id("account_id", "U_3")];
    let plan = exec.plan(&Request::new(RequestKind::Erasure, upper.clone())).unwrap();
    let alone = exec.discover(&Request::new(RequestKind::Erasure, upper.clone()), &plan).await.unwrap();
    assert!(alone.dataset("crm").is_some_and(|d| d.tables["users"].rows.len() == 1), "{alone:?}");
    // With the other spelling in the same lookup, and with nobody else spelling it that way.
    let lists = [
        vec![upper.clone(), vec![id("account_id", "u_3")], vec![Identity::email(&email(1)).unwrap()]],
        vec![upper.clone(), vec![id("account_id", "u_2")], vec![Identity::email(&email(1)).unwrap()]],
    ];
    for people in lists {
        let together = exec.discover_many(&plan, &people).await.unwrap();
        for (p, ids) in people.iter().enumerate() {
            let own = exec.discover(&Request::new(RequestKind::Erasure, ids.clone()), &plan).await.unwrap();
            assert_eq!(together[p], own, "person {p} ({ids:?})");
        }
        assert_eq!(together[0], alone);
    }
    exec.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_reads_of_the_rows_it_deletes_whole_only_what_finds_them() {
    // promise T5: an erasure needs of a row it deletes whole its key, the identities that find
    // the person elsewhere and the references that lead to the person's other rows; of a row
    // it keeps (an invoice under a legal hold) every value, which its strategies and the
    // report of what was kept use. Access reads every annotated value.
    let f = Fixture::sqlite(PEOPLE).await;
    let exec = f.executor().await;
    let ada = vec![Identity::email(&email(1)).unwrap()];
    let columns = |found: &covenant_dsr::find::Found, db: &str, table: &str| {
        let rows = &found.dataset(db).unwrap().tables[table];
        assert!(!rows.rows.is_empty(), "{db}.{table} has rows of Ada's");
        rows.columns.clone()
    };
    let erasure = Request::new(RequestKind::Erasure, ada.clone());
    let found = exec.discover(&erasure, &exec.plan(&erasure).unwrap()).await.unwrap();
    assert_eq!(columns(&found, "crm", "ai_messages"), ["id", "user_id"]);
    assert_eq!(columns(&found, "crm", "users"), ["id", "public_id", "email", "phone"]);
    assert_eq!(columns(&found, "events", "login_events"), ["id", "user_ref"]);
    let payments = columns(&found, "crm", "payments");
    assert!(
        payments.contains(&"card_holder".to_owned()) && payments.contains(&"card_last4".to_owned()),
        "{payments:?}"
    );

    let access = Request::new(RequestKind::Access, ada);
    let found = exec.discover(&access, &exec.plan(&access).unwrap()).await.unwrap();
    assert!(columns(&found, "crm", "ai_messages").contains(&"content".to_owned()));
    assert!(columns(&found, "crm", "users").contains(&"full_name".to_owned()));
    assert!(columns(&found, "events", "login_events").contains(&"user_agent".to_owned()));
    exec.close().await;
}
