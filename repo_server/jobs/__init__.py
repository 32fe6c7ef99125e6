"""The worker and its lease: they run the jobs of services/job_table.py and drain the outbox
(services/indexing.py); nothing else lives here."""
