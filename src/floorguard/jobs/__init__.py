"""Batch and scheduled work: plain job functions, an executor (local or Dask), APScheduler."""

from floorguard.jobs.executor import DaskExecutor, Executor, LocalExecutor, get_executor

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "get_executor"]
