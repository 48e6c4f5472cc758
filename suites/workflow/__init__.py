"""Ready suite: workflow."""
