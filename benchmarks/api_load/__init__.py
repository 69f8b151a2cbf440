"""Load benchmark of the API: cached feed revalidations, full feeds and JSON schedules against
a bare FastAPI route, idle and while a repair solve runs (`python -m benchmarks.api_load`)."""
