//! Connectors to the application databases Covenant answers data-subject requests for: SQLite
//! and PostgreSQL (MySQL later). This crate is the only place that builds SQL for a customer's
//! database: identifiers are always quoted, values always bound, pools always bounded.

pub mod connector;
pub mod introspect;
pub mod value;

pub use connector::{
    Backend, CHUNK, Connector, ConnectorError, ConnectorOptions, Matching, Session, TableRef, WriteOp, quote, redact,
};
pub use value::Value;
