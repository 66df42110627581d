"""Training frames from many lamps, spread over worker processes.

Lamps are simulated in fixed groups of :data:`GROUP` (large enough to
amortise numpy's per-call overhead, small enough to stay in cache); a group is always the same lamps with
the same seeds whichever process runs it, so the frames do not depend on the
worker count. Each worker streams chunks of rendered frames back; the parent
places them at each lamp's offset in the output.
"""
from __future__ import annotations

import ctypes
import glob
import os
import queue
import sys
import traceback

import numpy as np

GROUP = 8                  # lamps stepped together in one process
CHUNK = 32                 # frames per lamp per message
FRAMES_PER_LAMP = 2000     # default segment length when the lamp count is not given


_PINNED = False


def single_thread_blas() -> None:
    """Pin numpy's OpenBLAS to one thread (once per process).

    The transforms here are small GEMMs; OpenBLAS threads on a shared 2-core
    machine made a step about 10x slower. Environment variables are too late
    once numpy is imported, so ask the library itself.
    """
    global _PINNED
    if _PINNED:
        return
    _PINNED = True
    import numpy

    pattern = os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "*openblas*")
    for path in glob.glob(pattern):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(1)
                return


def split_segments(n_frames: int, n_lamps: int) -> list[int]:
    """Frames per lamp, as even as possible, earlier lamps taking the remainder."""
    base, extra = divmod(n_frames, n_lamps)
    return [base + (k < extra) for k in range(n_lamps) if base + (k < extra) > 0]


def default_lamps(n_frames: int) -> int:
    """One lamp per FRAMES_PER_LAMP frames, in whole pairs of groups when there are
    many (so two workers get equal shares)."""
    n = int(np.clip(n_frames // FRAMES_PER_LAMP, 1, 256))
    return n - n % (2 * GROUP) if n >= 2 * GROUP else n


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _group_chunks(spec: dict):
    """Yield (first_lamp, start, frames (chunk, lamps, S, S, 3)) for one group."""
    from .simulator import LavaLamp, LampParams

    params = LampParams.from_dict(spec["params"])
    lamp = LavaLamp(len(spec["lengths"]), seed=spec["seed"], params=params,
                    first_lamp=spec["first_lamp"])
    skips = spec.get("skips") or [0] * len(spec["lengths"])
    total = max(k + n for k, n in zip(skips, spec["lengths"]))
    for start in range(0, total, CHUNK):
        count = min(CHUNK, total - start)
        if not any(k < start + count and start < k + n for k, n in zip(skips, spec["lengths"])):
            # no lamp of the group records a frame of this chunk: run, draw nothing
            steps = spec["stride"] * (count - (start == 0))
            if steps:
                lamp.step(steps)
            continue
        frames = np.empty((count, lamp.n, spec["size"], spec["size"], 3), np.uint8)
        for k in range(count):
            if start + k > 0:
                lamp.step(spec["stride"])
            frames[k] = lamp.render(spec["size"], spec["palette"])
        if not (np.isfinite(lamp.phi).all() and np.isfinite(lamp.temperature).all()):
            from .simulator import SimulatorError

            raise SimulatorError("the simulation became unstable (values are no longer finite); "
                                 "use a smaller dt or weaker forces.")
        yield spec["first_lamp"], start, frames


def _worker(jobs, results) -> None:
    import signal

    from .simulator import SimulatorError

    # Ctrl-C reaches the whole process group: the parent stops and ends its workers, which stay quiet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    single_thread_blas()
    while True:
        spec = jobs.get()
        if spec is None:
            return
        try:
            for msg in _group_chunks(spec):
                results.put(("frames",) + msg)
            results.put(("done", spec["first_lamp"]))
        except SimulatorError as e:      # one sentence, raised again in the parent
            results.put(("fail", str(e)))
            return
        except Exception:  # reported to the parent, which raises it
            results.put(("error", traceback.format_exc()))
            return


def run(n_frames: int, size: int, seed: int, stride: int, palette: str, params,
        n_lamps: int, workers: int, progress: bool, out=None, ages: list[int] | None = None
        ) -> tuple[np.ndarray, list[int]]:
    """The frames and segments :func:`simulate_frames` returns; lamp k first runs ``ages[k]``
    frames unrecorded when ``ages`` is given (one per lamp)."""
    segments = split_segments(n_frames, n_lamps)
    skips = [0] * len(segments) if ages is None else [int(a) for a in ages]
    offsets = np.concatenate([[0], np.cumsum(segments)])
    if out is None:
        out = np.empty((n_frames, size, size, 3), np.uint8)
    specs = [dict(params=params.to_dict(), seed=seed, first_lamp=g, size=size, stride=stride,
                  palette=palette, lengths=segments[g:g + GROUP], skips=skips[g:g + GROUP])
             for g in range(0, len(segments), GROUP)]

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_frames, unit="frame", desc="simulating", file=sys.stderr)

    def place(first, start, frames):
        for j in range(frames.shape[1]):
            lamp = first + j
            lo = max(skips[lamp] - start, 0)          # the chunk's first frame this lamp records
            at = start + lo - skips[lamp]             # where that frame goes in the lamp's segment
            keep = min(len(frames) - lo, segments[lamp] - at)
            if keep > 0:
                out[offsets[lamp] + at: offsets[lamp] + at + keep] = frames[lo:lo + keep, j]
                if bar is not None:
                    bar.update(keep)

    workers = max(1, min(workers, len(specs)))
    try:
        if workers == 1:
            single_thread_blas()
            for spec in specs:
                for msg in _group_chunks(spec):
                    place(*msg)
        else:
            _run_pool(specs, workers, place)
    finally:
        if bar is not None:
            bar.close()
    return out, segments


def _run_pool(specs: list[dict], workers: int, place) -> None:
    import multiprocessing as mp

    # fork: callers need no `if __name__ == "__main__"` guard, and children touch
    # numpy only, never the parent's torch threads.
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    jobs, results = ctx.Queue(), ctx.Queue()
    for spec in specs:
        jobs.put(spec)
    for _ in range(workers):
        jobs.put(None)
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    procs = [ctx.Process(target=_worker, args=(jobs, results), daemon=True) for _ in range(workers)]
    try:
        for p in procs:
            p.start()
    finally:
        if saved is None:
            os.environ.pop("OPENBLAS_NUM_THREADS", None)
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    done = 0
    try:
        while done < len(specs):
            try:
                msg = results.get(timeout=1.0)
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("every simulator worker stopped before the frames were done.")
                continue
            if msg[0] == "frames":
                place(*msg[1:])
            elif msg[0] == "done":
                done += 1
            elif msg[0] == "fail":
                from .simulator import SimulatorError

                raise SimulatorError(msg[1])
            else:
                raise RuntimeError(f"a simulator worker failed:\n{msg[1]}")
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
