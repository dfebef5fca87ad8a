//! The integration tests of covenant-engine: one binary, one module per concern.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod it;
