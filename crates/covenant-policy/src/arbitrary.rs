//! Property tests over the whole policy model: proptest strategies for every struct and enum of
//! `model.rs`, and the properties the file format must keep:
//!
//! - any policy value written back out as TOML (or YAML) and parsed again is equal to itself;
//! - `parse` never panics, on any text and on mutated valid policies: it returns a policy, or at
//!   least one diagnostic, and the diagnostics can be located and printed.
//!
//! Collections hold 0 to 2 items and strings are short, but strings may hold any character:
//! quotes, backslashes, newlines, control characters, YAML's special line breaks, emoji, and
//! words YAML would otherwise read as booleans or numbers.

use covenant_core::{Art9Condition, CategoryKey, Jurisdiction, LegalBasis, Period, Region, RetentionTrigger, Right};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

use crate::diagnostic::SourceFile;
use crate::load::Format;
use crate::model::*;

/// Every variant of a model enum, picked uniformly. The exhaustive match makes a new variant a
/// compile error here until it is listed.
macro_rules! one_of {
    ($t:ident { $($v:ident),+ $(,)? }) => {{
        fn _exhaustive(x: $t) {
            match x {
                $($t::$v)|+ => {}
            }
        }
        proptest::sample::select(vec![$($t::$v),+])
    }};
}

/// A list of 0 to 2 items.
fn list<S: Strategy>(s: S) -> impl Strategy<Value = Vec<S::Value>> {
    vec(s, 0..3)
}

/// Characters that are special to TOML, YAML, JSON or Unicode line handling.
const SPECIAL: &[char] = &[
    '"', '\'', '\\', '\n', '\r', '\t', '#', ':', '-', '?', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '%', '@',
    '`', '=', '.', ' ', 'é', 'ß', '中', '😀', '\u{0}', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}',
    '\u{2029}', '\u{feff}', '\u{fffd}',
];

/// Whole strings a YAML reader could take for something else, or that TOML strings make awkward.
const TRICKY: &[&str] = &[
    "",
    " ",
    "true",
    "no",
    "Yes",
    "off",
    "null",
    "~",
    "1",
    "-1",
    "0x1f",
    "1e3",
    "1.0",
    ".inf",
    ".nan",
    "2026-01-01",
    "12:30",
    "- item",
    "? key",
    "key: value",
    "#comment",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">",
    "---",
    "...",
    "'''",
    "\"\"\"",
    "a\\",
    " padded ",
    "\nstarts with a newline",
    "ends with a newline\n",
    "two\n\nparagraphs",
    "crlf\r\nline",
    "trailing spaces  \nnext",
    "tab\there",
];

/// A short string of any characters, biased towards the troublesome ones.
fn text() -> BoxedStrategy<String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        3 => proptest::sample::select(SPECIAL),
        1 => any::<char>(),
    ];
    prop_oneof![
        4 => vec(ch, 0..12).prop_map(|cs| cs.into_iter().collect::<String>()),
        1 => proptest::sample::select(TRICKY).prop_map(str::to_owned),
    ]
    .boxed()
}

prop_compose! {
    fn policy_meta()(
        title in text(),
        version in text(),
        effective in text(),
        language in of(text()),
        url in of(text()),
        summary in of(text()),
    ) -> PolicyMeta {
        PolicyMeta { title, version, effective, language, url, summary }
    }
}

fn contact_kind() -> impl Strategy<Value = ContactKind> {
    one_of!(ContactKind { Email, WebForm, SupportChat, InApp, Phone, Postal, Website })
}

prop_compose! {
    fn contact()(kind in contact_kind(), value in text(), label in of(text())) -> Contact {
        Contact { kind, value, label }
    }
}

prop_compose! {
    fn party()(name in text(), email in of(text()), address in of(text())) -> Party {
        Party { name, email, address }
    }
}

prop_compose! {
    fn controller()(
        legal_name in text(),
        trading_name in of(text()),
        registration_number in of(text()),
        registry in of(text()),
        registered_office in of(text()),
        country in of(any::<Region>()),
        website in of(text()),
        contacts in list(contact()),
        dpo in of(party()),
        representative in of(party()),
        supervisory_authority in of(party()),
    ) -> Controller {
        Controller {
            legal_name,
            trading_name,
            registration_number,
            registry,
            registered_office,
            country,
            website,
            contacts,
            dpo,
            representative,
            supervisory_authority,
        }
    }
}

