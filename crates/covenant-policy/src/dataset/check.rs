//! Checks of dataset annotations on their own and against the policy they serve.
//!
//! Every check names where the problem is written and how to fix it. Errors make the
//! annotations unusable (the planner would act wrongly); warnings point at gaps.

use std::collections::{BTreeSet, HashMap, HashSet};

use covenant_core::CategoryKey;

use super::model::{Dataset, IdentityMatch, Link, RowErasure, Strategy, Table};
use crate::diagnostic::{Diagnostic, DocPath};
use crate::lint::suggest;
use crate::model::{Category, Policy, StorageLimit};

/// Every problem in `ds`, checked on its own and against `policy`.
pub fn validate(ds: &Dataset, policy: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    check_names(ds, &mut out);
    check_references(ds, policy, &mut out);
    check_erasure(ds, policy, &mut out);
    check_reachable(ds, &mut out);
    out
}

fn table_path(i: usize) -> DocPath {
    DocPath::at("tables", i)
}

fn column_path(t: usize, c: usize) -> DocPath {
    table_path(t).key("columns").index(c)
}

fn valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

fn valid_identifier(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 128 && !s.chars().any(char::is_control)
}

fn check_names(ds: &Dataset, out: &mut Vec<Diagnostic>) {
    if !valid_id(&ds.id) {
        out.push(
            Diagnostic::error("dataset-id", DocPath::root().key("id"), format!("`{}` is not a dataset id", ds.id))
                .with_help("use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter (`crm`)"),
        );
    }
    if ds.tables.is_empty() {
        out.push(
            Diagnostic::error("no-tables", DocPath::root(), "the dataset annotates no tables")
                .with_help("add a `[[tables]]` entry for each table that holds personal data"),
        );
    }
    let mut tables: HashMap<(Option<&str>, &str), usize> = HashMap::new();
    for (ti, t) in ds.tables.iter().enumerate() {
        let tp = table_path(ti);
        if !valid_identifier(&t.name) {
            out.push(
                Diagnostic::error("table-name", tp.clone().key("name"), format!("`{}` is not a table name", t.name))
                    .with_help("write the table's name as the database spells it, without quotes"),
            );
        }
        if let Some(first) = tables.insert((t.schema.as_deref(), &t.name), ti) {
            out.push(
                Diagnostic::error(
                    "duplicate-table",
                    tp.clone().key("name"),
                    format!("table `{}` is annotated twice (first as tables[{first}])", t.qualified_name()),
                )
                .with_help("merge the two entries into one"),
            );
        }
        if t.primary_key.is_empty() {
            out.push(
                Diagnostic::error(
                    "no-primary-key",
                    tp.clone().key("primary_key"),
                    format!("table `{}` has no primary key", t.name),
                )
                .with_help("list the columns that identify a row, e.g. `primary_key = [\"id\"]`; Covenant addresses every row it changes by them"),
            );
        }
        let mut columns: HashMap<&str, usize> = HashMap::new();
        for (ci, c) in t.columns.iter().enumerate() {
            let cp = column_path(ti, ci);
            if !valid_identifier(&c.name) {
                out.push(
                    Diagnostic::error(
                        "column-name",
                        cp.clone().key("name"),
                        format!("`{}` is not a column name", c.name),
                    )
                    .with_help("write the column's name as the database spells it, without quotes"),
                );
            }
            if let Some(first) = columns.insert(&c.name, ci) {
                out.push(
                    Diagnostic::error(
                        "duplicate-column",
                        cp.clone().key("name"),
                        format!("column `{}.{}` is annotated twice (first as columns[{first}])", t.name, c.name),
                    )
                    .with_help("merge the two entries into one"),
                );
            }
            if c.identity.is_none() && c.matching != IdentityMatch::Exact {
                out.push(
                    Diagnostic::error(
                        "match-without-identity",
                        cp.clone().key("match"),
                        format!(
                            "column `{}.{}` sets `match = \"{}\"`, but people are not found by it: it is not an identity column",
                            t.name,
                            c.name,
                            c.matching.as_str()
                        ),
                    )
                    .with_help("remove `match`, or mark the column with `identity = \"email\"` (or phone, account_id, external:<system>) if people are found by it"),
                );
            }
            if c.identity.is_some() && c.category.is_none() {
                out.push(
                    Diagnostic::warning(
                        "identity-without-category",
                        cp.clone().key("identity"),
                        format!("identity column `{}.{}` has no category", t.name, c.name),
                    )
                    .with_help("an identity is personal data too: give it a category (`user.contact.email`) so access reports and retention include it"),
                );
            }
        }
    }
}

