"""Ready suite: ws."""
