//! The standard data-category taxonomy, with names compatible with fideslang (CC BY 4.0).
//!
//! Policies may use these keys directly or define their own below them (`user.contact.work_email`)
//! or under a root of their own (`okki.prospect`). Entries marked special are GDPR Art. 9 special
//! categories (or Art. 10 criminal-offence data): processing them needs an Art. 9 condition.

use crate::CategoryKey;

/// Why a standard category is special.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    /// GDPR Art. 9(1): health, genetic, biometric, racial or ethnic origin, political opinions,
    /// religious or philosophical beliefs, trade-union membership, sex life or sexual orientation.
    Art9,
    /// GDPR Art. 10: criminal convictions and offences.
    Art10,
}

/// One entry of the standard taxonomy.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub key: &'static str,
    pub name: &'static str,
    pub special: Option<Special>,
}

const fn e(key: &'static str, name: &'static str) -> Entry {
    Entry { key, name, special: None }
}
const fn s9(key: &'static str, name: &'static str) -> Entry {
    Entry { key, name, special: Some(Special::Art9) }
}

/// The standard categories, parents before children.
pub const STANDARD: &[Entry] = &[
    e("system", "System data"),
    e("system.authentication", "Authentication data"),
    e("system.operations", "Operations data"),
    e("user", "User data"),
    e("user.account", "Account information"),
    e("user.account.settings", "Account settings"),
    e("user.account.username", "Username"),
    e("user.authorization", "Authorization information"),
    e("user.authorization.credentials", "Credentials"),
    e("user.authorization.password", "Password"),
    e("user.authorization.security_question", "Security question"),
    e("user.behavior", "Behavioural data"),
    e("user.behavior.browsing_history", "Browsing history"),
    e("user.behavior.media_consumption", "Media consumption"),
    e("user.behavior.purchase_history", "Purchase history"),
    e("user.behavior.search_history", "Search history"),
    s9("user.biometric", "Biometric data"),
    s9("user.biometric.fingerprint", "Fingerprint"),
    s9("user.biometric.retinal", "Retinal scan"),
    s9("user.biometric.voice", "Voice recording"),
    s9("user.biometric.health", "Biometric health data"),
    e("user.childrens", "Children's data"),
    e("user.contact", "Contact information"),
    e("user.contact.address", "Postal address"),
    e("user.contact.address.city", "City"),
    e("user.contact.address.country", "Country"),
    e("user.contact.address.postal_code", "Postal code"),
    e("user.contact.address.state", "State or region"),
    e("user.contact.address.street", "Street address"),
    e("user.contact.email", "Email address"),
    e("user.contact.fax_number", "Fax number"),
    e("user.contact.organization", "Organisation"),
    e("user.contact.phone_number", "Phone number"),
    e("user.contact.url", "Web address"),
    e("user.content", "Content"),
    e("user.content.private", "Private content"),
    e("user.content.public", "Public content"),
    e("user.content.self_image", "Photo of the person"),
    Entry { key: "user.criminal_history", name: "Criminal history", special: Some(Special::Art10) },
    e("user.demographic", "Demographic data"),
    e("user.demographic.age_range", "Age range"),
    e("user.demographic.date_of_birth", "Date of birth"),
    e("user.demographic.gender", "Gender"),
    e("user.demographic.language", "Language"),
    e("user.demographic.marital_status", "Marital status"),
    s9("user.demographic.political_opinion", "Political opinion"),
    e("user.demographic.profile", "Profile"),
    s9("user.demographic.race_ethnicity", "Racial or ethnic origin"),
    s9("user.demographic.religious_belief", "Religious or philosophical belief"),
    s9("user.demographic.sexual_orientation", "Sexual orientation"),
    s9("user.demographic.trade_union", "Trade-union membership"),
    e("user.device", "Device data"),
    e("user.device.cookie", "Cookie data"),
    e("user.device.cookie_id", "Cookie identifier"),
    e("user.device.device_id", "Device identifier"),
    e("user.device.ip_address", "IP address"),
    e("user.device.telemetry", "Device telemetry"),
    e("user.financial", "Financial data"),
    e("user.financial.bank_account", "Bank account number"),
    e("user.financial.credit_card", "Payment card data"),
    e("user.financial.tax_id", "Tax or VAT number"),
    e("user.government_id", "Government identifiers"),
    e("user.government_id.birth_certificate", "Birth certificate"),
    e("user.government_id.drivers_license_number", "Driver's licence number"),
    e("user.government_id.immigration", "Immigration data"),
    e("user.government_id.national_identification_number", "National identification number"),
    e("user.government_id.passport_number", "Passport number"),
    s9("user.health_and_medical", "Health and medical data"),
    s9("user.health_and_medical.genetic", "Genetic data"),
    s9("user.health_and_medical.insurance_beneficiary_id", "Health insurance identifier"),
    s9("user.health_and_medical.medical_record_number", "Medical record"),
    e("user.location", "Location"),
    e("user.location.imprecise", "Approximate location"),
    e("user.location.precise", "Precise location"),
    e("user.name", "Name"),
    e("user.name.first", "First name"),
    e("user.name.last", "Last name"),
    e("user.payment", "Payment information"),
    e("user.privacy_preferences", "Privacy preferences"),
    e("user.social", "Social media data"),
    e("user.unique_id", "Unique identifier"),
    e("user.unique_id.pseudonymous", "Pseudonymous identifier"),
    e("user.workplace", "Workplace"),
    e("user.job_title", "Job title"),
    e("user.telemetry", "Usage telemetry"),
    e("user.sensor", "Sensor data"),
];

/// The standard entry for exactly this key.
pub fn lookup(key: &str) -> Option<&'static Entry> {
    STANDARD.iter().find(|e| e.key == key)
}

/// The nearest standard entry at or above `key` (`user.contact.work_email` → `user.contact`).
pub fn nearest(key: &CategoryKey) -> Option<&'static Entry> {
    key.ancestors().find_map(lookup)
}

/// The special-category entry at or above `key`, if any.
pub fn special(key: &CategoryKey) -> Option<&'static Entry> {
    key.ancestors().filter_map(lookup).find(|e| e.special.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_key_parses_and_its_parent_is_listed_first() {
        let mut seen = std::collections::HashSet::new();
        for entry in STANDARD {
            let key = CategoryKey::parse(entry.key).unwrap();
            if let Some(parent) = key.parent() {
                assert!(seen.contains(parent.as_str()), "{} listed before its parent", entry.key);
            }
            assert!(seen.insert(entry.key), "{} listed twice", entry.key);
        }
    }

    #[test]
    fn special_categories_are_found_through_ancestors() {
        let k = |s| CategoryKey::parse(s).unwrap();
        assert_eq!(special(&k("user.health_and_medical.allergies")).map(|e| e.key), Some("user.health_and_medical"));
        assert_eq!(special(&k("user.criminal_history")).and_then(|e| e.special), Some(Special::Art10));
        assert!(special(&k("user.contact.email")).is_none());
        assert_eq!(nearest(&k("user.contact.work_email")).map(|e| e.key), Some("user.contact"));
        assert!(nearest(&k("okki.prospect")).is_none());
    }
}
