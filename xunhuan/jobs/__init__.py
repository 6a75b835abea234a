"""Background jobs: a row with progress and errors the UI shows, run by ``jobs_work``."""
