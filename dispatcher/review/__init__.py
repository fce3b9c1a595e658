"""Before anything is sent: review stages, approval and the audit log, and what a version
will send in words."""
