//! The record of processing activities (GDPR Art. 30): snapshots of the three formats for the
//! fixture and for every example policy, and targeted checks of what the record must carry.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::path::PathBuf;

use covenant_policy::model::Role;
use covenant_policy::ropa::{self, ActivityEntry, Ropa, TransferOrigin};
use covenant_policy::{Format, Policy};

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
}

/// The fixture: a fictional company with controller, processor and joint-controller activities.
fn fixture() -> Policy {
    let path = manifest_dir().join("tests/fixtures/ropa.toml");
    match covenant_policy::load_file(&path) {
        Ok(p) => p,
        Err(e) => panic!("the fixture must load cleanly:\n{e}"),
    }
}

/// A small policy for targeted checks: a header, then `body` (parsed without lints, so that a
/// check can describe a gap the lints would refuse).
fn policy(body: &str) -> Policy {
    let text = format!(
        "schema = 1\n[policy]\ntitle = \"T\"\nversion = \"1\"\neffective = \"2026-01-01\"\n\
         [controller]\nlegal_name = \"Example Ltd\"\n{body}"
    );
    match covenant_policy::parse(&text, Format::Toml) {
        Ok(p) => p,
        Err(d) => panic!("test policy does not parse: {d:?}\n{text}"),
    }
}

fn all_entries(r: &Ropa) -> Vec<&ActivityEntry> {
    r.all_activities()
}

fn entry<'a>(r: &'a Ropa, id: &str) -> &'a ActivityEntry {
    match r.all_activities().into_iter().find(|a| a.id == id) {
        Some(a) => a,
        None => panic!("no activity `{id}` in the record"),
    }
}

// --- a tiny RFC 4180 reader, to check the writer independently ---

fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '"' => panic!("a quote inside an unquoted field: {field:?}"),
            ',' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            '\r' => panic!("a bare carriage return outside quotes"),
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(field.is_empty() && row.is_empty(), "the last record must end with a line break");
    rows
}

#[test]
fn the_csv_reader_reads_what_rfc_4180_allows() {
    let rows = read_csv("a,\"b,\"\"c\"\"\nd\",\r\n,x\r\n");
    assert_eq!(rows, vec![vec!["a", "b,\"c\"\nd", ""], vec!["", "x"]]);
}

// --- snapshots: the record is the product ---

#[test]
fn fixture_snapshots() {
    let p = fixture();
    insta::assert_snapshot!("ropa-json-fixture", ropa::json(&p));
    insta::assert_snapshot!("ropa-csv-fixture", ropa::csv(&p));
    insta::assert_snapshot!("ropa-html-fixture", ropa::html(&p).unwrap());
}

/// The example policies in `examples/<company>/policy.toml` at the repository root, sorted.
fn examples() -> Vec<(String, PathBuf)> {
    let dir = manifest_dir().join("../../examples");
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("policy.toml").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p.join("policy.toml")))
        .collect();
    found.sort();
    found
}

#[test]
fn example_snapshots() {
    for (company, path) in examples() {
        let p = match covenant_policy::load_file(&path) {
            Ok(p) => p,
            Err(e) => panic!("example `{company}` does not load:\n{e}"),
        };
        let json = ropa::json(&p);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["schema"], "covenant-ropa/1", "{company}");
        assert_eq!(read_csv(&ropa::csv(&p)).len(), p.activities.len() + 1, "{company}");
        insta::assert_snapshot!(format!("ropa-json-{company}"), json);
        insta::assert_snapshot!(format!("ropa-csv-{company}"), ropa::csv(&p));
        insta::assert_snapshot!(format!("ropa-html-{company}"), ropa::html(&p).unwrap());
    }
}

/// The acceptance of the RoPA issue: OKKI's record lists its three roles, Singapore storage and
/// its twelve data types (a)–(l) (promises K2, K3, K5).
#[test]
fn okki_record_has_three_roles_singapore_and_twelve_data_types() {
    let Some((_, path)) = examples().into_iter().find(|(c, _)| c == "okki") else { return };
    let p = covenant_policy::load_file(&path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&ropa::json(&p)).unwrap();
    for list in ["controller_activities", "joint_controller_activities", "processor_activities"] {
        assert!(!v[list].as_array().unwrap().is_empty(), "OKKI's record has no {list}");
    }
    let regions: Vec<&str> =
        v["storage"]["regions"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert!(regions.contains(&"SG"), "{regions:?}");
    let labels: Vec<&str> =
        v["data_categories"].as_array().unwrap().iter().filter_map(|c| c["label"].as_str()).collect();
    for l in ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)", "(j)", "(k)", "(l)"] {
        assert!(labels.contains(&l), "data type {l} missing from {labels:?}");
    }
}

