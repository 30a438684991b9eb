"""The run machinery: planning, batches of blocks on RQ workers, lanes, leases, finalize, the watchdog."""
