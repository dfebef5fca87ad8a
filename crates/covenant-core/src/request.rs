//! Data-subject requests: what a person (or a controller we process for) asks, the states a
//! request goes through, and the one pure function that moves it from state to state.
//!
//! ```text
//! received ─▶ awaiting_verification ─▶ verified ─▶ awaiting_approval ─▶ queued ─▶ in_progress ─▶ completed
//!     │                │                  │   └──────────────────────────▲  ▲          │
//!     └─ skip_verification ──────────────▶┘                                 └─ requeue ┘
//! any state but in_progress ─▶ rejected | referred_to_controller | withdrawn_by_requester
//! ```
//!
//! `completed`, `rejected`, `referred_to_controller` and `withdrawn_by_requester` are terminal: no
//! event leaves them. An extension of the deadline is an event that moves the due date and leaves
//! the state as it is.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::{IdError, Right, wire_enum};

wire_enum! {
    /// What a request asks for.
    pub enum RequestKind {
        /// A copy of the data, with where it came from, why it is held, how long and who gets it
        /// (GDPR Art. 15; promise P6).
        Access => "access",
        /// The data the person gave, machine-readable (GDPR Art. 20).
        Export => "export",
        Erasure => "erasure",
        /// Correct or complete data: `details` names the field and the corrected value.
        Rectification => "rectification",
        /// Keep the data but use it for nothing else (GDPR Art. 18).
        Restriction => "restriction",
        /// Stop processing on legitimate interests, or direct marketing (GDPR Art. 21).
        Objection => "objection",
        /// "Do you hold my data?" (promises O4, T5).
        Confirm => "confirm",
        /// Instructions about the data after the person's death (promise W6).
        PostDeath => "post_death",
    }
}

impl RequestKind {
    /// The right of the policy a request of this kind exercises.
    pub fn right(self) -> Right {
        match self {
            RequestKind::Access => Right::Access,
            RequestKind::Export => Right::Portability,
            RequestKind::Erasure => Right::Erasure,
            RequestKind::Rectification => Right::Rectification,
            RequestKind::Restriction => Right::Restriction,
            RequestKind::Objection => Right::Objection,
            RequestKind::Confirm => Right::Confirm,
            RequestKind::PostDeath => Right::PostMortem,
        }
    }

    /// Whether a policy offering `offered` lets people make this request. Confirmation is part of
    /// the right of access (GDPR Art. 15(1)), so a policy offering access offers it too.
    pub fn offered_by(self, offered: &[Right]) -> bool {
        offered.contains(&self.right()) || (self == RequestKind::Confirm && offered.contains(&Right::Access))
    }

    /// What a notice or an email calls it.
    pub fn describe(self) -> &'static str {
        match self {
            RequestKind::Access => "a copy of your personal data",
            RequestKind::Export => "an export of your personal data in a machine-readable format",
            RequestKind::Erasure => "the deletion of your personal data",
            RequestKind::Rectification => "the correction of your personal data",
            RequestKind::Restriction => "the restriction of the processing of your personal data",
            RequestKind::Objection => "your objection to the processing of your personal data",
            RequestKind::Confirm => "whether we hold personal data about you",
            RequestKind::PostDeath => "your instructions about your personal data after your death",
        }
    }
}

wire_enum! {
    /// Where a request is.
    pub enum RequestState {
        /// Taken in; nothing checked yet.
        Received => "received",
        /// A one-time code (or proof of identity) is awaited.
        AwaitingVerification => "awaiting_verification",
        /// The requester is who they say they are, or a controller instructed us.
        Verified => "verified",
        /// The policy asks a person to approve each request before it runs.
        AwaitingApproval => "awaiting_approval",
        /// Approved (or needing no approval), waiting for a worker.
        Queued => "queued",
        /// A worker is carrying it out.
        InProgress => "in_progress",
        Completed => "completed",
        Rejected => "rejected",
        /// We process the data for a customer, who is the controller: the request went to it
        /// (promises T7, O3).
        ReferredToController => "referred_to_controller",
        WithdrawnByRequester => "withdrawn_by_requester",
    }
}

