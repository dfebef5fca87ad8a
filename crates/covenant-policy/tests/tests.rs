//! The integration tests of covenant-policy: one binary, one module per concern.

mod it;
