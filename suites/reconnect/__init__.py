"""Ready suite: WebSocket connection failures under load (resume after a reset)."""
