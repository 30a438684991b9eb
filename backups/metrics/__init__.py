"""Prometheus metrics: Velero's (names, types and labels of its pkg/metrics) and Veloweb's own,
computed from the database at each scrape (`collector`), with the tallies that keep counters
monotonic across deletions (`tally`) and the endpoint's access rule (`access`)."""
