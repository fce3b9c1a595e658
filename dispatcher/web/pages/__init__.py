"""The operators' dashboard: server-rendered pages over the core functions."""
