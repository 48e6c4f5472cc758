"""Ready suite: relay."""
