//! The rights a policy offers to data subjects.

use crate::wire_enum;

wire_enum! {
    /// A data-subject right.
    pub enum Right {
        Informed => "informed",
        Access => "access",
        Rectification => "rectification",
        Erasure => "erasure",
        Restriction => "restriction",
        Portability => "portability",
        Objection => "objection",
        AutomatedDecisions => "automated_decisions",
        WithdrawConsent => "withdraw_consent",
        Complaint => "complaint",
        PostMortem => "post_mortem_instructions",
        Confirm => "confirm_processing",
        OptOutSale => "opt_out_of_sale",
        NoContact => "no_contact",
    }
}

impl Right {
    /// A heading for notices.
    pub fn title(self) -> &'static str {
        match self {
            Right::Informed => "Right to be informed",
            Right::Access => "Right of access",
            Right::Rectification => "Right to rectification",
            Right::Erasure => "Right to erasure",
            Right::Restriction => "Right to restrict processing",
            Right::Portability => "Right to data portability",
            Right::Objection => "Right to object",
            Right::AutomatedDecisions => "Rights about automated decisions",
            Right::WithdrawConsent => "Right to withdraw consent",
            Right::Complaint => "Right to complain",
            Right::PostMortem => "Instructions for after your death",
            Right::Confirm => "Right to know whether we hold your data",
            Right::OptOutSale => "Right to opt out of sale or sharing",
            Right::NoContact => "Right not to be contacted",
        }
    }

    /// One plain-language sentence saying what the right lets a person do.
    pub fn plain(self) -> &'static str {
        match self {
            Right::Informed => {
                "You can know how we collect and use your personal data; this notice is how we tell you."
            }
            Right::Access => {
                "You can ask for a copy of the personal data we hold about you, together with where it came from, why we hold it, how long we keep it and who receives it."
            }
            Right::Rectification => {
                "You can ask us to correct data that is inaccurate, and to complete data that is incomplete, including by adding information."
            }
            Right::Erasure => {
                "You can ask us to delete your personal data. We may keep some records where the law requires it, and we will tell you which and why."
            }
            Right::Restriction => {
                "You can ask us to limit how we use your data, for example while we check its accuracy or an objection you have made."
            }
            Right::Portability => {
                "You can receive the data you gave us in a structured, commonly used, machine-readable format, or have it sent to another organisation."
            }
            Right::Objection => {
                "You can object to processing based on our legitimate interests. You can always object to direct marketing, and we will then stop."
            }
            Right::AutomatedDecisions => {
                "You can ask for a person to review any decision about you made solely by automated means that has legal or similarly significant effects."
            }
            Right::WithdrawConsent => {
                "Where we rely on your consent, you can withdraw it at any time, as easily as you gave it. Withdrawal does not affect processing that has already taken place."
            }
            Right::Complaint => {
                "You can complain to a data protection supervisory authority, in particular where you live or work."
            }
            Right::PostMortem => {
                "You can give us instructions about the retention, deletion and communication of your personal data after your death."
            }
            Right::Confirm => {
                "You can ask us whether we hold or process any personal data about you, for ourselves or on behalf of a customer."
            }
            Right::OptOutSale => {
                "You can opt out of any sale or sharing of your personal data and of targeted advertising; a Global Privacy Control signal from your browser counts as that request."
            }
            Right::NoContact => "You can ask us not to contact you and to remove you from any promotional list.",
        }
    }

    /// The article of the GDPR (or other law) the right comes from, when there is one.
    pub fn article(self) -> Option<&'static str> {
        Some(match self {
            Right::Informed => "GDPR Art. 13-14",
            Right::Access => "GDPR Art. 15",
            Right::Rectification => "GDPR Art. 16",
            Right::Erasure => "GDPR Art. 17",
            Right::Restriction => "GDPR Art. 18",
            Right::Portability => "GDPR Art. 20",
            Right::Objection => "GDPR Art. 21",
            Right::AutomatedDecisions => "GDPR Art. 22",
            Right::WithdrawConsent => "GDPR Art. 7(3)",
            Right::Complaint => "GDPR Art. 77",
            Right::OptOutSale => "CCPA §1798.120",
            Right::PostMortem | Right::Confirm | Right::NoContact => return None,
        })
    }
}
