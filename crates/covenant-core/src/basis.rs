//! Legal bases for processing (GDPR Art. 6(1)) and conditions for special categories (Art. 9(2)).

use crate::wire_enum;

wire_enum! {
    /// A lawful basis under GDPR Art. 6(1)(a)–(f).
    pub enum LegalBasis {
        Consent => "consent",
        Contract => "contract",
        LegalObligation => "legal_obligation",
        VitalInterests => "vital_interests",
        PublicTask => "public_task",
        LegitimateInterests => "legitimate_interests",
    }
}

impl LegalBasis {
    /// The article it comes from, e.g. `Art. 6(1)(a)`.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "GDPR Art. 6(1)(a)",
            LegalBasis::Contract => "GDPR Art. 6(1)(b)",
            LegalBasis::LegalObligation => "GDPR Art. 6(1)(c)",
            LegalBasis::VitalInterests => "GDPR Art. 6(1)(d)",
            LegalBasis::PublicTask => "GDPR Art. 6(1)(e)",
            LegalBasis::LegitimateInterests => "GDPR Art. 6(1)(f)",
        }
    }

    /// A short label for tables: "Consent", "Performance of a contract", …
    pub fn label(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Consent",
            LegalBasis::Contract => "Performance of a contract",
            LegalBasis::LegalObligation => "Legal obligation",
            LegalBasis::VitalInterests => "Vital interests",
            LegalBasis::PublicTask => "Public task",
            LegalBasis::LegitimateInterests => "Legitimate interests",
        }
    }

    /// Plain-language phrase for a notice: "because you consented", …
    pub fn plain(self) -> &'static str {
        match self {
            LegalBasis::Consent => "you have given us your consent, which you can withdraw at any time",
            LegalBasis::Contract => {
                "we need it to perform our contract with you, or to take steps you asked for before entering into one"
            }
            LegalBasis::LegalObligation => "the law requires us to",
            LegalBasis::VitalInterests => "it is necessary to protect someone's life",
            LegalBasis::PublicTask => "it is necessary for a task carried out in the public interest",
            LegalBasis::LegitimateInterests => {
                "it is in our legitimate interests, and those interests are not overridden by your rights"
            }
        }
    }

    /// Whether a data subject may object to processing on this basis (GDPR Art. 21(1)).
    pub fn objectable(self) -> bool {
        matches!(self, LegalBasis::LegitimateInterests | LegalBasis::PublicTask)
    }
}

wire_enum! {
    /// A condition for processing special categories of data under GDPR Art. 9(2)(a)–(j).
    pub enum Art9Condition {
        ExplicitConsent => "explicit_consent",
        Employment => "employment_social_security",
        VitalInterests => "vital_interests",
        NotForProfit => "not_for_profit_body",
        MadePublic => "manifestly_made_public",
        LegalClaims => "legal_claims",
        SubstantialPublicInterest => "substantial_public_interest",
        HealthCare => "health_or_social_care",
        PublicHealth => "public_health",
        Archiving => "archiving_research_statistics",
    }
}

impl Art9Condition {
    /// The article it comes from, e.g. `GDPR Art. 9(2)(a)`.
    pub fn article(self) -> &'static str {
        match self {
            Art9Condition::ExplicitConsent => "GDPR Art. 9(2)(a)",
            Art9Condition::Employment => "GDPR Art. 9(2)(b)",
            Art9Condition::VitalInterests => "GDPR Art. 9(2)(c)",
            Art9Condition::NotForProfit => "GDPR Art. 9(2)(d)",
            Art9Condition::MadePublic => "GDPR Art. 9(2)(e)",
            Art9Condition::LegalClaims => "GDPR Art. 9(2)(f)",
            Art9Condition::SubstantialPublicInterest => "GDPR Art. 9(2)(g)",
            Art9Condition::HealthCare => "GDPR Art. 9(2)(h)",
            Art9Condition::PublicHealth => "GDPR Art. 9(2)(i)",
            Art9Condition::Archiving => "GDPR Art. 9(2)(j)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_basis_round_trips_through_its_wire_name() {
        for b in LegalBasis::ALL {
            assert_eq!(b.as_str().parse::<LegalBasis>(), Ok(*b));
        }
        for c in Art9Condition::ALL {
            assert_eq!(c.as_str().parse::<Art9Condition>(), Ok(*c));
        }
    }

    #[test]
    fn only_legitimate_interests_and_public_task_are_objectable() {
        let objectable: Vec<_> = LegalBasis::ALL.iter().filter(|b| b.objectable()).collect();
        assert_eq!(objectable, [&LegalBasis::PublicTask, &LegalBasis::LegitimateInterests]);
    }
}
