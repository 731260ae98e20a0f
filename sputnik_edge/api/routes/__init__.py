"""One router module per concern of the device API."""
