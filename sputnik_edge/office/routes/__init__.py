"""One router module per resource of the office server; ``common`` holds what they share."""
