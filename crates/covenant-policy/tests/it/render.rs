// tests for render

/// The public privacy notice (GDPR Art. 13/14).
#[allow(clippy::unwrap_used)] // tests may unwrap
mod notice {
    use std::path::{Path, PathBuf};

    use covenant_policy::{Format, Policy, load_file, notice, parse};

    fn fixture_path() -> PathBuf {
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
            .join("tests/fixtures/notice.toml")
    }

    fn fixture() -> Policy {
        load_file(&fixture_path()).unwrap()
    }

    const MINIMAL: &str = r#"
schema = 1
[policy]
title = "Example Privacy Notice"
version = "1"
effective = "2026-01-01"
[controller]
legal_name = "Example Ltd"
"#;

    /// A minimal policy with `extra` TOML appended.
    fn policy(extra: &str) -> Policy {
        parse(&format!("{MINIMAL}{extra}"), Format::Toml).unwrap()
    }

    /// The Markdown section that starts with a heading containing `heading`, up to the next
    /// heading of the same or a higher level.
    fn section<'a>(md: &'a str, heading: &str) -> &'a str {
        let start = md
            .match_indices('#')
            .map(|(i, _)| i)
            .find(|&i| (i == 0 || md.as_bytes()[i - 1] == b'\n') && md[i..].lines().next().unwrap().contains(heading))
            .unwrap_or_else(|| panic!("no heading containing {heading:?} in:\n{md}"));
        let level = md[start..].chars().take_while(|c| *c == '#').count();
        let rest = &md[start..];
        let body_start = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let end = rest[body_start..]
            .match_indices('\n')
            .map(|(i, _)| body_start + i + 1)
            .find(|&i| {
                let hashes = rest[i..].chars().take_while(|c| *c == '#').count();
                hashes > 0 && hashes <= level && rest[i..].chars().nth(hashes) == Some(' ')
            })
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// Words holding a `_` between two letters or digits (snake_case ids), outside URLs and email
    /// addresses; an escaped `\_` counts too.
    fn snake_case_words(md: &str) -> Vec<String> {
        md.split_whitespace()
            .filter(|w| !w.contains("://") && !w.contains('@'))
            .filter(|w| {
                let chars: Vec<char> = w.chars().filter(|c| *c != '\\').collect();
                chars.windows(3).any(|x| x[1] == '_' && x[0].is_alphanumeric() && x[2].is_alphanumeric())
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn fixture_notice_markdown() {
        insta::assert_snapshot!("notice-md-fixture", notice::markdown(&fixture()));
    }

    #[test]
    fn fixture_notice_html() {
        insta::assert_snapshot!("notice-html-fixture", notice::html(&fixture()).unwrap());
    }

    /// Every example policy in the repository renders in both formats; the snapshots are named
    /// after the company's directory (`notice-md-okki`).
    #[test]
    fn example_notices() {
        let root =
            Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()))
                .join("../../examples");
        let Ok(entries) = std::fs::read_dir(&root) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for dir in dirs {
            let path = dir.join("policy.toml");
            if !path.is_file() {
                continue;
            }
            let company = dir.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let policy = parse(&text, Format::Toml).unwrap_or_else(|d| panic!("{}: {d:#?}", path.display()));
            let md = notice::markdown(&policy);
            assert!(snake_case_words(&md).is_empty(), "{company}: {:?}", snake_case_words(&md));
            insta::assert_snapshot!(format!("notice-md-{company}"), md);
            insta::assert_snapshot!(format!("notice-html-{company}"), notice::html(&policy).unwrap());
        }
    }

    #[test]
    fn no_ids_or_wire_names_leak_into_the_text() {
        let md = notice::markdown(&fixture());
        assert_eq!(snake_case_words(&md), Vec::<String>::new());
        for leak in ["None", "Some(", "{", "}"] {
            assert!(!md.contains(leak), "{leak:?} leaked into the notice");
        }
        // Category keys (`user.contact.email`) appear nowhere outside addresses.
        let keys: Vec<&str> = md
            .split_whitespace()
            .filter(|w| !w.contains("://") && !w.contains('@'))
            .filter(|w| w.contains("user.") || w.contains("larkspur."))
            .collect();
        assert_eq!(keys, Vec::<&str>::new());
        assert!(!md.contains("\n- \n") && !md.contains("\n-  "), "empty bullet");
        assert!(!md.contains(" ."), "space before a full stop");
        assert!(!md.contains(".."), "double full stop");
        assert!(!md.contains(" ,"), "space before a comma");
        assert!(!md.contains("  "), "double space");
    }

    #[test]
    fn rendering_is_deterministic() {
        let p = fixture();
        assert_eq!(notice::markdown(&p), notice::markdown(&p));
        assert_eq!(notice::html(&p).unwrap(), notice::html(&p).unwrap());
    }

    // promise W2
    #[test]
    fn prohibited_categories_are_listed_under_what_not_to_send() {
        let md = notice::markdown(&fixture());
        let never = section(&md, "What you should never send us");
        for name in ["Government identifiers", "Full bank account numbers", "Medical records"] {
            assert!(never.contains(name), "{name} missing from:\n{never}");
        }
        assert!(never.contains("refuse or remove it"), "{never}");
        let collected = section(&md, "What information we collect");
        let before_never = &collected[..collected.find("What you should never send us").unwrap()];
        assert!(!before_never.contains("Medical records"), "a prohibited category is listed as collected");
    }

    // promise P2
    #[test]
    fn storage_limits_are_stated() {
        let md = notice::markdown(&fixture());
        let part = section(&md, "Information we keep only in part");
        assert!(part.contains("**Payment card details**: We keep only the last four digits"), "{part}");
        assert!(part.contains("**Full card number**: It passes through our systems"), "{part}");
    }

    // promise W8, Art. 7(3)
    #[test]
    fn consent_based_uses_say_how_to_withdraw() {
        let md = notice::markdown(&fixture());
        let consent = section(&md, "With your consent");
        assert!(consent.contains("Legal basis: consent (GDPR Art. 6(1)(a))"), "{consent}");
        let ai = consent.lines().find(|l| l.contains("**Suggest replies with AI**")).unwrap();
        assert!(ai.contains("only if you agree to “AI reply suggestions”"), "{ai}");
        assert!(ai.contains("withdraw your consent at any time"), "{ai}");
        let choices = section(&md, "Your choices");
        let ai = choices.lines().find(|l| l.contains("**AI reply suggestions**")).unwrap();
        assert!(ai.contains("on its own, never bundled"), "{ai}");
        assert!(ai.contains("goes to Aurora AI Services Inc., which does not use it to train its models."), "{ai}");
        assert!(choices.contains("withdrawing your consent is as easy as giving it"), "{choices}");
    }

    // promises T7, O3
    #[test]
    fn processor_activities_send_people_to_the_customer() {
        let md = notice::markdown(&fixture());
        let part = section(&md, "When we act for our customers");
        assert!(part.contains("the customer is the controller"), "{part}");
        assert!(part.contains("please contact that customer"), "{part}");
        assert!(part.contains("The controller is the organisation whose support inbox it is."), "{part}");
    }

    // promise K3
    #[test]
    fn joint_activities_name_the_partner_and_the_arrangement() {
        let md = notice::markdown(&fixture());
        let part = section(&md, "When we decide together with others");
        assert!(part.contains("jointly with the partner co-hosting the webinar"), "{part}");
        assert!(part.contains("Our arrangement: We handle registrations"), "{part}");
        assert!(part.contains("with your explicit consent"), "{part}");
    }

    // promises W10, K5, T4
    #[test]
    fn retention_is_in_plain_words_without_interpretations() {
        let md = notice::markdown(&fixture());
        let part = section(&md, "How long we keep it");
        assert!(part.contains("the longest of these periods: 3 months after the account is closed"), "{part}");
        assert!(part.contains("If deletion is technically impossible, we instead stop using it"), "{part}");
        assert!(part.contains("Our customer decides how long this data is kept"), "{part}");
        assert!(part.contains("we offer our customer an export of all of it"), "{part}");
        assert!(part.contains("We keep it for 7 days after identity verification is completed."), "{part}");
        assert!(part.contains("Legal basis: the Companies Act 2006"), "{part}");
        assert!(!md.contains("reasonable time") && !md.contains("Limitation Act"), "an interpretation leaked");
    }

    // promises W6, P6, K9
    #[test]
    fn rights_cover_everyone_self_service_and_deadlines() {
        let md = notice::markdown(&fixture());
        let part = section(&md, "Your rights");
        assert!(part.contains("wherever you live"), "{part}");
        assert!(part.contains("**Right to erasure**: You can ask us to delete"), "{part}");
        assert!(part.contains("Correct your name, contact details and preferences in Settings."), "{part}");
        assert!(part.contains("We answer requests within 30 days of receiving them."), "{part}");
        assert!(
            part.contains(
                "**In the EU/EEA (GDPR)**: Within 1 month of receiving your request, which we may extend by up to 2 \
                 months more for complex or numerous requests, telling you why within 1 month of receiving it."
            ),
            "{part}"
        );
    }

    #[test]
    fn html_escapes_policy_text() {
        let mut p = fixture();
        p.categories[0].description = Some("<script>alert('x')</script> & more".to_owned());
        p.controller.legal_name = "Evil <b>Corp</b>".to_owned();
        let html = notice::html(&p).unwrap();
        assert!(!html.contains("<script"), "unescaped script");
        assert!(!html.contains("<b>Corp"), "unescaped tag");
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "script not shown as text");
        let md = notice::markdown(&p);
        assert!(md.contains("\\<script\\>"), "markdown does not escape the tag");
    }

    #[test]
    fn html_is_standalone() {
        let html = notice::html(&fixture()).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
        assert!(html.contains("<nav class=\"toc\""));
        assert!(html.contains("<a href=\"#your-rights\">Your rights</a>"));
        assert!(html.contains("<section id=\"your-rights\">"));
        assert!(html.contains("@media print"));
        for external in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!html.contains(external), "{external} in the page");
        }
    }

    /// One-line cases over a minimal policy: what the notice says, and what it leaves out.
    #[test]
    fn sentences_follow_the_policy() {
        #[track_caller]
        fn check(extra: &str, present: &[&str], absent: &[&str]) {
            let md = notice::markdown(&policy(extra));
            for s in present {
                assert!(md.contains(s), "{s:?} missing from:\n{md}");
            }
            for s in absent {
                assert!(!md.contains(s), "{s:?} unexpected in:\n{md}");
            }
            assert!(snake_case_words(&md).is_empty(), "{:?}", snake_case_words(&md));
        }
        // Sections with nothing to say are left out.
        check(
            "",
            &["## 1. Who we are", "## 2. Version and effective date", "1 January 2026"],
            &["What this notice covers", "Your rights", "Children"],
        );
        // promise W7: one age for everyone, and children's data is deleted.
        check(
            "[[minimum_ages]]\njurisdiction = \"default\"\nage = 13\n",
            &["not meant for anyone under the age of 13", "If we learn that we have, we delete it."],
            &["Everywhere"],
        );
        // promise P8: ages per jurisdiction.
        check(
            "[[minimum_ages]]\njurisdiction = \"gdpr\"\nage = 16\n[[minimum_ages]]\njurisdiction = \"US\"\nage = 13\n",
            &["**In the EU/EEA (GDPR)**: at least 16 years old.", "**In the United States**: at least 13 years old."],
            &[],
        );
        // promises W5, T2
        check("[commitments]\nnever_sell = true\n", &["**We never sell your personal data.**"], &[]);
        // promise W11
        check(
            "[storage]\nregions = [\"EU\"]\n[commitments]\nnotify_of_legal_orders = true\n",
            &["We store personal data in the European Union.", "we tell you, unless the law forbids it"],
            &[],
        );
        // One subject type and no descriptions: a sentence, not a list.
        check("[[subject_types]]\nid = \"user\"\nname = \"Users\"\n", &["about users."], &["- **Users**"]);
        // Singular and plural for optional fields (promise P1).
        check(
            "[[categories]]\nid = \"user.content.self_image\"\nname = \"Profile photo\"\noptional = true\n",
            &["you can leave profile photo empty, and delete it at any time"],
            &["them"],
        );
        check(
            "[[categories]]\nid = \"user.a\"\nname = \"Photo\"\noptional = true\n\
             [[categories]]\nid = \"user.b\"\nname = \"Bio\"\noptional = true\n",
            &["you can leave photo and bio empty, and delete them at any time"],
            &[],
        );
        // Mostly single categories: one list, with a group's members nested under it.
        check(
            "[[categories]]\nid = \"user.name\"\nname = \"Name\"\n\
             [[categories]]\nid = \"user.contact.email\"\nname = \"Email address\"\n\
             [[categories]]\nid = \"user.device\"\nname = \"Device data\"\n\
             [[categories]]\nid = \"user.device.ip_address\"\nname = \"IP address\"\n",
            &["- **Name**\n- **Email address**\n- **Device data**\n  - **IP address**\n"],
            &["### Name"],
        );
        // A processor activity names the controller in running text.
        check(
            "[[activities]]\nid = \"a\"\nname = \"Host\"\npurpose = \"host\"\nrole = \"processor\"\n\
             controller = \"The customer who owns the data.\"\n",
            &["The controller is the customer who owns the data.", "please contact that customer"],
            &[],
        );
        // promise K5: the longest of several clocks, and the fallback action.
        check(
            "[[retention]]\nid = \"r\"\nname = \"Prospect data\"\naction = \"delete\"\nfallback = \"isolate\"\n\
             [[retention.longest_of]]\ntrigger = \"collected\"\nperiod = \"2 years\"\n\
             [[retention.longest_of]]\ntrigger = \"last_interaction\"\nperiod = \"1 year\"\n",
            &[
                "We keep it for the longest of these periods: 2 years from the date we collected it and 1 year from \
                 your last interaction with us.",
                "If deletion is technically impossible, we instead stop using it and keep it isolated",
            ],
            &[],
        );
        // An interpretation is never shown; the concrete period is.
        check(
            "[[retention]]\nid = \"r\"\nname = \"Logs\"\naction = \"anonymise\"\ntrigger = \"collected\"\n\
             period = \"30 days\"\ninterpretation = \"SECRET READING\"\n",
            &["We keep it for 30 days from the date we collected it.", "we anonymise it"],
            &["SECRET READING"],
        );
        // References that do not resolve are left out, never printed as ids.
        check(
            "[[recipients]]\nid = \"crm_tool\"\nname = \"CRM provider\"\nkind = \"sub_processor\"\n\
             activities = [\"missing_activity\"]\n",
            &["**CRM provider**"],
            &["missing"],
        );
        // promise P5: a per-partner opt-out; promise K4: purpose-bound sharing.
        check(
            "[[activities]]\nid = \"sell\"\nname = \"Resell\"\npurpose = \"resell\"\nrole = \"controller\"\n\
             legal_bases = [\"contract\"]\n\
             [[recipients]]\nid = \"p\"\nname = \"Resellers\"\nkind = \"partner\"\nactivities = [\"sell\"]\nopt_out = true\n",
            &[
                "must first obtain fresh authorisation",
                "They receive data only for “Resell”.",
                "You can opt out of our sharing your data with them at any time.",
            ],
            &[],
        );
        // promises O6, T6, P4: what can be unsubscribed from and what continues.
        check(
            "[[channels]]\nid = \"n\"\nname = \"Newsletter\"\nmedium = \"email\"\n\
             [[channels]]\nid = \"i\"\nname = \"Invoices\"\nmedium = \"email\"\ntransactional = true\n\
             [[channels]]\nid = \"t\"\nname = \"Invitation\"\nmedium = \"email\"\ntransactional = true\none_time = true\n",
            &[
                "You can unsubscribe from these messages at any time:",
                "**Newsletter (email)**: Every one of these emails contains an unsubscribe link.",
                "so they continue even if you unsubscribe from the others",
                "**Invitation (email)**: We send it only once.",
            ],
            &[],
        );
        // promise K6
        check(
            "[shutdown]\nnotice = \"30 days\"\nchannels = [\"email\"]\naction = \"anonymise\"\n",
            &["at least 30 days in advance, by email.", "we anonymise all the personal data it holds"],
            &[],
        );
        // promise O9
        check(
            "[ownership_change]\nnotify = true\nchannels = [\"email\"]\n",
            &["If that happens, we tell you by email."],
            &["remains bound"],
        );
        // promises P9, W13, T8
        check(
            "[changes]\nmaterial_notice = \"30 days\"\nchannels = [\"in_app\", \"email\"]\nprominent = true\n",
            &["at least 30 days before it takes effect, in our apps and by email.", "prominently"],
            &[],
        );
        // promises W12, K8
        check(
            "[breach]\nnotify_subjects = true\npublic_notice_fallback = true\nauthority_within = \"72 hours\"\n",
            &["we tell you promptly.", "public announcement instead", "within 72 hours of becoming aware of it"],
            &["If something goes wrong"],
        );
        // A single default deadline and no promise reads as one sentence.
        check(
            "[rights]\noffered = [\"access\"]\nverification = \"required\"\n\
             [[rights.deadlines]]\njurisdiction = \"default\"\nrespond_within = \"30 days\"\n",
            &["We answer within 30 days of receiving your request.", "we verify that it comes from you"],
            &["Everywhere", "wherever you live"],
        );
        // A representative and a DPO, with their contact details as links.
        check(
            "[controller.dpo]\nname = \"Ada\"\nemail = \"dpo@example.com\"\n\
             [controller.representative]\nname = \"Rep Ltd\"\naddress = \"1 Main St, Dublin\"\n",
            &[
                "We have appointed a data protection officer, Ada, whom you can contact by email at <dpo@example.com>.",
                "is Rep Ltd. You can contact them by post at 1 Main St, Dublin.",
            ],
            &[],
        );
    }
}
