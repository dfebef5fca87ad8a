//! The integration tests of covenant-connectors: every case runs on SQLite and, when
//! `COVENANT_TEST_POSTGRES_URL` is set, on PostgreSQL (a fresh database per case).

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
