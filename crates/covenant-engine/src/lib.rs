//! Covenant's decision engine: "may purpose P use these categories of this person's data now?",
//! answered in well under a microsecond, with the reason.
//!
//! Architecture invariant: this crate does no I/O, spawns nothing and reads no clock: the policy,
//! the person's ledger records and `now` come in as arguments, so a decision is a pure function of
//! them. The store loads records; the server reads the clock.
//!
//! - [`PolicyIndex::compile`] turns a policy into dense tables and bitsets.
//! - [`SubjectState`] is one person's consents, objections, opt-outs and flags, built from ledger
//!   records ([`SubjectState::from_records`]) and kept current record by record
//!   ([`SubjectState::apply`]).
//! - [`decide`] answers a prepared [`Query`] with a [`Decision`]: a [`Basis`] or a [`Denial`],
//!   each with a stable code and a message.
//! - [`DecisionCache`] holds states for many people and tenants, for concurrent decisions.
//! - [`ledger`] builds the records for what people do, against the policy in force.

mod cache;
pub mod deadline;
mod decide;
mod index;
pub mod ledger;
mod state;
pub mod synthetic;

pub use cache::{Cached, DecisionCache, Miss, TenantCache};
pub use decide::{Basis, Decision, Denial, Query, QueryError, decide, decide_batch};
pub use index::{ActivityIdx, PolicyIndex, PurposeIdx, RecipientIdx, VersionId, kind_name, purpose_hash};
pub use state::{Applied, ConsentView, Flags, LedgerKey, SubjectState, UnderAge, Update};
