"""Reach per campaign and channel: derived from rows, polled from providers, reported by
them, or entered by hand."""