// --- targeted checks ---

#[test]
fn csv_quoting_round_trips_commas_quotes_and_newlines() {
    let mut p = fixture();
    let tricky = "Bill customers, \"fairly\"\nthen stop; really";
    p.activities[1].purpose = tricky.to_owned();
    p.activities[1].name = "Bill, collect".to_owned();
    let text = ropa::csv(&p);
    let rows = read_csv(&text);
    // Records end with CRLF; the line break inside the quoted field stays as written.
    assert_eq!(text.matches("\r\n").count(), rows.len());
    assert_eq!(rows[0], ropa::CSV_COLUMNS);
    assert_eq!(rows.len(), p.activities.len() + 1);
    for row in &rows {
        assert_eq!(row.len(), ropa::CSV_COLUMNS.len(), "{row:?}");
    }
    let col = |name: &str| ropa::CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let billing = rows.iter().find(|r| r[col("id")] == "billing").unwrap();
    assert_eq!(billing[col("purpose")], tricky);
    assert_eq!(billing[col("name")], "Bill, collect");
    assert_eq!(billing[col("role")], "controller");
    // Multi-valued cells are joined with "; ".
    assert_eq!(billing[col("data_categories")], "(a) Account data; (d) Billing data");
}

#[test]
fn csv_has_one_row_per_activity_of_every_role_in_policy_order() {
    let p = fixture();
    let rows = read_csv(&ropa::csv(&p));
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let expect: Vec<&str> = p.activities.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, expect);
    let roles: Vec<&str> = rows[1..].iter().map(|r| r[3].as_str()).collect();
    for role in ["controller", "processor", "joint controller"] {
        assert!(roles.contains(&role), "{roles:?}");
    }
}

/// Promise K3: controller, processor and joint-controller activities, each filed once.
#[test]
fn json_parses_and_files_each_role_once() {
    let p = fixture();
    let v: serde_json::Value = serde_json::from_str(&ropa::json(&p)).unwrap();
    assert_eq!(v["schema"], "covenant-ropa/1");
    let roles = |list: &serde_json::Value| -> Vec<String> {
        list.as_array().unwrap().iter().map(|a| a["role"].as_str().unwrap().to_owned()).collect()
    };
    let controller = roles(&v["controller_activities"]);
    let joint = roles(&v["joint_controller_activities"]);
    assert!(!controller.is_empty() && controller.iter().all(|r| r == "controller"), "{controller:?}");
    assert!(!joint.is_empty() && joint.iter().all(|r| r == "joint_controller"), "{joint:?}");
    let groups = v["processor_activities"].as_array().unwrap();
    let served: Vec<&str> = groups.iter().map(|g| g["controller"].as_str().unwrap()).collect();
    assert_eq!(served, ["the customer (the respondent's employer)", "Nordic Workplace Index ry"]);
    let mut processor = 0;
    for g in groups {
        let r = roles(&g["activities"]);
        assert!(r.iter().all(|r| r == "processor"), "{r:?}");
        processor += r.len();
    }
    assert_eq!(controller.len() + joint.len() + processor, p.activities.len());
    for key in ["controller", "storage", "data_categories", "retention", "legal_holds", "recipients", "transfers"] {
        assert!(!v[key].is_null(), "missing section {key}");
    }
    // Every declared category, prohibited ones included, with its label.
    let labels: Vec<&str> =
        v["data_categories"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["(a)", "(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(h)", "(i)", "(j)"]);
}