prop_compose! {
    fn product()(id in text(), name in text(), description in of(text())) -> Product {
        Product { id, name, description }
    }
}

prop_compose! {
    fn subject_type()(id in text(), name in text(), description in of(text())) -> SubjectType {
        SubjectType { id, name, description }
    }
}

fn storage_limit() -> impl Strategy<Value = StorageLimit> {
    one_of!(StorageLimit { LastFour, TruncatedNetwork, HashOnly, NeverStored })
}

prop_compose! {
    fn category()(
        id in any::<CategoryKey>(),
        name in text(),
        description in of(text()),
        label in of(text()),
        examples in list(text()),
        special in any::<bool>(),
        optional in any::<bool>(),
        prohibited in any::<bool>(),
        storage_limit in of(storage_limit()),
        encrypted_at_rest in any::<bool>(),
        encrypted_in_transit in any::<bool>(),
    ) -> Category {
        Category {
            id,
            name,
            description,
            label,
            examples,
            special,
            optional,
            prohibited,
            storage_limit,
            encrypted_at_rest,
            encrypted_in_transit,
        }
    }
}

fn role() -> impl Strategy<Value = Role> {
    one_of!(Role { Controller, Processor, JointController })
}

fn source() -> impl Strategy<Value = Source> {
    one_of!(Source { Subject, Automatic, Customer, ThirdParty, Public })
}

prop_compose! {
    fn activity()(
        (id, name, purpose, data_use, label, role, controller, joint_with, agreement, products) in (
            text(), text(), text(), of(text()), of(text()), role(), of(text()), of(text()), of(text()), list(text()),
        ),
        (subject_types, categories, legal_bases, basis_note, legitimate_interest, special_condition) in (
            list(text()),
            list(any::<CategoryKey>()),
            list(any::<LegalBasis>()),
            of(text()),
            of(text()),
            of(any::<Art9Condition>()),
        ),
        (consent_purpose, direct_marketing, sources, source_detail, recipients, automated_decisions) in (
            of(text()), any::<bool>(), list(source()), of(text()), list(text()), of(text()),
        ),
        (requests, interpretation) in (of(request_handling()), of(text())),
    ) -> Activity {
        Activity {
            id,
            name,
            purpose,
            data_use,
            label,
            role,
            controller,
            joint_with,
            agreement,
            products,
            subject_types,
            categories,
            legal_bases,
            basis_note,
            legitimate_interest,
            special_condition,
            consent_purpose,
            direct_marketing,
            sources,
            source_detail,
            recipients,
            automated_decisions,
            requests,
            interpretation,
        }
    }
}

fn request_handling() -> impl Strategy<Value = RequestHandling> {
    one_of!(RequestHandling { Handle, HandleAndInformController, ReferToController })
}

fn recipient_kind() -> impl Strategy<Value = RecipientKind> {
    one_of!(RecipientKind {
        SubProcessor,
        Affiliate,
        Partner,
        Authority,
        Adviser,
        Acquirer,
        Integration,
        Complainant,
        OtherUsers,
    })
}

prop_compose! {
    fn recipient()(
        id in text(),
        name in text(),
        kind in recipient_kind(),
        purpose in of(text()),
        activities in list(text()),
        locations in list(any::<Region>()),
        condition in of(text()),
        opt_out in any::<bool>(),
        sale in any::<bool>(),
        trains_models in any::<bool>(),
    ) -> Recipient {
        Recipient { id, name, kind, purpose, activities, locations, condition, opt_out, sale, trains_models }
    }
}

prop_compose! {
    fn storage()(regions in list(any::<Region>()), description in of(text())) -> Storage {
        Storage { regions, description }
    }
}

fn safeguard() -> impl Strategy<Value = Safeguard> {
    one_of!(Safeguard {
        Adequacy,
        StandardContractualClauses,
        BindingCorporateRules,
        ExplicitConsent,
        ContractNecessity
    })
}

prop_compose! {
    fn transfer()(
        id in text(),
        destinations in list(any::<Region>()),
        activities in list(text()),
        recipients in list(text()),
        safeguard in of(safeguard()),
        description in of(text()),
        interpretation in of(text()),
    ) -> Transfer {
        Transfer { id, destinations, activities, recipients, safeguard, description, interpretation }
    }
}

fn consent_kind() -> impl Strategy<Value = ConsentKind> {
    one_of!(ConsentKind { Marketing, AiSharing, Testimonial, StoredPayment, Cookies, SaleSharing, TargetedAds, Other })
}

