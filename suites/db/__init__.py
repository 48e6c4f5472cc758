"""Ready suite: db."""
