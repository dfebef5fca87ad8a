//! Integration tests of the demo application's data: determinism, Ada's rows, referential
//! integrity and the annotations against the generated schema, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