fn consent_model() -> impl Strategy<Value = ConsentModel> {
    one_of!(ConsentModel { OptIn, OptOut })
}

prop_compose! {
    fn consent_purpose()(
        id in text(),
        name in text(),
        description in text(),
        kind in consent_kind(),
        model in consent_model(),
        separate in any::<bool>(),
        recipients in list(text()),
        categories in list(any::<CategoryKey>()),
        expires_after in of(any::<Period>()),
        approval_required in any::<bool>(),
    ) -> ConsentPurpose {
        ConsentPurpose {
            id,
            name,
            description,
            kind,
            model,
            separate,
            recipients,
            categories,
            expires_after,
            approval_required,
        }
    }
}

fn medium() -> impl Strategy<Value = Medium> {
    one_of!(Medium { Email, Push, Sms, InApp, Phone, Post })
}

prop_compose! {
    fn channel()(
        id in text(),
        name in text(),
        medium in medium(),
        transactional in any::<bool>(),
        consent_purpose in of(text()),
        one_time in any::<bool>(),
        description in of(text()),
    ) -> Channel {
        Channel { id, name, medium, transactional, consent_purpose, one_time, description }
    }
}

fn verification() -> impl Strategy<Value = Verification> {
    one_of!(Verification { Required, WhenNeeded, None })
}

prop_compose! {
    fn deadline()(
        jurisdiction in any::<Jurisdiction>(),
        respond_within in any::<Period>(),
        extension in of(any::<Period>()),
        extension_notice_within in of(any::<Period>()),
        acknowledge_within in of(any::<Period>()),
    ) -> Deadline {
        Deadline { jurisdiction, respond_within, extension, extension_notice_within, acknowledge_within }
    }
}

prop_compose! {
    fn rights()(
        offered in list(any::<Right>()),
        everyone in any::<bool>(),
        intake in list(contact()),
        verification in verification(),
        approval in any::<bool>(),
        self_service in list(text()),
        promise in of(any::<Period>()),
        deadlines in list(deadline()),
        interpretation in of(text()),
    ) -> Rights {
        Rights { offered, everyone, intake, verification, approval, self_service, promise, deadlines, interpretation }
    }
}

fn retention_action() -> impl Strategy<Value = RetentionAction> {
    one_of!(RetentionAction { Delete, Anonymise, Isolate })
}

prop_compose! {
    fn clock()(trigger in any::<RetentionTrigger>(), period in any::<Period>(), reason in of(text())) -> Clock {
        Clock { trigger, period, reason }
    }
}

prop_compose! {
    fn retention_rule()(
        (id, name, description, categories, activities, trigger, period) in (
            text(),
            text(),
            of(text()),
            list(any::<CategoryKey>()),
            list(text()),
            of(any::<RetentionTrigger>()),
            of(any::<Period>()),
        ),
        (longest_of, controller_defined, export_before, action, fallback, legal_holds, interpretation) in (
            list(clock()),
            any::<bool>(),
            any::<bool>(),
            retention_action(),
            of(retention_action()),
            list(text()),
            of(text()),
        ),
    ) -> RetentionRule {
        RetentionRule {
            id,
            name,
            description,
            categories,
            activities,
            trigger,
            period,
            longest_of,
            controller_defined,
            export_before,
            action,
            fallback,
            legal_holds,
            interpretation,
        }
    }
}

prop_compose! {
    fn legal_hold()(
        id in text(),
        name in text(),
        basis in text(),
        categories in list(any::<CategoryKey>()),
        activities in list(text()),
        trigger in any::<RetentionTrigger>(),
        period in any::<Period>(),
        interpretation in of(text()),
    ) -> LegalHold {
        LegalHold { id, name, basis, categories, activities, trigger, period, interpretation }
    }
}

prop_compose! {
    fn minimum_age()(jurisdiction in any::<Jurisdiction>(), age in any::<u8>()) -> MinimumAge {
        MinimumAge { jurisdiction, age }
    }
}

prop_compose! {
    fn commitments()(
        never_sell in any::<bool>(),
        notify_of_legal_orders in any::<bool>(),
        record_disclosures in any::<bool>(),
        screen_prohibited_content in any::<bool>(),
    ) -> Commitments {
        Commitments { never_sell, notify_of_legal_orders, record_disclosures, screen_prohibited_content }
    }
}