fn check_references(ds: &Dataset, policy: &Policy, out: &mut Vec<Diagnostic>) {
    let category_ids: Vec<&str> = policy.categories.iter().map(|c| c.id.as_str()).collect();
    let holds: Vec<&str> = policy.legal_holds.iter().map(|h| h.id.as_str()).collect();
    let subject_types: Vec<&str> = policy.subject_types.iter().map(|s| s.id.as_str()).collect();
    let activities: Vec<&str> = policy.activities.iter().map(|a| a.id.as_str()).collect();
    let products: Vec<&str> = policy.products.iter().map(|p| p.id.as_str()).collect();
    let tables: Vec<&str> = ds.tables.iter().map(|t| t.name.as_str()).collect();

    if let Some(p) = &ds.product
        && !products.contains(&p.as_str())
    {
        out.push(
            Diagnostic::error("unknown-product", DocPath::root().key("product"), format!("unknown product `{p}`"))
                .with_help(suggest(p, products.iter().copied(), "use the id of one of the policy's `products`".into())),
        );
    }
    for (ti, t) in ds.tables.iter().enumerate() {
        let tp = table_path(ti);
        if let Some(s) = &t.subject_type
            && !subject_types.contains(&s.as_str())
        {
            out.push(
                Diagnostic::error(
                    "unknown-subject-type",
                    tp.clone().key("subject_type"),
                    format!("table `{}` names unknown subject type `{s}`", t.name),
                )
                .with_help(suggest(
                    s,
                    subject_types.iter().copied(),
                    "use the id of one of the policy's `subject_types`".into(),
                )),
            );
        }
        for (ai, a) in t.activities.iter().enumerate() {
            if !activities.contains(&a.as_str()) {
                out.push(
                    Diagnostic::error(
                        "unknown-activity",
                        tp.clone().key("activities").index(ai),
                        format!("table `{}` names unknown activity `{a}`", t.name),
                    )
                    .with_help(suggest(
                        a,
                        activities.iter().copied(),
                        "use the id of one of the policy's `activities`".into(),
                    )),
                );
            }
        }
        if let RowErasure::Keep(h) = &t.erase
            && !holds.contains(&h.as_str())
        {
            out.push(unknown_hold(h, tp.clone().key("erase"), &holds));
        }
        for (ci, c) in t.columns.iter().enumerate() {
            let cp = column_path(ti, ci);
            if let Some(cat) = &c.category
                && !declared(cat, policy)
            {
                out.push(
                    Diagnostic::error(
                        "unknown-category",
                        cp.clone().key("category"),
                        format!(
                            "column `{}.{}` holds category `{cat}`, which the policy does not declare",
                            t.name, c.name
                        ),
                    )
                    .with_help(suggest(
                        cat.as_str(),
                        category_ids.iter().copied(),
                        "use one of the policy's `categories` (or a key below one), or declare it in the policy".into(),
                    )),
                );
            }
            if let Some(Strategy::Keep(h)) = &c.erase {
                if !holds.contains(&h.as_str()) {
                    out.push(unknown_hold(h, cp.clone().key("erase"), &holds));
                } else if let (Some(cat), Some(hold)) = (&c.category, policy.legal_holds.iter().find(|x| x.id == *h))
                    && !hold.categories.is_empty()
                    && !hold.categories.iter().any(|hc| cat.is_within(hc))
                {
                    out.push(
                        Diagnostic::warning(
                            "hold-category",
                            cp.clone().key("erase"),
                            format!(
                                "column `{}.{}` is kept under legal hold `{h}`, which does not cover its category `{cat}`",
                                t.name, c.name
                            ),
                        )
                        .with_help(format!(
                            "add `{cat}` to the hold's `categories` in the policy, or choose another strategy"
                        )),
                    );
                }
            }
        }
        for (ri, r) in t.references.iter().enumerate() {
            let rp = tp.clone().key("references").index(ri);
            let Some(target) = ds.table(&r.table) else {
                out.push(
                    Diagnostic::error(
                        "unknown-table",
                        rp.clone().key("table"),
                        format!("table `{}` references unknown table `{}`", t.name, r.table),
                    )
                    .with_help(suggest(
                        &r.table,
                        tables.iter().copied(),
                        "annotate the referenced table in this file too".into(),
                    )),
                );
                continue;
            };
            if r.columns.is_empty() {
                out.push(
                    Diagnostic::error("empty-reference", rp.clone().key("columns"), "the reference names no columns")
                        .with_help("list this table's columns that hold the referenced key"),
                );
            } else if r.columns.len() != r.target_columns(target).len() {
                out.push(
                    Diagnostic::error(
                        "reference-arity",
                        rp.clone().key("columns"),
                        format!(
                            "{} column{} of `{}` reference{} {} column{} of `{}`",
                            r.columns.len(),
                            if r.columns.len() == 1 { "" } else { "s" },
                            t.name,
                            if r.columns.len() == 1 { "s" } else { "" },
                            r.target_columns(target).len(),
                            if r.target_columns(target).len() == 1 { "" } else { "s" },
                            target.name
                        ),
                    )
                    .with_help("list as many columns as the referenced key has, in the same order (set `target` when it is not the primary key)"),
                );
            }
        }
    }
}

