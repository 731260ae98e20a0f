"""Event outputs: webhooks and MQTT, each delivering the outbox from its own cursor."""
