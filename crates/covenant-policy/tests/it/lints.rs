// tests for lints
