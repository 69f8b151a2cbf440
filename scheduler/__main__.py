"""`python -m scheduler`: the worker process, same as `offseason worker`."""

from config.settings import get_settings
from scheduler.worker import run_worker

run_worker(get_settings())
