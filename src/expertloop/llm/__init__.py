"""Model connections: one small client interface, lazily imported providers, stored runs."""
