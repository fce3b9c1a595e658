"""Firing approved campaigns on time: the APScheduler scheduler and the leader lock."""
