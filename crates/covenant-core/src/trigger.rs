//! Events that start a retention clock.

use crate::wire_enum;

wire_enum! {
    /// What starts a retention clock.
    pub enum RetentionTrigger {
        Collected => "collected",
        LastInteraction => "last_interaction",
        AccountDeactivated => "account_deactivated",
        AccountClosed => "account_closed",
        ContractTerminated => "contract_terminated",
        SubscriptionExpired => "subscription_expired",
        ConsentWithdrawn => "consent_withdrawn",
        VerificationCompleted => "verification_completed",
        RequestClosed => "request_closed",
        ServiceShutdownAnnounced => "service_shutdown_announced",
        Death => "death",
    }
}

impl RetentionTrigger {
    /// Plain words for notices: "after your account is closed".
    pub fn plain(self) -> &'static str {
        match self {
            RetentionTrigger::Collected => "from the date we collected it",
            RetentionTrigger::LastInteraction => "from your last interaction with us",
            RetentionTrigger::AccountDeactivated => "after the account is deactivated",
            RetentionTrigger::AccountClosed => "after the account is closed",
            RetentionTrigger::ContractTerminated => "after the contract ends",
            RetentionTrigger::SubscriptionExpired => "after the subscription expires",
            RetentionTrigger::ConsentWithdrawn => "after consent is withdrawn",
            RetentionTrigger::VerificationCompleted => "after identity verification is completed",
            RetentionTrigger::RequestClosed => "after the request is closed",
            RetentionTrigger::ServiceShutdownAnnounced => "after the shutdown of the service is announced",
            RetentionTrigger::Death => "after the person's death is recorded",
        }
    }
}
