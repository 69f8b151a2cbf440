"""The HTTP API (FastAPI) over `scheduler/`, and the `offseason` command line."""
