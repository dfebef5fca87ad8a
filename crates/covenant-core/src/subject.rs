//! Lifecycle events of a data subject; later layers start retention clocks from them.

use jiff::Timestamp;

use crate::{RetentionTrigger, wire_enum};

wire_enum! {
    /// Something that happened in a subject's relationship with the company.
    pub enum LifecycleKind {
        Signup => "signup",
        LastInteraction => "last_interaction",
        /// Deactivation is not deletion (promise T5): the data stays until a retention rule or a
        /// request removes it.
        Deactivated => "deactivated",
        Reactivated => "reactivated",
        AccountClosed => "account_closed",
        ContractTerminated => "contract_terminated",
        SubscriptionExpired => "subscription_expired",
        /// The person died; `detail` holds the instructions they left (promise W6).
        Deceased => "deceased",
        /// The person was found to be under the minimum age (promises W7, P8, O8, K10, T9).
        UnderageFound => "underage_found",
    }
}

impl LifecycleKind {
    /// The retention trigger this event starts, if any.
    pub fn trigger(self) -> Option<RetentionTrigger> {
        Some(match self {
            LifecycleKind::Signup => RetentionTrigger::Collected,
            LifecycleKind::LastInteraction => RetentionTrigger::LastInteraction,
            LifecycleKind::Deactivated => RetentionTrigger::AccountDeactivated,
            LifecycleKind::AccountClosed => RetentionTrigger::AccountClosed,
            LifecycleKind::ContractTerminated => RetentionTrigger::ContractTerminated,
            LifecycleKind::SubscriptionExpired => RetentionTrigger::SubscriptionExpired,
            LifecycleKind::Deceased => RetentionTrigger::Death,
            LifecycleKind::Reactivated | LifecycleKind::UnderageFound => return None,
        })
    }
}

/// A lifecycle event with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub kind: LifecycleKind,
    pub at: Timestamp,
    /// Free text: the instructions of a deceased person, the reason for closure, …
    pub detail: Option<String>,
}
