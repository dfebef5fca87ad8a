//! The integration tests of the `covenant` binary, run as a child process.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