fn unknown_hold(h: &str, path: DocPath, holds: &[&str]) -> Diagnostic {
    Diagnostic::error("unknown-legal-hold", path, format!("unknown legal hold `{h}`")).with_help(suggest(
        h,
        holds.iter().copied(),
        "use the id of one of the policy's `legal_holds`, which gives the legal basis for keeping the data".into(),
    ))
}

/// A category is usable when the policy declares it or a category above it.
fn declared(cat: &CategoryKey, policy: &Policy) -> bool {
    policy.categories.iter().any(|c| cat.is_within(&c.id))
}

fn check_erasure(ds: &Dataset, _policy: &Policy, out: &mut Vec<Diagnostic>) {
    for (ti, t) in ds.tables.iter().enumerate() {
        for (ci, c) in t.columns.iter().enumerate() {
            let cp = column_path(ti, ci);
            let personal = c.category.is_some() || c.identity.is_some();
            match (&t.erase, &c.erase) {
                (RowErasure::Update, None) if personal && !is_key_column(t, &c.name) => out.push(
                    Diagnostic::error(
                        "erase-missing",
                        cp.clone().key("name"),
                        format!(
                            "erasure keeps the rows of `{}` but does not say what happens to personal column `{}`",
                            t.name, c.name
                        ),
                    )
                    .with_help("give the column an `erase` strategy (`null`, `hash`, `pseudonym`, `{ fixed = \"…\" }`, `{ truncate = \"…\" }`, `{ keep = \"<legal hold>\" }`), or delete the rows with `erase = \"delete\"`"),
                ),
                (RowErasure::Delete, Some(Strategy::Keep(h))) if !mentions_column(t, &c.name) => out.push(
                    Diagnostic::error(
                        "keep-in-deleted-row",
                        cp.clone().key("erase"),
                        format!(
                            "column `{}.{}` is kept under legal hold `{h}`, but erasure deletes the rows of `{}`",
                            t.name, c.name, t.name
                        ),
                    )
                    .with_help(format!(
                        "set `erase = \"update\"` on table `{}` so the rows stay and other columns are erased",
                        t.name
                    )),
                ),
                (RowErasure::Delete, Some(_)) if !mentions_column(t, &c.name) => out.push(
                    Diagnostic::warning(
                        "erase-ignored",
                        cp.clone().key("erase"),
                        format!("the strategy of `{}.{}` is never used: erasure deletes the rows", t.name, c.name),
                    )
                    .with_help(format!("remove it, or set `erase = \"update\"` on table `{}`", t.name)),
                ),
                _ => {}
            }
        }
        for (ri, r) in t.references.iter().enumerate() {
            let rp = table_path(ti).key("references").index(ri);
            let Some(target) = ds.table(&r.table) else { continue };
            if target.erase != RowErasure::Delete {
                continue;
            }
            // The referenced row may be deleted by an erasure while this row stays: the
            // reference must then be cut (or the target must stay).
            let row_stays = match r.link {
                Link::Mentions => true,
                Link::BelongsTo | Link::SameSubject => t.erase != RowErasure::Delete,
            };
            if !row_stays {
                continue;
            }
            for col in &r.columns {
                let strategy = t.column(col).and_then(|c| c.erase.as_ref());
                let ok = matches!(strategy, Some(s) if !matches!(s, Strategy::Keep(_)));
                if !ok {
                    let why = match r.link {
                        Link::Mentions => "mentions people in",
                        _ => "keeps rows that reference",
                    };
                    out.push(
                        Diagnostic::error(
                            "dangling-reference",
                            rp.clone().key("columns"),
                            format!(
                                "table `{}` {why} `{}`, whose rows erasure deletes, but column `{}.{col}` has no strategy that cuts the link",
                                t.name, target.name, t.name
                            ),
                        )
                        .with_help(format!(
                            "annotate column `{col}` of `{}` with `erase = \"null\"` (or another strategy), or set `erase = \"update\"` on `{}`",
                            t.name, target.name
                        )),
                    );
                }
            }
        }
    }
}

