"""Ready suite: live logs over Socket.IO."""
