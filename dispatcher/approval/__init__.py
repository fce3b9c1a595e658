"""Approval: review stages, a version approved only when every stage passed, and the audit
log of every lifecycle action."""