#[test]
fn joint_activity_carries_its_partner_and_agreement() {
    let r = ropa::build(&fixture());
    let [webinars] = r.joint_controller_activities.as_slice() else { panic!("one joint activity expected") };
    assert_eq!(webinars.role, Role::JointController);
    assert_eq!(webinars.joint_controller.as_deref(), Some("Brightwell Events Ltd"));
    assert!(webinars.agreement.as_deref().unwrap().starts_with("Joint-controller arrangement of 2024-09-01"));
    let rows = read_csv(&ropa::csv(&fixture()));
    let row = rows.iter().find(|row| row[0] == "webinars").unwrap();
    assert_eq!(row[5], "Brightwell Events Ltd");
    assert_eq!(&row[6], webinars.agreement.as_ref().unwrap());
    let html = ropa::html(&fixture()).unwrap();
    assert!(html.contains("Arrangement (Art. 26)"));
}

/// Promise K7: a transfer outside the storage regions carries its safeguard.
#[test]
fn transfers_outside_storage_carry_their_safeguard() {
    let r = ropa::build(&fixture());
    let account = entry(&r, "account");
    let [t] = account.transfers.as_slice() else { panic!("{:?}", account.transfers) };
    assert_eq!(t.transfer.as_deref(), Some("helpdesk-us"));
    assert_eq!(t.destinations[0].code, "US");
    assert_eq!(t.recipients, ["Tallyhelp Inc."]);
    assert_eq!(t.safeguard.as_ref().unwrap().article, "GDPR Art. 46(2)(c)");
    // A transfer that names recipients but no activity carries the data of the activities that
    // disclose to them.
    let helpdesk = r.transfers.iter().find(|t| t.id == "helpdesk-us").unwrap();
    assert!(helpdesk.activities.is_empty());
    assert_eq!(helpdesk.applies_to, ["account", "survey-support"]);
    // Hosting in Finland and Germany lies within the EU storage region: no transfer.
    assert!(entry(&r, "security").transfers.is_empty());
    // The processor group of the customer carries the helpdesk transfer of its support activity.
    let customer = &r.processor_activities[0];
    assert_eq!(customer.transfers.len(), 1);
    assert_eq!(customer.transfers[0].transfer.as_deref(), Some("helpdesk-us"));
}

/// A transfer as the checks below see it: origin, destination codes, safeguard.
type Seen = (TransferOrigin, String, Option<String>);

/// What transfers an activity with one recipient gets.
fn transfers_of(storage: &str, locations: &str, transfers: &str) -> Vec<Seen> {
    let p = policy(&format!(
        "[[activities]]\nid = \"a\"\nname = \"A\"\npurpose = \"P\"\nrole = \"controller\"\nrecipients = [\"r\"]\n\
         [[activities]]\nid = \"b\"\nname = \"B\"\npurpose = \"P\"\nrole = \"controller\"\n\
         [[recipients]]\nid = \"r\"\nname = \"R\"\nkind = \"sub_processor\"\nlocations = {locations}\n\
         [storage]\nregions = {storage}\n{transfers}"
    ));
    let r = ropa::build(&p);
    entry(&r, "a")
        .transfers
        .iter()
        .map(|t| {
            let dests: Vec<&str> = t.destinations.iter().map(|d| d.code.as_str()).collect();
            (t.origin, dests.join(","), t.safeguard.as_ref().map(|s| format!("{:?}", s.safeguard)))
        })
        .collect()
}

