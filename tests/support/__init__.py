"""What the tests and the benchmarks share: a Daphne process to talk to, the fake Anthropic
API, and logins made the way the login view makes them."""
