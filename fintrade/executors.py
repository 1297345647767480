"""Where the chunks of a sweep, a walk-forward or a scoring run execute.

Three executors run the same chunk functions and give the same results:

- ``local`` (the default): one chunk after another in this process; Ray is never imported.
- ``processes``: a pool of forked processes on this machine's cores. Forking hands each worker
  the strategy, the plugins and the bars without pickling them.
- ``ray``: tasks on a Ray cluster (``address="auto"`` or ``"host:port"``), or on a Ray started
  here when no address is given. What every task shares (the bars) goes into the object store
  once; each task carries only its chunk.

A chunk whose worker dies (killed, out of memory) is retried up to :data:`MAX_RETRIES` times;
one that still dies stops the run with a :class:`ChunkFailed` that names it. A chunk that
raises is not retried (the same input fails the same way): a fintrade error (a plugin's
failure, which already names the plugin and the parameters it was called with) stops the run
as it is, any other exception as a :class:`ChunkFailed` naming the chunk. A run never returns
partial results: either every chunk's result is yielded or it raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fintrade.errors import ConfigError, FintradeError

if TYPE_CHECKING:
    from concurrent.futures import Future

EXECUTORS: tuple[str, ...] = ("local", "processes", "ray")
MAX_RETRIES = 2
"""Times a chunk is run again after its worker died; bounded so that a chunk that always kills
its worker (out of memory) fails the run instead of looping."""

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")
Shared = TypeVar("Shared")


class ChunkFailed(FintradeError):
    """A chunk failed for good: it raised, or its worker died more than :data:`MAX_RETRIES` times."""


@dataclass(frozen=True)
class Executor:
    """Which executor runs the chunks, and where.

    ``workers``: processes in the pool, or Ray CPUs started for a local Ray (None: every core).
    ``address``: the Ray cluster to join (``"auto"``, ``"host:port"``); None starts a local one.
    """

    name: str = "local"
    address: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.name not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.name!r}: choose one of {', '.join(EXECUTORS)}")
        if self.address is not None and self.name != "ray":
            raise ConfigError(f"a Ray address ({self.address!r}) needs the ray executor, not {self.name!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or int(self.workers) < 1):
            raise ConfigError(f"executor workers must be a positive integer, got {self.workers!r}")

    @property
    def parallel(self) -> int:
        """How many chunks run at once (what chunk sizes are planned for)."""
        if self.name == "local":
            return 1
        return self.workers or os.cpu_count() or 1

    def describe(self) -> dict[str, Any]:
        """For the run manifest."""
        return {"name": self.name, "address": self.address, "workers": self.workers}


def executor_from(setting: Executor | str | None, address: str | None = None) -> Executor:
    """An :class:`Executor` from a strategy's or the command line's setting (``"ray"``, an Executor).

    ``address`` (``--ray-address``) joins a Ray cluster: it needs the ray executor, which it implies
    when no executor is named (``FINTRADE_EXECUTOR`` is then not read).
    """
    if isinstance(setting, Executor):
        return setting if address is None else Executor(setting.name, address, setting.workers)
    if setting is None:
        setting = "ray" if address else (os.environ.get("FINTRADE_EXECUTOR", "").strip() or "local")
    if not isinstance(setting, str):
        raise ConfigError(f"executor = {setting!r}: give 'local', 'processes', 'ray' or Executor(...)")
    return Executor(setting, address)


_active = Executor()


def active() -> Executor:
    """The executor of the run in progress (plugins read it to run their own batch work on it)."""
    return _active


# Whether this process connected to Ray itself (ray_session), rather than finding it connected.
_connected_here = False


@contextlib.contextmanager
def using(executor: Executor) -> Iterator[Executor]:
    """Make ``executor`` the active one for the duration of a run. A Ray the run connected to (or
    started) is shut down when it ends; one that was already connected stays."""
    global _active, _connected_here
    previous, _active = _active, executor
    connected_before = _connected_here
    try:
        yield executor
    finally:
        _active = previous
        if _connected_here and not connected_before:
            import ray

            ray.shutdown()
            _connected_here = False


def run_chunks(
    executor: Executor,
    function: Callable[[Shared, Chunk], Result],
    shared: Shared,
    chunks: Sequence[Chunk],
    *,
    name: Callable[[Chunk], str] = str,
    by_value: Sequence[Any] = (),
) -> Iterator[tuple[int, Result]]:
    """``(position, function(shared, chunk))`` for every chunk, as each finishes.

    Results are yielded, not collected, so that a caller can reduce or store each one and let it
    go before the next arrives. ``by_value``: objects (a strategy) whose modules Ray workers
    cannot import, so they travel with the tasks.
    """
    if executor.name == "local" or (len(chunks) <= 1 and executor.name == "processes"):
        for position, chunk in enumerate(chunks):
            yield position, _call(function, shared, chunk, name)
    elif executor.name == "processes":
        yield from _run_processes(executor, function, shared, chunks, name)
    else:
        yield from _run_ray(executor, function, shared, chunks, name, by_value)


def _call(
    function: Callable[[Shared, Chunk], Result], shared: Shared, chunk: Chunk, name: Callable[[Chunk], str]
) -> Result:
    try:
        return function(shared, chunk)
    except FintradeError:
        raise
    except Exception as exc:  # a plugin's bug: say which chunk, keep the cause chained
        raise ChunkFailed(f"{name(chunk)} failed: {type(exc).__name__}: {exc}") from exc


# Forked workers find what every chunk shares here: fork copies it, nothing is pickled. A worker
# marks each chunk it starts and finishes in shared memory, so that when one dies the parent knows
# which chunks were running (one of them killed it) and which had not started.
_forked: tuple[Callable[..., Any], Any, Sequence[Any], Any] | None = None
_STARTED, _FINISHED = 1, 2


def _forked_call(position: int) -> Any:
    assert _forked is not None
    function, shared, chunks, states = _forked
    states[position] = _STARTED
    result = function(shared, chunks[position])
    states[position] = _FINISHED
    return result


def _run_processes(
    executor: Executor,
    function: Callable[[Shared, Chunk], Result],
    shared: Shared,
    chunks: Sequence[Chunk],
    name: Callable[[Chunk], str],
) -> Iterator[tuple[int, Result]]:
    """Chunks on a pool of forked workers. A worker's death breaks the whole pool: the chunks that
    were running then count a death each and run again one at a time, so that a chunk that keeps
    killing its worker is the one named; chunks that had not started run again in a fresh pool."""
    # Imported here: `import fintrade` (every CLI start) needs neither.
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    global _forked
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ConfigError("the processes executor needs fork (Linux, macOS); use local or ray here")
    context = multiprocessing.get_context("fork")
    states = context.Array("b", len(chunks), lock=False)
    pending = list(range(len(chunks)))
    suspects: list[int] = []
    deaths = dict.fromkeys(pending, 0)
    _forked = (function, shared, chunks, states)
    try:
        while pending or suspects:
            alone = bool(suspects)
            batch = [suspects.pop(0)] if alone else pending
            workers = 1 if alone else min(executor.parallel, len(batch))
            unfinished = set(batch)
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures: dict[Future[Any], int] = {pool.submit(_forked_call, p): p for p in batch}
                broken = False
                while futures:
                    complete, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in complete:
                        position = futures.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        except FintradeError:
                            raise
                        except Exception as exc:
                            raise ChunkFailed(f"{name(chunks[position])} failed: {type(exc).__name__}: {exc}") from exc
                        unfinished.discard(position)
                        yield position, result
            pending = [p for p in pending if p in unfinished] if not alone else pending
            if not broken:
                continue
            running = [p for p in sorted(unfinished) if states[p] == _STARTED]
            for position in running:
                deaths[position] += 1
                if deaths[position] > MAX_RETRIES:
                    raise ChunkFailed(
                        f"{name(chunks[position])} failed: its worker died {deaths[position]} times (killed, or out "
                        f"of memory); lower the memory budget (--max-memory) for smaller blocks"
                    )
                states[position] = 0
                if position not in suspects:
                    suspects.append(position)
            pending = [p for p in pending if p not in running]
    finally:
        _forked = None


def ray_session(address: str | None, workers: int | None = None) -> Any:
    """Ray, connected: to ``address``, or to a Ray started here with ``workers`` CPUs."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the ray executor needs Ray: pip install 'fintrade[ray]'") from exc
    global _connected_here
    if not ray.is_initialized():
        if address is not None:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConfigError(
                    f"cannot join the Ray cluster at {address!r}: {reason}; start one with `ray start --head`, "
                    f"or leave out --ray-address to start a Ray here"
                ) from None
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        _connected_here = True
    return ray


