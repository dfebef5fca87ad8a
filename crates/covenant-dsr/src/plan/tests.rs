use std::path::Path;

use covenant_policy::dataset::{Column, Reference};
use proptest::prelude::{ProptestConfig, any, prop, prop_assert, prop_assert_eq, proptest};
use proptest::strategy::Strategy as _;

use super::*;

fn examples() -> (Policy, Vec<Dataset>) {
    let root =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
            .join("../../examples");
    let policy = covenant_policy::load_file(&root.join("okitoki/policy.toml")).unwrap();
    let datasets = ["crm", "events"]
        .iter()
        .map(|d| {
            covenant_policy::dataset::load_dataset_file(&root.join(format!("crm/{d}.dataset.toml")), &policy).unwrap()
        })
        .collect();
    (policy, datasets)
}

fn ada() -> Vec<Identity> {
    vec![Identity::email("ada@example.com").unwrap()]
}

#[test]
fn demo_erasure_plan() {
    let (policy, datasets) = examples();
    let plan = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
    insta::assert_snapshot!("demo_erasure", plan.render());
}

#[test]
fn demo_access_plan() {
    let (policy, datasets) = examples();
    let plan = build(&policy, &datasets, RequestKind::Access, &ada(), &Scope::Controller).unwrap();
    insta::assert_snapshot!("demo_access", plan.render());
}

#[test]
fn demo_customer_erasure_plan() {
    let (policy, datasets) = examples();
    let plan = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Customer("42".into())).unwrap();
    insta::assert_snapshot!("demo_customer_erasure", plan.render());
}

#[test]
fn demo_plan_json_is_stable() {
    let (policy, datasets) = examples();
    let a = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
    let b = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
    assert_eq!(a.hash(), b.hash());
    let back: Plan = serde_json::from_value(a.to_json()).unwrap();
    assert_eq!(back, a);
    let other = build(&policy, &datasets, RequestKind::Access, &ada(), &Scope::Controller).unwrap();
    assert_ne!(a.hash(), other.hash());
}

#[test]
fn a_plan_hashed_for_other_identities_is_their_own_plan_hashed() {
    let (policy, datasets) = examples();
    let ada_plan = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
    let bob =
        vec![Identity::parse("email", "bob@example.com").unwrap(), Identity::parse("phone", "+358401234567").unwrap()];
    let bob_plan = build(&policy, &datasets, RequestKind::Erasure, &bob, &Scope::Controller).unwrap();
    // The hash as it always was: SHA-256 of the plan's JSON, so journaled runs still resume.
    let json = serde_json::to_string(&bob_plan).unwrap();
    let hex: String = Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(bob_plan.hash(), hex);
    assert_eq!(ada_plan.hash_with(&bob_plan.identities), hex);
    assert_ne!(ada_plan.hash(), hex, "the identities are part of the plan");
    assert_eq!(check_identities(&datasets, &bob), Ok(()));
    let unknown = vec![Identity::parse("external:billing", "cus_1").unwrap()];
    assert!(matches!(check_identities(&datasets, &unknown), Err(PlanError::UnknownIdentityKind(..))));
    assert_eq!(check_identities(&datasets, &[]), Err(PlanError::NoIdentity));
}

#[test]
fn case_insensitive_identity_lookups_are_planned_and_shown() {
    let (policy, mut datasets) = examples();
    let exact = build(&policy, &datasets, RequestKind::Access, &ada(), &Scope::Controller).unwrap();
    assert!(!exact.render().contains("ignoring letter case"));
    assert!(!exact.to_json().to_string().contains("case_insensitive"), "exact plans are written as before");
    let users = datasets[0].tables.iter_mut().find(|t| t.name == "users").unwrap();
    users.columns.iter_mut().find(|c| c.name == "email").unwrap().matching = IdentityMatch::CaseInsensitive;
    let plan = build(&policy, &datasets, RequestKind::Access, &ada(), &Scope::Controller).unwrap();
    let text = plan.render();
    assert!(text.contains("users.email holds one of the person's `email` identities, ignoring letter case"), "{text}");
    assert_eq!(text.matches("ignoring letter case").count(), 1, "{text}");
    let back: Plan = serde_json::from_value(plan.to_json()).unwrap();
    assert_eq!(back, plan);
    assert_ne!(plan.hash(), exact.hash(), "how people are found is part of the plan");
}

#[test]
fn processor_data_is_referred_not_acted_on() {
    // promise T7: contacts (controller column) and the cards and comments reached only
    // through them are the customers' data.
    let (policy, datasets) = examples();
    let crm = &datasets[0];
    assert_eq!(processor_tables(crm).into_iter().collect::<Vec<_>>(), ["client_cards", "comments", "contacts"]);
    let plan = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
    let d = plan.dataset("crm").unwrap();
    assert!(d.actions.iter().all(|a| !matches!(a, Action::Delete { table } if table == "contacts")));
    assert_eq!(d.referred.iter().map(|r| r.table.as_str()).collect::<Vec<_>>(), ["contacts"]);
    // The comment author link is still cut: it points at the user being deleted.
    assert!(d.actions.iter().any(|a| matches!(a, Action::CutMentions { table, .. } if table == "comments")));
    // With the customer's instruction, only its data is in scope (promises O3, P7).
    let plan = build(&policy, &datasets, RequestKind::Erasure, &ada(), &Scope::Customer("7".into())).unwrap();
    let d = plan.dataset("crm").unwrap();
    assert_eq!(d.tables, ["contacts", "client_cards", "comments"]);
    let deletes: Vec<&str> =
        d.actions.iter().filter(|a| matches!(a, Action::Delete { .. })).map(Action::table).collect();
    assert_eq!(deletes, ["comments", "client_cards", "contacts"], "children before parents");
    assert!(plan.dataset("events").unwrap().lookups.is_empty());
}

