"""Sending the rows: the engine, claims, rate limits, recording, state transitions,
receipts, the delivery log and a row's history, provider callback URLs, and the Celery
executor."""
