"""Sending the rows: the engine, claims, rate limits, recording, state transitions,
receipts, the delivery log, and the Celery executor."""
