// tests for seeds
