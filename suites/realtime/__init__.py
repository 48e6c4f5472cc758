"""Ready suite: realtime."""
