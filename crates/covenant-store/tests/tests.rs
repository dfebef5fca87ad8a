//! The integration tests of covenant-store: one binary; the conformance suite runs every case on
//! SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
