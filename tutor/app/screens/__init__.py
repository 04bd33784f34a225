"""Modal screens: help, the lesson list, confirmations, a finished lesson."""