#[test]
fn transfers_are_found_from_declarations_and_recipient_locations() {
    use TransferOrigin::{DeclaredTransfer as Declared, RecipientLocation as Found};
    let scc = Some("StandardContractualClauses".to_owned());
    let t = |s: &str| format!("[[transfers]]\nid = \"t\"\n{s}");
    let cases: Vec<(&str, &str, String, Vec<Seen>)> = vec![
        // Inside storage: nothing to record.
        ("[\"EU\"]", "[\"DE\"]", String::new(), vec![]),
        // Outside storage, undeclared: recorded, with no safeguard.
        ("[\"EU\"]", "[\"US\"]", String::new(), vec![(Found, "US".into(), None)]),
        ("[\"EU\"]", "[\"DE\", \"US\", \"IN\"]", String::new(), vec![(Found, "US,IN".into(), None)]),
        // Declared for the recipient: the declaration, with its safeguard, covers it.
        (
            "[\"EU\"]",
            "[\"US\"]",
            t("destinations = [\"US\"]\nrecipients = [\"r\"]\nsafeguard = \"standard_contractual_clauses\""),
            vec![(Declared, "US".into(), scc.clone())],
        ),
        // Declared for all activities and recipients, to the whole world.
        (
            "[\"SG\"]",
            "[\"US\"]",
            t("destinations = [\"WORLD\"]\nsafeguard = \"binding_corporate_rules\""),
            vec![(Declared, "WORLD".into(), Some("BindingCorporateRules".into()))],
        ),
        // Declared for another activity: does not cover this one.
        (
            "[\"EU\"]",
            "[\"US\"]",
            t("destinations = [\"US\"]\nactivities = [\"b\"]\nsafeguard = \"standard_contractual_clauses\""),
            vec![(Found, "US".into(), None)],
        ),
        // Declared for a destination that is not the recipient's: the gap stays visible.
        (
            "[\"EU\"]",
            "[\"US\"]",
            t("destinations = [\"GB\"]\nactivities = [\"a\"]\nsafeguard = \"adequacy\""),
            vec![(Declared, "GB".into(), Some("Adequacy".into())), (Found, "US".into(), None)],
        ),
        // Declared without a safeguard: listed, with none.
        ("[\"EU\"]", "[\"US\"]", t("destinations = [\"US\"]"), vec![(Declared, "US".into(), None)]),
    ];
    for (storage, locations, transfers, expect) in cases {
        assert_eq!(transfers_of(storage, locations, &transfers), expect, "{storage} {locations} {transfers}");
    }
}

#[test]
fn html_escapes_policy_text() {
    let mut p = fixture();
    p.activities[0].name = "<script>alert(1)</script>".to_owned();
    p.activities[0].purpose = "Tom & Jerry's \"plan\" <b>".to_owned();
    p.controller.legal_name = "Evil <img src=x onerror=alert(1)> Oy".to_owned();
    let html = ropa::html(&p).unwrap();
    assert!(!html.contains("<script"), "a script tag got through");
    assert!(!html.contains("<img"), "an img tag got through");
    assert!(!html.contains("<b>"), "a b tag got through");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
}

#[test]
fn html_is_a_standalone_page() {
    let html = ropa::html(&fixture()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in ["<script", "<link", " src=", "@import", "url("] {
        assert!(!html.contains(external), "the page must not load `{external}`");
    }
    // One section for Art. 30(1) and one per controller served under Art. 30(2).
    assert_eq!(html.matches("<section class=\"controller-served\">").count(), 2);
    assert!(html.contains("Controller served: the customer (the respondent&#39;s employer)"));
    assert!(html.contains("Controller served: Nordic Workplace Index ry"));
}

/// Promises K5 and W10: erasure time limits, with every clock of a "longest of" rule and the
/// legal holds that may keep data longer, with their basis.
#[test]
fn activities_carry_their_erasure_time_limits_and_legal_holds() {
    let r = ropa::build(&fixture());
    let billing = entry(&r, "billing");
    let rules: Vec<&str> = billing.retention.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(rules, ["account-data", "billing-data"]);
    assert_eq!(
        billing.retention[0].summary,
        "the longest of 90 days after account closure (restore window) and 1 year after the contract ends \
         (questions about the last invoice period), then delete (isolate if not possible)"
    );
    assert!(billing.retention[0].longest_of);
    assert_eq!(billing.retention[0].clocks.len(), 2);
    let [hold] = billing.legal_holds.as_slice() else { panic!("{:?}", billing.legal_holds) };
    assert_eq!(hold.id, "bookkeeping");
    assert_eq!(hold.summary, "7 years after collection");
    assert!(hold.basis.contains("Accounting Act"));

    let surveys = entry(&r, "surveys");
    assert_eq!(
        surveys.retention[0].summary,
        "as set by the controller, at most 30 days after the contract ends, then offer the controller an export, \
         then delete (isolate if not possible)"
    );
    // Security: the general measures, then those of the activity's own categories.
    assert_eq!(surveys.security_measures.len(), r.security_measures.len() + 2);
    assert_eq!(surveys.specific_security_measures[1], "(f) Wellbeing answers: encrypted at rest and in transit");
}

#[test]
fn activities_resolve_their_references() {
    let r = ropa::build(&fixture());
    let newsletter = entry(&r, "newsletter");
    assert_eq!(newsletter.consent_purpose.as_ref().unwrap().name, "Kestrel newsletter");
    assert_eq!(newsletter.legal_bases[0].article, "GDPR Art. 6(1)(a)");
    let subjects: Vec<&str> = newsletter.subject_types.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(subjects, ["Customer users", "Webinar attendees"]);
    // A recipient that names the activity on its own side is a recipient of it too.
    let webinars = entry(&r, "webinars");
    let names: Vec<&str> = webinars.recipients.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["Northbank Cloud Oy", "Brightwell Events Ltd"]);
    let surveys = entry(&r, "surveys");
    let special: Vec<bool> = surveys.data_categories.iter().map(|c| c.special).collect();
    assert_eq!(special, [false, true]);
    assert_eq!(all_entries(&r).len(), 9);
}

