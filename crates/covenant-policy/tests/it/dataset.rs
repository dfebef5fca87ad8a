//! Dataset annotations: the demo application's files check clean against the Oki-Toki policy,
//! and every kind of mistake is reported where it is written, with a fix.

use std::path::{Path, PathBuf};

use covenant_policy::dataset::{self, Dataset, IdentityMatch, Link, RowErasure, Strategy, Truncation};
use covenant_policy::{Format, Policy, SourceFile, load_file};

fn root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
        .join("../..")
}

#[allow(clippy::unwrap_used)] // a test helper: a broken example fails the test
fn okitoki() -> Policy {
    load_file(&root().join("examples/okitoki/policy.toml")).unwrap()
}

#[allow(clippy::unwrap_used)]
fn demo(name: &str) -> Dataset {
    dataset::load_dataset_file(&root().join("examples/crm").join(name), &okitoki()).unwrap()
}

#[test]
fn the_demo_datasets_check_without_errors_or_warnings() {
    let policy = okitoki();
    for name in ["crm.dataset.toml", "events.dataset.toml"] {
        let checked = dataset::check_dataset_file(&root().join("examples/crm").join(name), &policy).unwrap();
        assert!(checked.diagnostics.is_empty(), "{name}:\n{}", checked.render());
    }
    let crm = demo("crm.dataset.toml");
    let payments = crm.table("payments").unwrap();
    assert_eq!(payments.erase, RowErasure::Update);
    // promise T5: invoices are kept under the `records` legal hold
    assert_eq!(payments.column("card_holder").unwrap().erase, Some(Strategy::Keep("records".into())));
    assert_eq!(crm.table("tickets").unwrap().references[1].link, Link::Mentions);
}

#[test]
fn categories_the_policy_declares_but_no_dataset_holds_are_listed() {
    let policy = okitoki();
    let crm = demo("crm.dataset.toml");
    let events = demo("events.dataset.toml");
    let unheld: Vec<&str> =
        dataset::unheld_categories(&policy, &[&crm, &events]).iter().map(|c| c.id.as_str()).collect();
    // Held elsewhere (the website, the ad network) or not in the demo application; card numbers
    // are never stored (promise T1) and are not expected.
    assert_eq!(
        unheld,
        [
            "user.social.public_info",
            "user.telemetry.service_usage",
            "user.device.cookie",
            "user.behavior.ad_tracking",
            "user.content.public.testimonial"
        ]
    );
    let only_crm: Vec<&str> = dataset::unheld_categories(&policy, &[&crm]).iter().map(|c| c.id.as_str()).collect();
    assert!(only_crm.contains(&"user.behavior.email_opens"));
}

const BASE: &str = r#"schema = 1
id = "app"
name = "App"

[[tables]]
name = "users"
primary_key = ["id"]
columns = [
  { name = "email", identity = "email", category = "user.contact.personal_info" },
]

[[tables]]
name = "orders"
primary_key = ["id"]
erase = "update"
columns = [
  { name = "total", category = "user.behavior.purchase_history", erase = { keep = "records" } },
  { name = "user_id", erase = "null" },
]
references = [{ columns = ["user_id"], table = "users" }]
"#;

/// Replaces `from` in the base file with `to`, checks it, and expects a diagnostic with `code`
/// at `line` whose message contains `says`.
fn expect(from: &str, to: &str, code: &str, line: usize, says: &str) {
    assert!(BASE.contains(from), "the base file has no `{from}`");
    let text = BASE.replacen(from, to, 1);
    let checked = dataset::check_dataset_source(SourceFile::new("app.toml", text), Format::Toml, &okitoki());
    let found = checked.diagnostics.iter().find(|d| d.code == code);
    let Some(d) = found else {
        panic!("expected `{code}` for `{to}`, got:\n{}", checked.render());
    };
    let span = d.span.clone().unwrap_or_else(|| panic!("`{code}` has no position"));
    assert_eq!(checked.source.line_col(span.start).0, line, "{}", checked.render());
    assert!(d.message.contains(says), "`{code}`: {}", d.message);
    // A wrong value's message already says what is expected; every other finding has a fix.
    assert!(d.help.is_some() || code == "invalid-value", "`{code}` has no help");
}

#[test]
fn the_base_file_is_clean() {
    let checked = dataset::check_dataset_source(SourceFile::new("app.toml", BASE), Format::Toml, &okitoki());
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
}

