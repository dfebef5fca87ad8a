//! End-to-end tests of the HTTP API: the real server on a free port, a fresh database per test.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
