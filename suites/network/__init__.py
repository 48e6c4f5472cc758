"""Ready suite: the device relay under network conditions."""
