//! Data-subject requests against a company's own application databases, driven by the policy
//! and the dataset annotations: a pure planner ([`plan`]), discovery of a person's rows
//! ([`find`]), write sets computed in full before anything is written ([`writes`]), and an
//! executor ([`exec`]) that answers access, export and confirmation requests and applies
//! erasures and rectifications through a journal, so that a crash at any point is resumed
//! without applying anything twice. Restriction and objection are recorded in Covenant's store.

pub mod config;
pub mod error;
pub mod exec;
pub mod export;
pub mod find;
pub mod plan;
pub mod report;
pub mod writes;

pub use config::Config;
pub use error::DsrError;
pub use exec::{Executor, Progress, Quiet, Request, RequestExecutor};
pub use plan::{Plan, PlanError, RequestKind, Scope};
pub use report::{AccessReport, Confirmation, FlagReport, Outcome, WriteReport};
pub use writes::{Correction, Target};
