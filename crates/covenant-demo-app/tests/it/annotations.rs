//! The demo annotations describe the generated databases exactly, and drafts made from those
//! databases match their schema.

use covenant_connectors::introspect::{DraftOptions, draft_annotations, introspect, missing_in_database};
use covenant_demo_app::{CRM_DATASET_TOML, Database, EVENTS_DATASET_TOML, POLICY_TOML};
use covenant_policy::dataset::{check_dataset_source, load_dataset_str, parse_dataset};
use covenant_policy::{Format, SourceFile};

use super::generate;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_annotations_check_clean_against_the_generated_schema() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 500, 3);
    let policy = covenant_policy::load_str("policy.toml", POLICY_TOML, Format::Toml).unwrap();
    let rt = runtime();
    for (db, text) in [(Database::Crm, CRM_DATASET_TOML), (Database::Events, EVENTS_DATASET_TOML)] {
        let checked = check_dataset_source(SourceFile::new(db.name(), text), Format::Toml, &policy);
        assert!(checked.diagnostics.is_empty(), "{}", checked.render());
        let dataset = load_dataset_str(db.name(), text, Format::Toml, &policy).unwrap();
        assert_eq!(dataset.id, db.name());
        let url = format!("sqlite://{}", dir.path().join(db.file_name()).display());
        let schema = rt.block_on(introspect(&url)).unwrap();
        assert_eq!(missing_in_database(&dataset, &schema), vec![], "{}", db.name());
        // Every generated table with personal data is annotated (only `accounts`, the customer
        // companies, is not).
        for t in db.tables() {
            assert!(dataset.table(t.name).is_some() || t.name == "accounts", "{} is not annotated", t.name);
        }
    }
}

#[test]
fn drafts_of_the_generated_databases_match_their_schema() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), 300, 4);
    let policy = covenant_policy::load_str("policy.toml", POLICY_TOML, Format::Toml).unwrap();
    let rt = runtime();
    for db in Database::ALL {
        let url = format!("sqlite://{}", dir.path().join(db.file_name()).display());
        let schema = rt.block_on(introspect(&url)).unwrap();
        let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, db.tables().map(|t| t.name).collect::<Vec<_>>());
        for (p, t) in [(None, "without a policy"), (Some(&policy), "with the policy")] {
            let text = draft_annotations(&schema, &DraftOptions { id: db.name(), source: &url, policy: p });
            let draft = parse_dataset(&text, Format::Toml).unwrap_or_else(|d| panic!("{t}: {d:?}\n{text}"));
            assert_eq!(draft.tables.len(), schema.tables.len());
            for (a, s) in draft.tables.iter().zip(&schema.tables) {
                assert_eq!((&a.name, &a.primary_key), (&s.name, &s.primary_key));
                let refs: Vec<_> = a.references.iter().map(|r| (&r.columns, &r.table)).collect();
                let fks: Vec<_> = s.foreign_keys.iter().map(|f| (&f.columns, &f.table)).collect();
                assert_eq!(refs, fks, "{}", s.name);
                let def = covenant_demo_app::TABLES.iter().find(|d| d.name == s.name).unwrap();
                for c in &a.columns {
                    assert!(def.columns.contains(&c.name.as_str()), "{}.{}", s.name, c.name);
                }
            }
            assert_eq!(missing_in_database(&draft, &schema), vec![]);
            if p.is_some() {
                let checked = check_dataset_source(SourceFile::new("draft", text.clone()), Format::Toml, &policy);
                assert!(!checked.has_errors(), "{}", checked.render());
            }
        }
    }
}