fn is_key_column(t: &Table, name: &str) -> bool {
    t.primary_key.iter().any(|k| k == name)
}

fn mentions_column(t: &Table, name: &str) -> bool {
    t.references.iter().any(|r| r.link == Link::Mentions && r.columns.iter().any(|c| c == name))
}

/// Tables with personal columns that no person could ever be found in: neither identity
/// columns nor a chain of `belongs_to`/`same_subject` references to a table with them.
fn check_reachable(ds: &Dataset, out: &mut Vec<Diagnostic>) {
    let mut reached: HashSet<&str> =
        ds.tables.iter().filter(|t| t.identity_columns().next().is_some()).map(|t| t.name.as_str()).collect();
    loop {
        let before = reached.len();
        for t in &ds.tables {
            for r in &t.references {
                match r.link {
                    Link::BelongsTo if reached.contains(r.table.as_str()) => {
                        reached.insert(&t.name);
                    }
                    Link::SameSubject => {
                        if reached.contains(r.table.as_str()) {
                            reached.insert(&t.name);
                        }
                        if reached.contains(t.name.as_str()) {
                            reached.insert(&r.table);
                        }
                    }
                    _ => {}
                }
            }
        }
        if reached.len() == before {
            break;
        }
    }
    for (ti, t) in ds.tables.iter().enumerate() {
        let personal = t.columns.iter().any(|c| c.category.is_some());
        if personal && !reached.contains(t.name.as_str()) {
            out.push(
                Diagnostic::warning(
                    "unreachable-table",
                    table_path(ti).key("name"),
                    format!("no person can be found in table `{}`: it has no identity column and no reference leading to one", t.name),
                )
                .with_help("mark the column that identifies the person with `identity = \"email\"` (or phone, account_id, external:<system>), or add a `belongs_to` reference to a table that has one"),
            );
        }
    }
}

/// The policy categories held by at least one annotated column (a column's category is within
/// the policy category, or the other way round).
pub fn held_categories<'p>(policy: &'p Policy, datasets: &[&Dataset]) -> BTreeSet<&'p CategoryKey> {
    let columns: Vec<&CategoryKey> =
        datasets.iter().flat_map(|d| &d.tables).flat_map(|t| &t.columns).filter_map(|c| c.category.as_ref()).collect();
    policy
        .categories
        .iter()
        .map(|c| &c.id)
        .filter(|id| columns.iter().any(|col| col.is_within(id) || id.is_within(col)))
        .collect()
}

/// The categories the policy declares but no dataset holds: either the annotations are
/// incomplete or the notice promises more than is collected. Categories the policy says are
/// never stored (handed straight to a payment provider) are not expected to be held.
pub fn unheld_categories<'p>(policy: &'p Policy, datasets: &[&Dataset]) -> Vec<&'p Category> {
    let held = held_categories(policy, datasets);
    policy
        .categories
        .iter()
        .filter(|c| !held.contains(&c.id))
        .filter(|c| c.storage_limit != Some(StorageLimit::NeverStored) && !c.prohibited)
        .collect()
}