impl RequestState {
    /// No event leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RequestState::Completed
                | RequestState::Rejected
                | RequestState::ReferredToController
                | RequestState::WithdrawnByRequester
        )
    }
}

wire_enum! {
    /// Something that happens to a request.
    pub enum RequestEvent {
        /// A one-time code was sent (again).
        SendCode => "send_code",
        /// The right code was given, or an operator checked the proof of identity.
        Verify => "verify",
        /// No verification is needed: the policy asks for none, or a controller instructs us.
        SkipVerification => "skip_verification",
        /// The policy asks for approval: wait for an operator.
        AskApproval => "ask_approval",
        /// An operator approved it.
        Approve => "approve",
        /// No approval is needed: hand it to a worker.
        Queue => "queue",
        /// A worker took it.
        Start => "start",
        /// A worker's attempt failed; it waits for the next attempt.
        Requeue => "requeue",
        /// Carried out; the answer was sent.
        Complete => "complete",
        /// Refused (identity not shown, approval refused, manifestly unfounded), with a reason.
        Reject => "reject",
        /// Sent to the controller we process the data for.
        Refer => "refer",
        /// The requester took it back.
        Withdraw => "withdraw",
        /// The deadline was extended (once, with a reason); the state stays.
        Extend => "extend",
    }
}

/// An event that cannot happen in a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a request that is `{state}` cannot {}", verb(*event))]
pub struct TransitionError {
    pub state: RequestState,
    pub event: RequestEvent,
}

fn verb(e: RequestEvent) -> &'static str {
    match e {
        RequestEvent::SendCode => "be sent a verification code",
        RequestEvent::Verify => "be verified",
        RequestEvent::SkipVerification => "skip verification",
        RequestEvent::AskApproval => "wait for approval",
        RequestEvent::Approve => "be approved",
        RequestEvent::Queue => "be queued",
        RequestEvent::Start => "be started",
        RequestEvent::Requeue => "be queued again",
        RequestEvent::Complete => "be completed",
        RequestEvent::Reject => "be rejected",
        RequestEvent::Refer => "be referred to the controller",
        RequestEvent::Withdraw => "be withdrawn",
        RequestEvent::Extend => "have its deadline extended",
    }
}

