"""MQTT transport: topic names, reconnect backoff, inbound command routing and the outbox publisher."""
