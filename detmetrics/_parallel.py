"""``detmetrics eval --workers N``: the images of a loaded dataset matched on N local processes.

The dataset is read once (``detmetrics.io``); its images are cut into
contiguous shards, each shard is matched in a worker process by an
``Evaluator`` keyed by the images' positions, and only the packed states come
back; they merge in the parent and ``compute`` there.  Keyed by position, the
merged result is exactly ``mean_ap`` on the whole dataset (what
``--workers 1`` computes), whatever order the shards finish in.
"""

from __future__ import annotations

import sys

import numpy as np

from .evaluate import Evaluator
from .result import EvaluationResult

__all__ = ["evaluate_sharded", "evaluate_files_sharded", "shard_bounds"]

# images per shard at most (more shards than workers: an even load and a moving progress bar)
_SHARD_IMAGES = 2000


def shard_bounds(n_images: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous ``(start, stop)`` image ranges: at least ``4 * workers`` shards of at most 2000 images.

    >>> shard_bounds(10, 1)
    [(0, 2), (2, 5), (5, 8), (8, 10)]
    >>> shard_bounds(0, 2)
    []
    """
    if n_images == 0:
        return []
    n = min(n_images, max(4 * workers, -(-n_images // _SHARD_IMAGES)))
    cuts = np.linspace(0, n_images, n + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _match_shard(start: int, predictions: list, ground_truths: list, options: dict) -> Evaluator:
    ev = Evaluator(**options)
    ev.update(predictions, ground_truths, image_ids=np.arange(start, start + len(predictions)))
    ev._flush()  # packed before it is pickled back
    return ev


def _bar(total: int, progress):
    if progress is None:
        progress = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a convenience
        return None
    return tqdm(total=total, desc="matching", unit="img", leave=False, file=sys.stderr)


def evaluate_sharded(predictions: list, ground_truths: list, *, workers: int, progress=None,
                     **options) -> EvaluationResult:
    """``mean_ap(predictions, ground_truths, **options)`` with the matching spread over ``workers`` processes.

    Parameters
    ----------
    predictions, ground_truths : list of dict
        Per-image dicts as ``mean_ap`` takes them (same length).
    workers : int
        Worker processes (>= 1; 1 runs the shards in this process).
    progress : bool, optional
        A tqdm bar of the images matched (default: when stderr is a terminal).
    **options
        The options of ``mean_ap``.

    Returns
    -------
    EvaluationResult
        The same as ``mean_ap(predictions, ground_truths, **options)``.
    """
    import concurrent.futures
    import multiprocessing

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    if len(predictions) != len(ground_truths):
        raise ValueError(f"predictions cover {len(predictions)} images but ground_truths {len(ground_truths)}")
    total = Evaluator(**options)  # bad options fail here, before any process starts
    bounds = shard_bounds(len(predictions), workers)
    bar = _bar(len(predictions), progress)
    try:
        if workers == 1:
            for a, b in bounds:
                total.merge(_match_shard(a, predictions[a:b], ground_truths[a:b], options))
                if bar is not None:
                    bar.update(b - a)
        else:
            # spawn: a clean interpreter per worker (no fork of a process holding threads)
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(_match_shard, a, predictions[a:b], ground_truths[a:b], options): b - a
                           for a, b in bounds}
                for future in concurrent.futures.as_completed(futures):
                    total.merge(future.result())
                    if bar is not None:
                        bar.update(futures[future])
    finally:
        if bar is not None:
            bar.close()
    return total.compute()


def evaluate_files_sharded(ground_truth, predictions, *, workers: int, progress=None, **options):
    """``detmetrics.evaluate.evaluate_files`` on read ``DetectionData``, matched over ``workers`` processes.

    Returns the same ``(EvaluationResult, DetectionData)``.
    """
    if len(predictions) != len(ground_truth):
        raise ValueError(f"predictions cover {len(predictions)} images but the ground truth has {len(ground_truth)}")
    iou_type = options.get("iou_type", "bbox")
    result = evaluate_sharded(predictions.records_for(iou_type), ground_truth.records_for(iou_type), workers=workers,
                              progress=progress, **{**ground_truth.mean_ap_kwargs(iou_type), **options})
    names = ground_truth.class_names
    result.category_names = {c: names[c] for c in result.category_ids if c in names}
    return result, ground_truth