#[test]
fn bad_requests_are_refused() {
    let (policy, datasets) = examples();
    assert_eq!(build(&policy, &datasets, RequestKind::Access, &[], &Scope::Controller), Err(PlanError::NoIdentity));
    let ext = Identity::parse("external:stripe", "cus_1").unwrap();
    let err = build(&policy, &datasets, RequestKind::Access, &[ext], &Scope::Controller).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no annotated table holds identities of kind `external:stripe`; use one of: `account_id`, `email`, `phone`"
    );
    assert_eq!(
        "erase".parse::<RequestKind>().unwrap_err(),
        "unknown request kind `erase`; use one of: `access`, `export`, `erasure`, `rectification`, `restriction`, `objection`, `confirm`"
    );
}

// ---------------------------------------------------------------------------------------------
// The ordering property on random acyclic schemas.

#[derive(Clone, Debug)]
struct Spec {
    /// Per table: its erase mode (0 delete, 1 update, 2 keep) and its references (target index
    /// below its own, link 0 belongs_to, 1 same_subject, 2 mentions).
    tables: Vec<(u8, Vec<(usize, u8)>)>,
}

fn spec() -> impl proptest::strategy::Strategy<Value = Spec> {
    (2usize..9)
        .prop_flat_map(|n| {
            proptest::collection::vec(
                (0u8..3, proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3), 0..4)),
                n,
            )
        })
        .prop_map(|raw| Spec {
            tables: raw
                .into_iter()
                .enumerate()
                .map(|(i, (erase, refs))| {
                    let refs =
                        if i == 0 { Vec::new() } else { refs.into_iter().map(|(ix, l)| (ix.index(i), l)).collect() };
                    (erase, refs)
                })
                .collect(),
        })
}

fn dataset_of(spec: &Spec) -> Dataset {
    let tables = spec
        .tables
        .iter()
        .enumerate()
        .map(|(i, (erase, refs))| {
            let mut columns = vec![Column {
                name: "email".into(),
                category: None,
                identity: (i == 0).then(|| "email".parse().unwrap()),
                matching: Default::default(),
                erase: Some(Strategy::Null),
                description: None,
            }];
            let references = refs
                .iter()
                .enumerate()
                .map(|(k, (target, link))| {
                    let col = format!("ref{k}");
                    columns.push(Column {
                        name: col.clone(),
                        category: None,
                        identity: None,
                        matching: Default::default(),
                        erase: Some(Strategy::Null),
                        description: None,
                    });
                    Reference {
                        columns: vec![col],
                        table: format!("t{target}"),
                        target: Vec::new(),
                        link: match link {
                            0 => Link::BelongsTo,
                            1 => Link::SameSubject,
                            _ => Link::Mentions,
                        },
                    }
                })
                .collect();
            Table {
                name: format!("t{i}"),
                schema: None,
                description: None,
                primary_key: vec!["id".into()],
                subject_type: None,
                activities: Vec::new(),
                timestamp: None,
                controller: None,
                erase: match erase {
                    0 => RowErasure::Delete,
                    1 => RowErasure::Update,
                    _ => RowErasure::Keep("records".into()),
                },
                columns,
                references,
            }
        })
        .collect();
    Dataset { schema: 1, id: "p".into(), name: "p".into(), description: None, product: None, tables }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every delete comes after the deletes and updates of the rows that reference its table.
    #[test]
    fn deletes_come_after_everything_that_references_them(spec in spec()) {
        let (policy, _) = examples();
        let ds = dataset_of(&spec);
        let plan = build(&policy, std::slice::from_ref(&ds), RequestKind::Erasure, &ada(), &Scope::Controller).unwrap();
        let actions = &plan.datasets[0].actions;
        for (i, a) in actions.iter().enumerate() {
            let Action::Delete { table: parent } = a else { continue };
            for (j, b) in actions.iter().enumerate() {
                let child = ds.table(b.table()).unwrap();
                let references_parent = child.references.iter().any(|r| &r.table == parent) && &child.name != parent;
                if references_parent {
                    prop_assert!(j < i, "{} ({j}) must come before delete {parent} ({i}) in {actions:?}", b.table());
                }
            }
        }
        // Each table in scope is acted on at most once by its own erase mode.
        let deletes: Vec<&str> = actions.iter().filter(|a| matches!(a, Action::Delete { .. })).map(Action::table).collect();
        let mut unique = deletes.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), deletes.len());
    }
}
