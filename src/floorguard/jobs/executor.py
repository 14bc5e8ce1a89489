"""Where batch work runs: in this process, or on a Dask distributed cluster.

``get_executor(settings)`` returns a :class:`DaskExecutor` when
``FLOORGUARD_DASK_SCHEDULER`` (``settings.dask_scheduler``) names a scheduler
address, else a :class:`LocalExecutor`. Both run a plain, picklable function
over a list of items and return the results in order; a failing item raises
(batch functions catch their own domain errors and return them as results).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

from floorguard.exceptions import ConfigurationError

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "get_executor"]

T = TypeVar("T")
R = TypeVar("R")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` over ``items``; results in the order of ``items``."""

    name: str

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        ...

    def close(self) -> None:
        ...


class LocalExecutor:
    """In this process: sequential (``max_workers=1``) or on a thread pool."""

    name = "local"

    def __init__(self, max_workers: int = 1) -> None:
        self.max_workers = max(1, int(max_workers))

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self.max_workers == 1 or len(items) <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return list(pool.map(fn, items))

    def close(self) -> None:
        return None


class DaskExecutor:
    """On a Dask distributed cluster.

    Parameters
    ----------
    address : str or None
        Scheduler address (``tcp://host:8786``); ignored when ``client`` is given.
    client : distributed.Client, optional
        An existing client (tests pass one connected to a ``LocalCluster``).
    timeout : float
        Seconds to wait for the scheduler when connecting.
    """

    name = "dask"

    def __init__(self, address: str | None = None, *, client: Any | None = None, timeout: float = 10.0) -> None:
        if client is None:
            try:
                from distributed import Client
            except ImportError as exc:  # pragma: no cover - dask is a test dependency
                raise ConfigurationError("FLOORGUARD_DASK_SCHEDULER needs 'pip install floorguard[dask]'") from exc
            if not address:
                raise ConfigurationError("a Dask scheduler address is required")
            try:
                client = Client(address, timeout=timeout)
            except OSError as exc:
                raise ConfigurationError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
            self._owns = True
        else:
            self._owns = False
        self.client = client

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if not items:
            return []
        futures = self.client.map(fn, list(items), pure=False)
        return list(self.client.gather(futures))

    def close(self) -> None:
        if self._owns:
            self.client.close()


def get_executor(settings: Any) -> Executor:
    """Dask when ``settings.dask_scheduler`` is set, else local."""
    if getattr(settings, "dask_scheduler", None):
        return DaskExecutor(settings.dask_scheduler)
    return LocalExecutor()
