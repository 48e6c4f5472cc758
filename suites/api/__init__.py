"""Ready suite: api."""