def _run_ray(
    executor: Executor,
    function: Callable[[Shared, Chunk], Result],
    shared: Shared,
    chunks: Sequence[Chunk],
    name: Callable[[Chunk], str],
    by_value: Sequence[Any],
) -> Iterator[tuple[int, Result]]:
    ray = ray_session(executor.address, executor.workers)
    from ray.exceptions import OutOfMemoryError, RayTaskError, WorkerCrashedError

    _ship_by_value(by_value)
    shared_ref = ray.put(shared)  # once: every task reads the same copy from the object store
    remote = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_ray_call)
    # In a list, the reference reaches the task unresolved: each worker resolves it once.
    refs = {remote.remote(function, [shared_ref], chunk): position for position, chunk in enumerate(chunks)}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                position = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except OutOfMemoryError as exc:
                    raise ChunkFailed(
                        f"{name(chunks[position])} ran out of memory on its worker {MAX_RETRIES + 1} times; "
                        f"lower the memory budget (--max-memory) for smaller blocks"
                    ) from exc
                except WorkerCrashedError as exc:
                    raise ChunkFailed(
                        f"{name(chunks[position])} failed: its worker died {MAX_RETRIES + 1} times (killed, or out "
                        f"of memory); lower the memory budget (--max-memory) for smaller blocks"
                    ) from exc
                except RayTaskError as exc:
                    cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                    if isinstance(cause, FintradeError):
                        raise cause from None
                    raise ChunkFailed(f"{name(chunks[position])} failed: {type(cause).__name__}: {cause}") from exc
                yield position, result
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)


# A Ray worker's copy of what a run's chunks share, by object reference: deserialised (strategy
# classes rebuilt, frames unpickled) once per worker rather than once per task.
_worker_shared: dict[str, Any] = {}


def _ray_call(function: Callable[[Any, Any], Any], holder: list[Any], chunk: Any) -> Any:
    import ray

    reference = holder[0]
    key = reference.hex()
    if key not in _worker_shared:
        _worker_shared.clear()  # one run's data at a time
        _worker_shared[key] = ray.get(reference)
    return function(_worker_shared[key], chunk)


def _ship_by_value(objects: Sequence[Any]) -> None:
    """Ship the modules these objects' classes are written in by value: a strategy file, a notebook
    or a test module is not importable on a worker, and its inline plugins' functions live there too."""
    import sys

    from ray import cloudpickle

    for value in objects:
        for cls in type(value).__mro__:
            name = cls.__module__
            module = sys.modules.get(name)
            if module is not None and name not in ("__main__", "builtins") and name.split(".")[0] != "fintrade":
                cloudpickle.register_pickle_by_value(module)
