//! Requests end to end, on SQLite and PostgreSQL.

use std::future::Future;

use covenant_core::Identity;
use covenant_dsr::{Correction, Outcome, Quiet, Request, RequestKind, Scope};
use covenant_store::{FlagKind, JournalStore, RunState, Store};

use super::fixture::{Fixture, email};

const PEOPLE: usize = 6;

async fn both<F, Fut>(case: F)
where
    F: Fn(Fixture) -> Fut,
    Fut: Future<Output = Fixture>,
{
    case(Fixture::sqlite(PEOPLE).await).await;
    if let Some(f) = Fixture::postgres(PEOPLE).await {
        case(f).await.drop_db().await;
    }
}

fn person(i: usize) -> Vec<Identity> {
    vec![Identity::email(&email(i)).unwrap()]
}

async fn access(f: &Fixture, i: usize) -> covenant_dsr::AccessReport {
    let exec = f.executor().await;
    let out = exec.run(&Request::new(RequestKind::Access, person(i)), &Quiet).await.unwrap();
    exec.close().await;
    match out {
        Outcome::Access(mut r) => {
            r.generated_at.clear();
            r
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_explains_every_item() {
    // promise P6: where it came from, why it is held, how long, who receives it.
    both(|f| async move {
        let r = access(&f, 1).await;
        let tables: Vec<String> = r.tables.iter().map(|t| format!("{}.{}", t.dataset, t.table)).collect();
        assert_eq!(
            tables,
            [
                "crm.users",
                "crm.tickets",
                "crm.payments",
                "crm.ai_messages",
                "crm.marketing_preferences",
                "events.email_events",
                "events.login_events"
            ]
        );
        assert!(r.identities.contains(&"account_id:u_1".to_owned()), "identities expand: {:?}", r.identities);
        for t in &r.tables {
            for c in &t.columns {
                if c.category.is_some() {
                    assert!(!c.purposes.is_empty(), "{}.{} has no purpose", t.table, c.column);
                    assert!(!c.retention.is_empty(), "{}.{} has no retention", t.table, c.column);
                    assert!(!c.sources.is_empty(), "{}.{} has no source", t.table, c.column);
                    assert!(!c.recipients.is_empty(), "{}.{} has no recipient", t.table, c.column);
                }
            }
        }
        let mentions: Vec<&str> = r.mentions.iter().map(|m| m.table.as_str()).collect();
        assert_eq!(mentions, ["comments", "tickets", "invitations"]);
        // promise T7: her entry in a customer's contacts is referred, not shown.
        assert_eq!(r.referred.len(), 1);
        assert_eq!(r.referred[0].table, "contacts");
        assert!(r.item_count() > 20);
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_only_held_items_and_everyone_else_untouched() {
    both(|f| async move {
        let others_before: Vec<_> = futures(&f, 2..=PEOPLE).await;
        let before = f.dump().await;
        let exec = f.executor().await;
        let out = exec.run(&Request::new(RequestKind::Erasure, person(1)), &Quiet).await.unwrap();
        let Outcome::Erasure(w) = out else { panic!() };
        assert!(!w.resumed);
        // promise T5: what is kept, and why.
        assert_eq!(w.kept.len(), 1);
        assert_eq!(w.kept[0].table, "payments");
        assert_eq!(w.kept[0].hold.id, "records");
        assert!(w.summary.contains("kept because the law requires it"), "{}", w.summary);
        let run = exec.store().get_run(exec.tenant(), covenant_store::RunId::parse(&w.run).unwrap()).await.unwrap();
        assert_eq!(run.state, RunState::Done);
        assert_eq!((run.steps, run.applied), (2, 2));
        exec.close().await;

        // Access now returns only legally held items.
        let after = access(&f, 1).await;
        assert!(after.item_count() > 0);
        for t in &after.tables {
            for row in &t.rows {
                for col in row.values.keys() {
                    let c = t.columns.iter().find(|c| &c.column == col).unwrap();
                    assert!(c.legal_hold.is_some(), "{}.{col} is still held without a legal hold", t.table);
                }
            }
        }
        assert!(after.mentions.is_empty(), "mentions are cut: {:?}", after.mentions);
        // Every other person's data is unchanged.
        let others_after: Vec<_> = futures(&f, 2..=PEOPLE).await;
        assert_eq!(others_before, others_after);
        // Rows gone are exactly Ada's deleted rows.
        let dump = f.dump().await;
        let deleted: u64 = w.steps.iter().flat_map(|s| s.counts.deleted.values()).sum();
        let count =
            |d: &std::collections::BTreeMap<String, Vec<String>>| d.values().map(Vec::len).sum::<usize>() as u64;
        assert_eq!(count(&before) - count(&dump), deleted);
        assert_eq!(dump["contacts"], before["contacts"], "the customer's contacts are not touched (T7)");

        // Running it again finds nothing more to delete and changes nothing.
        let exec = f.executor().await;
        let Outcome::Erasure(again) = exec.run(&Request::new(RequestKind::Erasure, person(1)), &Quiet).await.unwrap()
        else {
            panic!()
        };
        exec.close().await;
        assert!(again.steps.iter().all(|s| s.counts.deleted.is_empty()), "{again:?}");
        assert_eq!(f.dump().await, dump);
        f
    })
    .await;
}

async fn futures(f: &Fixture, people: std::ops::RangeInclusive<usize>) -> Vec<covenant_dsr::AccessReport> {
    // Their own rows: rows of theirs that mention someone else may go with that person.
    let mut out = Vec::new();
    for i in people {
        let mut r = access(f, i).await;
        r.mentions.clear();
        out.push(r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rectification_changes_every_copy_and_nothing_else() {
    both(|f| async move {
        let before = f.dump().await;
        let exec = f.executor().await;
        let mut req = Request::new(RequestKind::Rectification, person(4));
        req.corrections.push(Correction::parse("email=Dee@Example.org", exec.datasets()).unwrap());
        let Outcome::Rectification(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        exec.close().await;
        let updated: Vec<(&String, &u64)> = w.steps.iter().flat_map(|s| s.counts.updated.iter()).collect();
        assert_eq!(updated.len(), 3, "{updated:?}");
        let after = f.dump().await;
        let mut changed = Vec::new();
        for (t, rows) in &before {
            let gone: Vec<&String> = rows.iter().filter(|r| !after[t].contains(r)).collect();
            let new: Vec<&String> = after[t].iter().filter(|r| !rows.contains(r)).collect();
            assert_eq!(gone.len(), new.len(), "{t}");
            for (g, n) in gone.iter().zip(&new) {
                assert!(g.contains("person4@example.com"), "{t}: {g}");
                assert_eq!(g.replace("person4@example.com", "dee@example.org"), **n, "{t}: only the email changes");
                changed.push(t.clone());
            }
        }
        assert_eq!(changed, ["marketing_preferences", "payments", "users"]);
        // The person is found by the new address, and not by the old one.
        assert!(access(&f, 4).await.tables.is_empty());
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rectification_adds_a_missing_value() {
    // promise P6: rectification includes adding information.
    both(|f| async move {
        f.exec("crm", "UPDATE users SET phone = NULL WHERE id = 5").await;
        let exec = f.executor().await;
        let mut req = Request::new(RequestKind::Rectification, person(5));
        req.corrections.push(Correction::parse("phone=+358 40 555 0005", exec.datasets()).unwrap());
        let Outcome::Rectification(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        exec.close().await;
        assert_eq!(w.steps[0].counts.updated.get("users"), Some(&1));
        let dump = f.dump().await;
        assert!(dump["users"].iter().any(|r| r.contains("+358405550005") && r.contains("person5@example.com")));
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_erasure_resumes_without_applying_twice() {
    both(|f| async move {
        // The reference result: an uninterrupted erasure on a twin database.
        let twin =
            if f.postgres.is_some() { Fixture::postgres(PEOPLE).await.unwrap() } else { Fixture::sqlite(PEOPLE).await };
        let exec = twin.executor().await;
        exec.run(&Request::new(RequestKind::Erasure, person(1)), &Quiet).await.unwrap();
        exec.close().await;
        let expected = twin.dump().await;

        // Prepared, then the first database's step applied behind the journal's back, as if the
        // process died after that transaction committed and before it was marked.
        let exec = f.executor().await;
        let req = Request::new(RequestKind::Erasure, person(1));
        let run = exec.prepare(&req).await.unwrap();
        let steps = exec.store().run_steps(exec.tenant(), run).await.unwrap();
        let ops: Vec<covenant_connectors::WriteOp> = serde_json::from_str(&steps[0].ops).unwrap();
        let crm = covenant_connectors::Connector::connect(&f.crm, &Default::default()).await.unwrap();
        crm.apply(&ops).await.unwrap();
        crm.close().await;
        // Applying it again would fail: the rows it updates by key were deleted, … but the
        // resumed run reads back and applies only what is missing.
        let Outcome::Erasure(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        assert!(w.resumed);
        assert_eq!(w.run, run.to_string());
        exec.close().await;
        let mut got = f.dump().await;
        let mut want = expected;
        // Hashes and pseudonyms aside (none in the demo annotations), both are identical.
        got.remove("none");
        want.remove("none");
        assert_eq!(got, want);
        twin.drop_db().await;
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_in_a_table_the_erasure_does_not_touch_are_cut_by_the_reference_they_hold() {
    // promises W6, P6: erasure cuts every row that names the person; T5: the response counts them.
    // Comments 1 and 2 name user 1 as their author; comments are the customers' (no action of
    // the erasure touches them), so they are counted, not read, and cut by reference.
    both(|f| async move {
        let exec = f.executor().await;
        let req = Request::new(RequestKind::Erasure, person(1));
        let run = exec.prepare(&req).await.unwrap();
        let steps = exec.store().run_steps(exec.tenant(), run).await.unwrap();
        let ops: Vec<covenant_connectors::WriteOp> = serde_json::from_str(&steps[0].ops).unwrap();
        let cuts: Vec<_> = ops.iter().filter(|op| op.table().name == "comments").collect();
        assert_eq!(cuts.len(), 1, "{ops:?}");
        assert_eq!(cuts[0].key_columns(), ["author_user_id"], "the journal names the person's key, not each comment");
        assert_eq!(cuts[0].keys().len(), 1);
        // A comment written after the run was prepared: by reference, it is cut too.
        f.exec("crm", "INSERT INTO comments VALUES (99, 5, 1, 'Late', '2024-01-04T00:00:00Z');").await;
        let Outcome::Erasure(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        assert!(w.resumed);
        let cut: u64 = w.steps.iter().filter_map(|s| s.counts.mentions_cut.get("comments")).sum();
        assert_eq!(cut, 2, "the report counts what was found when the run was prepared");
        exec.close().await;
        let crm = covenant_connectors::Connector::connect(&f.crm, &Default::default()).await.unwrap();
        let table = covenant_connectors::TableRef::new(None, "comments");
        let keys: Vec<Vec<covenant_connectors::Value>> =
            [1, 2, 3, 99].iter().map(|i| vec![covenant_connectors::Value::Integer(*i)]).collect();
        let mut authors =
            crm.fetch(&table, &["id".into(), "author_user_id".into()], &["id".into()], &keys).await.unwrap();
        crm.close().await;
        authors.sort_by_key(|r| r[0].as_text());
        let authors: Vec<Option<String>> = authors.iter().map(|r| r[1].as_text()).collect();
        assert_eq!(authors, [None, None, Some("3".into()), None], "ids 1, 2, 3, 99: only another person's stays");

        // In a batch, each person's step counts the comments cut for that person.
        let exec = f.executor().await;
        let erase = |i| Request::new(RequestKind::Erasure, person(i));
        let results = exec.run_batches(&[erase(1), erase(3), erase(5)], 3, 1, &Quiet).await;
        let Ok(Outcome::Erasure(again)) = &results[0] else { panic!("{:?}", results[0]) };
        assert!(again.steps.iter().all(|s| !s.counts.mentions_cut.contains_key("comments")), "nothing left to cut");
        for r in &results[1..] {
            let Ok(Outcome::Erasure(w)) = r else { panic!("{r:?}") };
            let crm = &w.steps[0];
            assert_eq!(crm.counts.mentions_cut.get("comments"), Some(&1));
            let run = covenant_store::RunId::parse(&w.run).unwrap();
            let steps = exec.store().run_steps(exec.tenant(), run).await.unwrap();
            let planned: u64 = [&crm.counts.deleted, &crm.counts.updated, &crm.counts.mentions_cut]
                .iter()
                .flat_map(|m| m.values())
                .sum();
            assert_eq!(steps[0].rows_changed, Some(planned), "each person's rows changed, comments included");
        }
        exec.close().await;
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_instructions_act_on_that_customers_rows_only() {
    // promises O3, P7: the customer's instruction; T7: nothing of ours is touched.
    both(|f| async move {
        let before = f.dump().await;
        let exec = f.executor().await;
        // Ada (person 1) is a contact of account 2.
        let mut req = Request::new(RequestKind::Erasure, person(1));
        req.scope = Scope::Customer("1".into());
        let Outcome::Erasure(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        assert!(w.steps.is_empty(), "customer 1 holds nothing about her: {w:?}");
        req.scope = Scope::Customer("2".into());
        let Outcome::Erasure(w) = exec.run(&req, &Quiet).await.unwrap() else { panic!() };
        exec.close().await;
        let deleted = &w.steps[0].counts.deleted;
        assert_eq!(deleted.get("contacts"), Some(&1));
        assert_eq!(deleted.get("client_cards"), Some(&1));
        assert_eq!(deleted.get("comments"), Some(&1));
        let after = f.dump().await;
        for t in ["users", "payments", "tickets", "email_events", "login_events", "marketing_preferences"] {
            assert_eq!(after[t], before[t], "{t} is ours, not the customer's");
        }
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restriction_and_objection_are_recorded_as_flags() {
    both(|f| async move {
        let exec = f.executor().await;
        let Outcome::Restriction(r) =
            exec.run(&Request::new(RequestKind::Restriction, person(2)), &Quiet).await.unwrap()
        else {
            panic!()
        };
        assert!(r.registered);
        assert_eq!(r.flags, ["restricted"]);
        let Outcome::Objection(o) = exec.run(&Request::new(RequestKind::Objection, person(2)), &Quiet).await.unwrap()
        else {
            panic!()
        };
        assert!(!o.registered, "the same subject, found by identity");
        assert_eq!(o.subject, r.subject);
        // Absolute for direct marketing: every direct-marketing activity of the policy.
        assert_eq!(
            o.flags,
            ["objection:promotional_communications", "objection:newsletter", "objection:targeted_advertising"]
        );
        let id = Identity::email(&email(2)).unwrap();
        let subject = exec.store().find_subject_by_identity(exec.tenant(), &id).await.unwrap().unwrap();
        assert!(subject.flag(&FlagKind::Restricted).is_some());
        assert!(subject.flag(&FlagKind::Objection("newsletter".into())).is_some());
        assert_eq!(subject.kind, "user");
        // The decision engine sees the objection in the ledger.
        let records = exec.store().consent_history(exec.tenant(), subject.id).await.unwrap();
        assert_eq!(records.len(), 1);
        let runs = exec.store().list_runs(exec.tenant(), 10).await.unwrap();
        assert_eq!(runs.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), ["objection", "restriction"]);
        assert_eq!(exec.store().verify_audit(exec.tenant()).await.unwrap().map(|_| ()), Ok(()));
        exec.close().await;
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_says_whether_data_is_held() {
    // promises O4, T5.
    both(|f| async move {
        let exec = f.executor().await;
        let Outcome::Confirm(c) = exec.run(&Request::new(RequestKind::Confirm, person(1)), &Quiet).await.unwrap()
        else {
            panic!()
        };
        assert!(c.holds_data);
        assert!(c.categories.contains(&"Personal information".to_owned()), "{:?}", c.categories);
        assert_eq!(c.systems, ["CRM application database", "Tracking events database"]);
        let nobody = vec![Identity::email("nobody@example.com").unwrap()];
        let Outcome::Confirm(c) = exec.run(&Request::new(RequestKind::Confirm, nobody), &Quiet).await.unwrap() else {
            panic!()
        };
        assert!(!c.holds_data);
        assert!(c.categories.is_empty());
        exec.close().await;
        f
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_written_and_escaped() {
    let f = Fixture::sqlite(PEOPLE).await;
    f.exec("crm", "UPDATE users SET full_name = '<script>alert(1)</script>' WHERE id = 1").await;
    let exec = f.executor().await;
    let Outcome::Export(r) = exec.run(&Request::new(RequestKind::Export, person(1)), &Quiet).await.unwrap() else {
        panic!()
    };
    exec.close().await;
    let out = f.dir.path().join("export");
    let files = covenant_dsr::export::write_all(&r, &out).unwrap();
    assert_eq!(files.len(), 3);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert"), "values are escaped");
    assert!(html.contains("&#60;script&#62;alert(1)"), "{html}");
    assert!(html.contains("@media print"));
    let json: covenant_dsr::AccessReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("export.json")).unwrap()).unwrap();
    assert_eq!(json, r);
    let zip = std::fs::read(out.join("export-csv.zip")).unwrap();
    assert_eq!(&zip[..2], b"PK");
    let files = covenant_dsr::export::csv_files(&r);
    assert!(files.iter().any(|(n, text)| n == "crm.users.csv" && text.starts_with("id,public_id,email")));
    f.drop_db().await;
}

/// What an erasure deleted, updated and kept. (Mentions cut are counted when a request is
/// prepared: in a batch, a mention in a row that an earlier request of the batch deletes is
/// still counted.)
fn counts_of(out: &Outcome) -> String {
    match out {
        Outcome::Erasure(w) => {
            let steps: Vec<String> = w
                .steps
                .iter()
                // Not the mentions cut: a chunk is looked up while the one before is written, so
                // a mentioning row another request deletes may still be counted (documented).
                .map(|s| format!("{} {:?} {:?}", s.dataset, s.counts.deleted, s.counts.updated))
                .collect();
            format!("{steps:?} {:?}", w.kept)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_ends_as_the_same_requests_run_one_by_one() {
    let pairs: Vec<(Fixture, Fixture)> = {
        let mut v = vec![(Fixture::sqlite(PEOPLE).await, Fixture::sqlite(PEOPLE).await)];
        if let (Some(a), Some(b)) = (Fixture::postgres(PEOPLE).await, Fixture::postgres(PEOPLE).await) {
            v.push((a, b));
        }
        v
    };
    for (one_by_one, batched) in pairs {
        assert_eq!(one_by_one.dump().await, batched.dump().await, "the two fixtures start equal");
        let erase = |i: usize| Request::new(RequestKind::Erasure, person(i));
        let exec = one_by_one.executor().await;
        let mut expected = Vec::new();
        for i in [1, 3, 4] {
            expected.push(counts_of(&exec.run(&erase(i), &Quiet).await.unwrap()));
        }
        exec.close().await;

        let exec = batched.executor().await;
        let requests = vec![
            erase(1),
            Request::new(RequestKind::Access, person(2)),
            erase(3),
            // Invalid: a rectification needs a correction; it fails alone.
            Request::new(RequestKind::Rectification, person(5)),
            erase(4),
        ];
        // Chunks of two: the next chunk is looked up while one is written.
        let results = exec.run_batches(&requests, 2, 2, &Quiet).await;
        assert_eq!(results.len(), 5);
        let got: Vec<String> = [0, 2, 4].iter().map(|&i| counts_of(results[i].as_ref().unwrap())).collect();
        assert_eq!(got, expected, "each erasure reports what it would have reported alone");
        assert!(matches!(results[1], Ok(Outcome::Access(_))));
        assert!(results[3].as_ref().is_err_and(|e| e.to_string().contains("corrected value")), "{:?}", results[3]);
        // Every run is journaled and finished, each step marked.
        for i in [0, 2, 4] {
            let Ok(Outcome::Erasure(w)) = &results[i] else { panic!() };
            let run = exec.store().get_run(exec.tenant(), covenant_store::RunId::parse(&w.run).unwrap()).await.unwrap();
            assert_eq!(run.state, RunState::Done);
            assert_eq!(run.applied, run.steps);
        }
        exec.close().await;
        assert_eq!(batched.dump().await, one_by_one.dump().await, "the databases end the same");

        // A batch whose requests were prepared and then interrupted is finished by running it
        // again: the open runs are resumed.
        let exec = batched.executor().await;
        let run = exec.prepare(&erase(2)).await.unwrap();
        let results = exec.run_batch(&[erase(2), erase(6)], 2, &Quiet).await;
        let Ok(Outcome::Erasure(w)) = &results[0] else { panic!("{:?}", results[0]) };
        assert!(w.resumed);
        assert_eq!(w.run, run.to_string());
        assert!(results[1].is_ok());
        exec.close().await;
        for f in [one_by_one, batched] {
            if f.postgres.is_some() {
                f.drop_db().await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stopped_by_its_caller_closes_the_batch_written_meanwhile_and_writes_nothing_after() {
    // Batches are pipelined: the next batch is written while the results of one are handed
    // over. When the caller stops at the first batch, the second one is already written: its
    // runs are closed (none is left open), and the third is neither recorded nor written.
    // Promise T5: every erasure written is also finished in the journal.
    let f = Fixture::sqlite(PEOPLE).await;
    let exec = f.executor().await;
    let erase = |i: usize| Request::new(RequestKind::Erasure, person(i));
    let requests: Vec<Request> = (1..=6).map(erase).collect();
    let mut handed = Vec::new();
    exec.run_batches_with(&requests, 2, 2, &Quiet, |first, results| {
        handed.push((first, results.iter().filter(|r| r.is_ok()).count()));
        false
    })
    .await;
    assert_eq!(handed, [(0, 2)], "the first batch's results, then nothing");
    let runs = exec.store().list_runs(exec.tenant(), 100).await.unwrap();
    let mut keys: Vec<&str> = runs.iter().map(|r| r.request_key.as_str()).collect();
    keys.sort_unstable();
    let mut wanted: Vec<String> = (1..=4).map(|i| erase(i).key()).collect();
    wanted.sort_unstable();
    assert_eq!(keys, wanted, "runs of the first two batches only");
    assert!(runs.iter().all(|r| r.state == RunState::Done && r.applied == r.steps), "{runs:?}");
    for i in 1..=6 {
        let req = erase(i);
        let found = exec.discover(&req, &exec.plan(&req).unwrap()).await.unwrap();
        let users = found.dataset("crm").map_or(0, |d| d.tables["users"].rows.len());
        assert_eq!(users, usize::from(i > 4), "person {i}");
    }
    exec.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_request_that_cannot_be_planned_fails_alone_with_its_own_error() {
    // A batch plans each kind and scope once: a request whose identities the annotations cannot
    // look up, or whose kind and scope cannot be planned, gets the error it gets alone, and the
    // others of the batch are erased. Promise T5: each erasure is answered for itself.
    let f = Fixture::sqlite(PEOPLE).await;
    let exec = f.executor().await;
    let erase = |i: usize| Request::new(RequestKind::Erasure, person(i));
    let mut unknown_kind = erase(2);
    unknown_kind.identities = vec![Identity::parse("external:billing", "cus_1").unwrap()];
    let mut processor = erase(3);
    processor.scope = Scope::Customer("1".into());
    let requests = [erase(1), unknown_kind.clone(), processor.clone(), erase(4)];
    let alone: Vec<String> = [&unknown_kind, &processor]
        .iter()
        .map(|r| exec.plan(r).err().map(|e| e.to_string()).unwrap_or_default())
        .collect();
    let results = exec.run_batch(&requests, 2, &Quiet).await;
    assert!(matches!(results[0], Ok(Outcome::Erasure(_))), "{:?}", results[0]);
    assert!(matches!(results[3], Ok(Outcome::Erasure(_))), "{:?}", results[3]);
    let err = results[1].as_ref().err().map(|e| (e.is_invalid_request(), e.to_string()));
    assert_eq!(err, Some((true, alone[0].clone())));
    assert!(alone[0].contains("external:billing"), "{}", alone[0]);
    match (&results[2], alone[1].as_str()) {
        // The fixture's annotations name customers: the processor erasure is planned and runs.
        (Ok(_), "") => {}
        (Err(e), msg) => assert_eq!(e.to_string(), msg),
        (r, msg) => panic!("batch {r:?}, alone {msg}"),
    }
    exec.close().await;
}