fn notice_channel() -> impl Strategy<Value = NoticeChannel> {
    one_of!(NoticeChannel { Email, InApp, Website, Push, Media })
}

prop_compose! {
    fn change_notice()(
        material_notice in of(any::<Period>()),
        channels in list(notice_channel()),
        prominent in any::<bool>(),
    ) -> ChangeNotice {
        ChangeNotice { material_notice, channels, prominent }
    }
}

prop_compose! {
    fn shutdown_notice()(
        notice in any::<Period>(),
        channels in list(notice_channel()),
        action in retention_action(),
    ) -> ShutdownNotice {
        ShutdownNotice { notice, channels, action }
    }
}

prop_compose! {
    fn breach_commitments()(
        authority_within in of(any::<Period>()),
        notify_subjects in any::<bool>(),
        subjects_within in of(any::<Period>()),
        public_notice_fallback in any::<bool>(),
        channels in list(notice_channel()),
        interpretation in of(text()),
    ) -> BreachCommitments {
        BreachCommitments {
            authority_within,
            notify_subjects,
            subjects_within,
            public_notice_fallback,
            channels,
            interpretation,
        }
    }
}

prop_compose! {
    fn ownership_change()(
        notify in any::<bool>(),
        channels in list(notice_channel()),
        successor_bound in any::<bool>(),
    ) -> OwnershipChange {
        OwnershipChange { notify, channels, successor_bound }
    }
}

prop_compose! {
    fn security()(measures in list(text())) -> Security {
        Security { measures }
    }
}

prop_compose! {
    fn cookies()(description in text(), consent_required in any::<bool>(), interpretation in of(text())) -> Cookies {
        Cookies { description, consent_required, interpretation }
    }
}

prop_compose! {
    /// A whole policy. `schema` is always the version this build reads: any other is refused
    /// before the rest is looked at.
    pub(crate) fn policy()(
        (policy, controller, products, subject_types, categories, activities, recipients, storage) in (
            policy_meta(),
            controller(),
            list(product()),
            list(subject_type()),
            list(category()),
            list(activity()),
            list(recipient()),
            of(storage()),
        ),
        (transfers, consent_purposes, channels, rights, retention, legal_holds, minimum_ages, commitments) in (
            list(transfer()),
            list(consent_purpose()),
            list(channel()),
            of(rights()),
            list(retention_rule()),
            list(legal_hold()),
            list(minimum_age()),
            commitments(),
        ),
        (changes, shutdown, breach, ownership_change, security, cookies) in (
            of(change_notice()),
            of(shutdown_notice()),
            of(breach_commitments()),
            of(ownership_change()),
            of(security()),
            of(cookies()),
        ),
    ) -> Policy {
        Policy {
            schema: SCHEMA_VERSION,
            policy,
            controller,
            products,
            subject_types,
            categories,
            activities,
            recipients,
            storage,
            transfers,
            consent_purposes,
            channels,
            rights,
            retention,
            legal_holds,
            minimum_ages,
            commitments,
            changes,
            shutdown,
            breach,
            ownership_change,
            security,
            cookies,
        }
    }
}

/// One edit to a valid document, to make it (most likely) invalid in an interesting way.
/// Positions count characters (or lines) and wrap around the document's length.
#[derive(Clone, Debug)]
enum Edit {
    /// Delete up to `len` characters at a position.
    Delete(usize, usize),
    /// Insert text at a position.
    Insert(usize, String),
    /// Repeat a line.
    DuplicateLine(usize),
    /// Swap two lines.
    SwapLines(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let junk = prop_oneof![text(), "[\\[\\]{}=:,.\"'#\\- \n|>&*!a-z0-9]{1,6}"];
    prop_oneof![
        (any::<usize>(), 1..12usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), junk).prop_map(|(i, s)| Edit::Insert(i, s)),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
    ]
}

fn apply(text: &str, edit: &Edit) -> String {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    match edit {
        Edit::Delete(at, len) => {
            let start = at % bounds.len();
            let end = bounds[(start + len).min(bounds.len() - 1)];
            format!("{}{}", &text[..bounds[start]], &text[end..])
        }
        Edit::Insert(at, s) => {
            let at = bounds[at % bounds.len()];
            format!("{}{s}{}", &text[..at], &text[at..])
        }
        Edit::DuplicateLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            lines.insert(i, lines[i]);
            lines.concat()
        }
        Edit::SwapLines(a, b) if !lines.is_empty() => {
            let (a, b) = (a % lines.len(), b % lines.len());
            lines.swap(a, b);
            lines.concat()
        }
        Edit::DuplicateLine(_) | Edit::SwapLines(..) => text.to_owned(),
    }
}

