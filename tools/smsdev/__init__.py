"""Developer tooling: the local stack on an embedded AWS emulator, and the smsctl admin CLI. Never shipped to Lambda."""