#[test]
fn a_recipient_bound_to_no_activity_may_receive_the_data_of_every_activity() {
    let p = policy(
        "[[activities]]\nid = \"a\"\nname = \"A\"\npurpose = \"P\"\nrole = \"controller\"\nrecipients = [\"named\"]\n\
         [[activities]]\nid = \"b\"\nname = \"B\"\npurpose = \"P\"\nrole = \"processor\"\n\
         [[recipients]]\nid = \"named\"\nname = \"Named\"\nkind = \"sub_processor\"\n\
         [[recipients]]\nid = \"binding\"\nname = \"Binding\"\nkind = \"partner\"\nactivities = [\"b\"]\n\
         [[recipients]]\nid = \"courts\"\nname = \"Courts\"\nkind = \"authority\"\ncondition = \"when compelled\"\n",
    );
    let r = ropa::build(&p);
    let of = |id: &str| -> Vec<(String, bool)> {
        entry(&r, id).recipients.iter().map(|x| (x.id.clone(), x.for_any_activity)).collect()
    };
    assert_eq!(of("a"), [("named".to_owned(), false), ("courts".to_owned(), true)]);
    assert_eq!(of("b"), [("binding".to_owned(), false), ("courts".to_owned(), true)]);
    let courts = r.recipients.iter().find(|x| x.id == "courts").unwrap();
    assert_eq!(courts.activities, ["a", "b"]);
    let html = ropa::html(&p).unwrap();
    assert!(html.contains("And, as for every activity, under the conditions of section 9: Courts."), "{html}");
}

#[test]
fn a_parent_key_lists_the_declared_categories_below_it_but_never_prohibited_ones() {
    let check = |categories: &str, expect: &[&str]| {
        let p = policy(&format!(
            "[[categories]]\nid = \"user.contact.email\"\nname = \"Email\"\nlabel = \"(a)\"\n\
             [[categories]]\nid = \"user.contact.phone_number\"\nname = \"Phone\"\nlabel = \"(b)\"\n\
             [[categories]]\nid = \"user.contact.fax_number\"\nname = \"Fax\"\nprohibited = true\n\
             [[categories]]\nid = \"user.device\"\nname = \"Device\"\nlabel = \"(c)\"\n\
             [[activities]]\nid = \"a\"\nname = \"A\"\npurpose = \"P\"\nrole = \"controller\"\ncategories = {categories}\n"
        ));
        let r = ropa::build(&p);
        let got: Vec<String> = entry(&r, "a").data_categories.iter().map(|c| c.text()).collect();
        assert_eq!(got, expect, "{categories}");
    };
    check("[\"user.contact\"]", &["(a) Email", "(b) Phone"]);
    check("[\"user.device\", \"user.contact.email\"]", &["(c) Device", "(a) Email"]);
    check("[\"user.contact.email\", \"user.contact\"]", &["(a) Email", "(b) Phone"]);
    check("[\"user.location\"]", &["user.location"]);
}

#[test]
fn a_policy_with_no_activities_still_renders_every_format() {
    let p = policy("");
    let r = ropa::build(&p);
    assert!(r.controller_activities.is_empty() && r.processor_activities.is_empty());
    assert_eq!(read_csv(&ropa::csv(&p)), vec![ropa::CSV_COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()]);
    let v: serde_json::Value = serde_json::from_str(&ropa::json(&p)).unwrap();
    assert_eq!(v["storage"]["regions"], serde_json::json!([]));
    let html = ropa::html(&p).unwrap();
    assert!(html.contains("No activity is carried out as processor."));
}