/// The state after `event`, or why the event cannot happen now.
pub fn transition(state: RequestState, event: RequestEvent) -> Result<RequestState, TransitionError> {
    use RequestEvent as E;
    use RequestState as S;
    let next = match (state, event) {
        (s, _) if s.is_terminal() => None,
        (S::Received | S::AwaitingVerification, E::SendCode) => Some(S::AwaitingVerification),
        (S::AwaitingVerification, E::Verify) => Some(S::Verified),
        (S::Received, E::SkipVerification) => Some(S::Verified),
        (S::Verified, E::AskApproval) => Some(S::AwaitingApproval),
        (S::AwaitingApproval, E::Approve) => Some(S::Queued),
        (S::Verified, E::Queue) => Some(S::Queued),
        (S::Queued, E::Start) => Some(S::InProgress),
        (S::InProgress, E::Requeue) => Some(S::Queued),
        (S::InProgress, E::Complete) => Some(S::Completed),
        // Once a worker has begun, the request is carried through: a half-done erasure is not
        // rejected or withdrawn.
        (S::InProgress, E::Reject | E::Refer | E::Withdraw) => None,
        (_, E::Reject) => Some(S::Rejected),
        (S::Received | S::AwaitingVerification | S::Verified, E::Refer) => Some(S::ReferredToController),
        (_, E::Withdraw) => Some(S::WithdrawnByRequester),
        (s, E::Extend) => Some(s),
        _ => None,
    };
    next.ok_or(TransitionError { state, event })
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn from_uuid(u: Uuid) -> $name {
                $name(u)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn parse(s: &str) -> Result<$name, IdError> {
                Uuid::parse_str(s).map($name).map_err(|_| IdError::Uuid(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A data-subject request.
    RequestId
);
uuid_id!(
    /// A customer of a tenant: a controller the tenant processes data for (processor mode).
    CustomerId
);

#[cfg(test)]
mod tests {
    use super::*;
    use RequestEvent as E;
    use RequestState as S;
    use proptest::prelude::*;

    #[test]
    fn the_usual_paths() {
        let run = |events: &[RequestEvent]| {
            events.iter().try_fold(S::Received, |s, e| transition(s, *e)).map_err(|e| e.to_string())
        };
        assert_eq!(run(&[E::SendCode, E::Verify, E::Queue, E::Start, E::Complete]), Ok(S::Completed));
        assert_eq!(
            run(&[E::SendCode, E::SendCode, E::Verify, E::AskApproval, E::Approve, E::Start, E::Requeue, E::Start]),
            Ok(S::InProgress)
        );
        assert_eq!(run(&[E::SkipVerification, E::Queue, E::Extend]), Ok(S::Queued));
        assert_eq!(run(&[E::Refer]), Ok(S::ReferredToController));
        assert_eq!(run(&[E::SendCode, E::Withdraw]), Ok(S::WithdrawnByRequester));
        assert_eq!(run(&[E::Queue]), Err("a request that is `received` cannot be queued".to_owned()));
        assert_eq!(
            run(&[E::SendCode, E::Verify, E::Queue, E::Start, E::Withdraw]),
            Err("a request that is `in_progress` cannot be withdrawn".to_owned())
        );
        assert_eq!(
            run(&[E::Refer, E::Extend]),
            Err("a request that is `referred_to_controller` cannot have its deadline extended".to_owned())
        );
    }

    #[test]
    fn kinds_map_to_the_rights_policies_offer() {
        assert!(RequestKind::Confirm.offered_by(&[Right::Access]));
        assert!(RequestKind::Confirm.offered_by(&[Right::Confirm]));
        assert!(!RequestKind::Export.offered_by(&[Right::Access]));
        assert!(RequestKind::PostDeath.offered_by(&[Right::PostMortem]));
        assert_eq!("post_death".parse::<RequestKind>(), Ok(RequestKind::PostDeath));
        assert!("delete".parse::<RequestKind>().unwrap_err().to_string().starts_with("unknown request kind `delete`"));
    }

    /// Which states a request may have been in before `s`: the invariants a sequence of events
    /// must keep.
    fn may_follow(before: RequestState, after: RequestState) -> bool {
        before == after
            || matches!(
                (before, after),
                (S::Received, S::AwaitingVerification | S::Verified)
                    | (S::AwaitingVerification, S::Verified)
                    | (S::Verified, S::AwaitingApproval | S::Queued)
                    | (S::AwaitingApproval, S::Queued)
                    | (S::Queued, S::InProgress)
                    | (S::InProgress, S::Queued | S::Completed)
                    | (_, S::Rejected | S::WithdrawnByRequester)
                    | (S::Received | S::AwaitingVerification | S::Verified, S::ReferredToController)
            )
    }

    proptest! {
        #[test]
        fn no_sequence_of_events_reaches_an_invalid_state(
            events in proptest::collection::vec(proptest::sample::select(RequestEvent::ALL), 0..40)
        ) {
            let mut state = S::Received;
            let mut verified = false;
            let mut started = false;
            for e in events {
                match transition(state, e) {
                    Ok(next) => {
                        prop_assert!(!state.is_terminal(), "{state} left by {e}");
                        prop_assert!(may_follow(state, next), "{state} -> {next} by {e}");
                        if e == E::Extend {
                            prop_assert_eq!(next, state);
                        }
                        verified |= next == S::Verified;
                        started |= next == S::InProgress;
                        // Nothing is carried out for someone unverified; nothing completes unstarted.
                        if matches!(next, S::Queued | S::InProgress | S::AwaitingApproval) {
                            prop_assert!(verified);
                        }
                        if next == S::Completed {
                            prop_assert!(started && verified);
                        }
                        state = next;
                    }
                    Err(err) => {
                        prop_assert_eq!(err, TransitionError { state, event: e });
                    }
                }
            }
        }

        #[test]
        fn terminal_states_are_final(event in proptest::sample::select(RequestEvent::ALL)) {
            for s in RequestState::ALL.iter().filter(|s| s.is_terminal()) {
                prop_assert!(transition(*s, event).is_err());
            }
        }
    }
}
