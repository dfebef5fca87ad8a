//! The integration tests of covenant-dsr: requests run end to end against small demo databases
//! built from examples/crm/sql, on SQLite and (when `COVENANT_TEST_POSTGRES_URL` is set) on
//! PostgreSQL.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