/// `parse` returns a policy or at least one diagnostic, and the whole check (parse, lints,
/// locating) yields diagnostics whose spans lie within the text and that can be printed.
fn parses_or_explains(text: &str, format: Format) -> Result<(), TestCaseError> {
    if let Err(diagnostics) = crate::parse(text, format) {
        prop_assert!(!diagnostics.is_empty(), "a failed parse must say why");
    }
    let checked = crate::check_source(SourceFile::new("policy", text), format);
    for d in &checked.diagnostics {
        if let Some(span) = &d.span {
            prop_assert!(span.start <= span.end && span.end <= text.len(), "span {span:?} outside the text: {d:?}");
        }
    }
    prop_assert!(checked.render().len() >= checked.diagnostics.len());
    Ok(())
}

fn format() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::Toml), Just(Format::Yaml)]
}

// The number of cases is proptest's default (256), or `PROPTEST_CASES` from the environment.
proptest! {
    #[test]
    fn policy_roundtrips_through_toml(policy in policy()) {
        let text = match toml::to_string(&policy) {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("cannot write the policy as TOML: {e}"))),
        };
        match crate::parse(&text, Format::Toml) {
            Ok(back) => prop_assert_eq!(back, policy, "TOML text:\n{}", text),
            Err(d) => prop_assert!(false, "the written TOML does not parse back: {:?}\n{}", d, text),
        }
    }

    #[test]
    fn policy_roundtrips_through_yaml(policy in policy()) {
        let text = match serde_saphyr::to_string(&policy) {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("cannot write the policy as YAML: {e}"))),
        };
        match crate::parse(&text, Format::Yaml) {
            Ok(back) => prop_assert_eq!(back, policy, "YAML text:\n{}", text),
            Err(d) => prop_assert!(false, "the written YAML does not parse back: {:?}\n{}", d, text),
        }
    }

    #[test]
    fn parse_never_panics_on_any_text(text in any::<String>(), format in format()) {
        parses_or_explains(&text, format)?;
    }

    #[test]
    fn parse_never_panics_on_policy_like_text(
        text in "(schema = 1\n)?(\\[\\[?[a-z_.]{1,12}\\]\\]?\n|[a-z_]{1,10} ?[=:] ?(\"[^\"\n]{0,8}\"|[0-9]{1,3}|\\[[^\n]{0,10}\\]|\\{[^\n]{0,10}\\}|true|-)?\n|  - [a-z]{0,5}\n){0,12}",
        format in format(),
    ) {
        parses_or_explains(&text, format)?;
    }

    #[test]
    fn parse_never_panics_on_mutated_policies(policy in policy(), edits in vec(edit(), 1..4), format in format()) {
        let written = match format {
            Format::Toml => toml::to_string(&policy).map_err(|e| e.to_string()),
            Format::Yaml => serde_saphyr::to_string(&policy).map_err(|e| e.to_string()),
        };
        let mut text = match written {
            Ok(t) => t,
            Err(e) => return Err(TestCaseError::fail(format!("cannot write the policy: {e}"))),
        };
        for e in &edits {
            text = apply(&text, e);
        }
        parses_or_explains(&text, format)?;
    }
}

#[test]
fn edits_stay_on_character_boundaries() {
    let text = "é = 1\n中 = 2\n";
    assert_eq!(apply(text, &Edit::Delete(0, 1)), " = 1\n中 = 2\n");
    assert_eq!(apply(text, &Edit::Delete(6, 100)), "é = 1\n");
    assert_eq!(apply(text, &Edit::Insert(13, "x".into())), "xé = 1\n中 = 2\n"); // 13 wraps to 0
    assert_eq!(apply(text, &Edit::Insert(12, "x".into())), "é = 1\n中 = 2\nx");
    assert_eq!(apply(text, &Edit::DuplicateLine(1)), "é = 1\n中 = 2\n中 = 2\n");
    assert_eq!(apply(text, &Edit::SwapLines(0, 3)), "中 = 2\né = 1\n");
    assert_eq!(apply("", &Edit::Delete(5, 3)), "");
    assert_eq!(apply("", &Edit::DuplicateLine(2)), "");
}
