"""The scale-out executor: Celery workers fed blocks of rows kept in the database."""
