"""Tepat Edge: on-device face verification, durable records and MQTT publishing for aid distribution points."""

__version__ = "0.1.0"
