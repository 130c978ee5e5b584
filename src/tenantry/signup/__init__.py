"""Self-service sign-up with a work email."""
