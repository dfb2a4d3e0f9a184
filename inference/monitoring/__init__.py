"""How inference is doing: Prometheus series for operators (/metrics) and, per model over
time, requests, errors, latency and throughput for its publisher (the monitoring page).

metrics.py defines the series; middleware.py counts requests by route and status;
observer.py times each answer as the API reads it (time to first token, inter-token gaps,
tokens) and keeps one GenerationTiming row per answer; collector.py reads what lives in
Redis and the database at scrape time (queue depth, models loaded per worker, live pools,
holds outstanding); selectors.py aggregates the rows for the monitoring page.
"""