#[test]
fn mistakes_are_reported_where_they_are_written() {
    let cases: &[(&str, &str, &str, usize, &str)] = &[
        ("id = \"app\"", "id = \"App!\"", "dataset-id", 2, "`App!`"),
        ("schema = 1", "schema = 2", "schema", 1, "unsupported schema version"),
        ("name = \"users\"", "nme = \"users\"", "unknown-key", 6, "unknown key"),
        ("primary_key = [\"id\"]\ncolumns", "primary_key = []\ncolumns", "no-primary-key", 7, "no primary key"),
        ("user.contact.personal_info", "user.contact.personal_inf", "unknown-category", 9, "does not declare"),
        ("identity = \"email\"", "identity = \"mail\"", "invalid-value", 9, "not an identity kind"),
        ("{ keep = \"records\" }", "{ keep = \"recods\" }", "unknown-legal-hold", 17, "`recods`"),
        ("{ keep = \"records\" }", "{ truncate = \"last_five\" }", "invalid-value", 17, "unknown variant"),
        ("table = \"users\" }", "table = \"user\" }", "unknown-table", 20, "unknown table `user`"),
        ("columns = [\"user_id\"]", "columns = [\"user_id\", \"x\"]", "reference-arity", 20, "2 columns"),
        ("erase = \"update\"", "erase = \"delete\"", "keep-in-deleted-row", 17, "erasure deletes the rows"),
        (
            "{ name = \"user_id\", erase = \"null\" }",
            "{ name = \"user_id\" }",
            "dangling-reference",
            20,
            "no strategy that cuts the link",
        ),
        (
            "{ name = \"total\", category = \"user.behavior.purchase_history\", erase = { keep = \"records\" } }",
            "{ name = \"total\", category = \"user.behavior.purchase_history\" }",
            "erase-missing",
            17,
            "`total`",
        ),
        (
            "{ name = \"email\", identity = \"email\", category = \"user.contact.personal_info\" }",
            "{ name = \"email\", category = \"user.contact.personal_info\" }",
            "unreachable-table",
            6,
            "no person can be found in table `users`",
        ),
        (
            "{ name = \"email\", identity = \"email\", category = \"user.contact.personal_info\" }",
            "{ name = \"email\", identity = \"email\", category = \"user.contact.personal_info\" },\n  { name = \"email\" }",
            "duplicate-column",
            10,
            "annotated twice",
        ),
        (
            "identity = \"email\", category",
            "identity = \"email\", match = \"nocase\", category",
            "invalid-value",
            9,
            "unknown variant `nocase`",
        ),
        (
            "{ name = \"user_id\", erase = \"null\" }",
            "{ name = \"user_id\", erase = \"null\", match = \"case_insensitive\" }",
            "match-without-identity",
            18,
            "column `orders.user_id` sets `match = \"case_insensitive\"`, but people are not found by it",
        ),
        (
            "{ keep = \"records\" }",
            "{ keep = \"records\" } },\n  { name = \"total2\", category = \"user.contact.personal_info\", erase = { keep = \"records\" }",
            "hold-category",
            18,
            "does not cover",
        ),
    ];
    for (from, to, code, line, says) in cases {
        expect(from, to, code, *line, says);
    }
}

#[test]
fn identity_columns_may_match_ignoring_case() {
    // promises of access and erasure completeness: a person stored as `Ada@Example.COM` must be
    // findable, so the annotation is accepted on identity columns and kept through a round trip.
    let text = BASE.replacen(
        "identity = \"email\", category",
        "identity = \"email\", match = \"case_insensitive\", category",
        1,
    );
    let checked = dataset::check_dataset_source(SourceFile::new("app.toml", text.clone()), Format::Toml, &okitoki());
    assert!(checked.diagnostics.is_empty(), "{}", checked.render());
    let ds = dataset::parse_dataset(&text, Format::Toml).unwrap();
    let email = ds.table("users").unwrap().column("email").unwrap();
    assert_eq!(email.matching, IdentityMatch::CaseInsensitive);
    assert_eq!(ds.table("orders").unwrap().column("user_id").unwrap().matching, IdentityMatch::Exact);
    let again = toml::to_string(&ds).unwrap();
    assert!(again.contains("match = \"case_insensitive\""), "{again}");
    assert_eq!(dataset::parse_dataset(&again, Format::Toml).unwrap(), ds);
    let yaml = serde_saphyr::to_string(&ds).unwrap();
    assert_eq!(dataset::parse_dataset(&yaml, Format::Yaml).unwrap(), ds);
}

#[test]
fn strategies_and_truncations_round_trip() {
    let ds = dataset::parse_dataset(BASE, Format::Toml).unwrap();
    let text = toml::to_string(&ds).unwrap();
    assert_eq!(dataset::parse_dataset(&text, Format::Toml).unwrap(), ds);
    let yaml = serde_saphyr::to_string(&ds).unwrap();
    assert_eq!(dataset::parse_dataset(&yaml, Format::Yaml).unwrap(), ds);
    assert_eq!(Truncation::ALL.map(Truncation::as_str), ["last_four", "ip_network", "email_domain", "year"]);
}

#[test]
fn the_schema_describes_the_format() {
    let schema = dataset::dataset_schema();
    let text = schema.to_string();
    for key in [
        "primary_key",
        "references",
        "belongs_to",
        "same_subject",
        "mentions",
        "pseudonym",
        "IdentityColumn",
        "case_insensitive",
    ] {
        assert!(text.contains(key), "the schema does not mention `{key}`");
    }
}
