"""Exact COCO evaluation on Dask: ``mean_ap`` over a bag, ``evaluate_frames`` over dataframes.

Needs the ``dask`` extra (``pip install detmetrics[dask]``: ``dask[distributed]``;
the dataframe path also needs ``pandas`` and, to read Parquet, ``pyarrow``).

``detmetrics.Evaluator`` is the unit of work: each partition of images is
matched on the worker that holds it (``Evaluator.update``), leaving a packed
matching state (about 23-25 bytes per kept detection with COCO's defaults,
see ``docs/distributed.md``); the states merge at the root (the calling
process, or a tree of merges on the workers with ``split_every``) and are
computed once there (``compute_merged``: one group of categories at a
time).  Boxes never leave the worker that read them: only states travel.
Whatever scheduler is active runs the graph (the threaded default,
``dask.config.set(scheduler="processes")``, or a ``distributed.Client``).

Images are ordered by their ``image_id`` (it breaks score ties across
images), so the result is the same however the data is partitioned or
ordered, and equals ``detmetrics.mean_ap`` on all the images listed in
increasing ``image_id``: the 12 statistics and the full ``precision``,
``recall``, ``scores`` and ``ap`` arrays.
"""

from __future__ import annotations

import itertools
import numbers
from functools import partial

import numpy as np

from ._inputs import unique_ints
from .ap import Accumulation, accumulate, recall_grid
from .evaluate import Evaluator
from .matching import MatchState, PackedState
from .result import EvaluationResult

__all__ = ["mean_ap", "evaluate_frames", "partition_states", "merged_evaluator", "compute_merged", "frame_records"]

# images validated and matched per Evaluator.update inside a partition (bounds the flat copy)
_CHUNK = 4096


def _require_bag(records):
    import dask.bag as db

    if not isinstance(records, db.Bag):
        raise TypeError(f"records must be a dask.bag.Bag of (image_id, prediction, ground_truth) tuples; "
                        f"got {type(records).__name__}")


def _check_options(options: dict) -> dict:
    """Fail on the client, before any task runs, when an option is wrong."""
    Evaluator(**options)
    return dict(options)


def _image_id(value, position: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"records: the image_id of record {position} of its partition must be an integer; "
                        f"got {value!r} ({type(value).__name__})")
    return int(value)


def _split_record(record, position: int):
    if not isinstance(record, (tuple, list)) or len(record) != 3:
        size = f" of length {len(record)}" if isinstance(record, (tuple, list)) else ""
        raise TypeError(f"records: record {position} of its partition must be an (image_id, prediction, "
                        f"ground_truth) tuple; got a {type(record).__name__}{size}")
    image_id = _image_id(record[0], position)
    for name, value in (("prediction", record[1]), ("ground_truth", record[2])):
        if not isinstance(value, dict):
            raise TypeError(f"records: the {name} of the record with image_id {image_id} must be a dict; "
                            f"got {type(value).__name__}")
    return image_id, record[1], record[2]


def _update(ev: Evaluator, ids: list, preds: list, gts: list, options: dict) -> None:
    """``ev.update`` on one chunk; a bad record is named by its image_id."""
    try:
        ev.update(preds, gts, image_ids=ids)
    except (ValueError, TypeError) as exc:
        for image_id, p, g in zip(ids, preds, gts):  # find the record to blame (rare path)
            try:
                Evaluator(**options).update([p], [g], image_ids=[image_id])
            except (ValueError, TypeError) as one:
                raise type(one)(f"records: the record with image_id {image_id}: {one}") from exc
        raise type(exc)(f"records: the records with image_ids {ids[0]}..{ids[-1]}: {exc}") from exc


def _partition_state(records, options: dict) -> Evaluator:
    """One partition of records -> an Evaluator holding its matched (packed) state."""
    ev = Evaluator(**options)
    seen: set[int] = set()
    position = 0
    iterator = iter(records)
    while True:
        chunk = list(itertools.islice(iterator, _CHUNK))
        if not chunk:
            break
        ids, preds, gts = [], [], []
        for record in chunk:
            image_id, p, g = _split_record(record, position)
            position += 1
            if image_id in seen:
                raise ValueError(f"records: duplicate image_id {image_id} (twice in one partition)")
            seen.add(image_id)
            ids.append(image_id)
            preds.append(p)
            gts.append(g)
        _update(ev, ids, preds, gts, options)
    ev._flush()  # the state a task returns is matched and packed: no boxes are kept or shipped
    return ev


def _merge_into(total: Evaluator, ev: Evaluator) -> None:
    if ev.n_images and total.n_images:
        clash = total._seen.intersection(ev._seen)
        if clash:
            raise ValueError(f"records: duplicate image_id {min(clash)} (in two partitions)")
    total.merge(ev)


def _merge(evaluators, options: dict) -> Evaluator:
    """Merge a list of Evaluators into a new one (the inputs are left as they are)."""
    total = Evaluator(**options)
    for ev in evaluators:
        _merge_into(total, ev)
    return total


def partition_states(records, **options):
    """One ``detmetrics.Evaluator`` per partition of ``records``, as a lazy bag.

    For users who want their own reduction: every element is an Evaluator
    holding only the packed matching state of its partition's images (keyed
    by ``image_id``); merge them in any order and grouping with
    ``Evaluator.merge`` and ``compute`` the root.  Empty partitions give empty
    Evaluators.

    Parameters
    ----------
    records : dask.bag.Bag
        ``(image_id, prediction, ground_truth)`` tuples, ``image_id`` an
        integer unique over the bag, ``prediction`` / ``ground_truth`` the
        per-image dicts ``detmetrics.mean_ap`` takes.
    **options
        The options of ``detmetrics.mean_ap`` (``box_format``,
        ``iou_thresholds``, ``max_detections``, ``area_ranges``,
        ``interpolation``, ``backend``, ``category_ids``, ``matching``).

    Returns
    -------
    dask.bag.Bag
        As many elements as ``records`` has partitions.

    Examples
    --------
    >>> import dask, dask.bag as db
    >>> records = [(i, {"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]},
    ...             {"boxes": [[0, 0, 10, 10 + i]], "labels": [1]}) for i in range(4)]
    >>> with dask.config.set(scheduler="sync"):
    ...     states = partition_states(db.from_sequence(records, npartitions=2)).compute()
    >>> [s.n_images for s in states]
    [2, 2]
    >>> from detmetrics import mean_ap as mean_ap_local
    >>> merged = states[1].merge(states[0]).compute()
    >>> bool(merged.map == mean_ap_local([r[1] for r in records], [r[2] for r in records]).map)
    True
    """
    _require_bag(records)
    options = _check_options(options)
    return records.map_partitions(lambda part: [_partition_state(part, options)])


def _active_client():
    """The ``distributed.Client`` that runs ``.compute()`` now, or None (another scheduler is active)."""
    import dask.base

    try:
        from distributed import Client
    except ImportError:
        return None
    scheduler = dask.base.get_scheduler(collections=None)
    owner = getattr(scheduler, "__self__", None)
    return owner if isinstance(owner, Client) else None


def _merged(records, options: dict, split_every) -> Evaluator:
    """The merged Evaluator of every partition, in this process."""
    if split_every is None:
        # each partition's state comes straight here; a merge only concatenates packed states, so a
        # tree on the workers would move the same bytes more often and make its root hold them all
        states = partition_states(records, **options)
        client = _active_client()
        if client is None:
            return _merge(states.compute(), options)
        # distributed: fetch each state as soon as it is ready and release it, so that a worker never
        # keeps the states of partitions it finished (they would pile up until the last one is done)
        from distributed import as_completed

        total = Evaluator(**options)
        futures = client.compute(states.to_delayed())
        for future in as_completed(futures):
            for ev in future.result():
                _merge_into(total, ev)
            future.release()
        return total
    return records.reduction(partial(_partition_state, options=options), partial(_merge, options=options),
                             split_every=split_every, name="detmetrics-merge").compute()


def merged_evaluator(records, *, split_every: int | None = None, **options) -> Evaluator:
    """The root of ``mean_ap``: one ``Evaluator`` holding every partition's packed state, in this process.

    ``mean_ap(records, **options)`` computes this Evaluator's result; stop here to
    know the state's size (``state_nbytes``), keep it (it pickles) or merge more
    images into it.  Parameters as ``mean_ap``.
    """
    _require_bag(records)
    if split_every is not None and (isinstance(split_every, bool) or not isinstance(split_every, int)
                                    or split_every < 2):
        raise ValueError(f"split_every must be an integer >= 2 or None; got {split_every!r}")
    return _merged(records, _check_options(options), split_every)


# detections per category group of the root's compute (bounds its transient memory)
_GROUP_ROWS = 1_000_000


def compute_merged(ev: Evaluator, *, threads: int = 1) -> EvaluationResult:
    """``ev.compute()`` with a transient memory bounded by groups of categories, not by the dataset.

    The packed states are unpacked and accumulated one group of categories
    (about a million detections) at a time, straight into the result's arrays:
    the peak is the packed state plus the result (its curve data: 8 + 8 +
    ``A * T`` bytes per kept detection) plus the groups in flight, instead of
    about twice the unpacked state.  Categories are accumulated independently,
    so the result is ``ev.compute()``'s exactly.

    Parameters
    ----------
    ev : Evaluator
    threads : int, default 1
        Groups accumulated at once, in threads (the accumulation kernel runs
        without the GIL; each thread holds one group more).  On the shared
        2-core machine of the benchmark, 2 threads measured from 0.7x to 1.3x
        of one, so one is the default.
    """
    import concurrent.futures

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer; got {threads!r}")
    ev._flush()
    states = ev._states
    n_det = sum(state.det_score.shape[0] for state in states)
    if n_det <= _GROUP_ROWS:
        return ev.compute()
    opts = ev._options
    if ev._category_ids is None:
        cats = unique_ints(*[unique_ints(st.det_cat.astype(np.int64), st.gt_cat.astype(np.int64)) for st in states])
    else:
        cats = ev._category_ids
    counts = np.zeros(cats.shape[0], dtype=np.int64)
    for state in states:
        counts += np.bincount(np.searchsorted(cats, state.det_cat), minlength=cats.shape[0])
    bounds, running = [0], 0
    for k, count in enumerate(counts.tolist()):
        if running + count > _GROUP_ROWS and k > bounds[-1]:
            bounds.append(k)
            running = 0
        running += count
    bounds.append(cats.shape[0])
    starts = np.concatenate([[0], np.cumsum(counts)])[bounds].tolist()  # each group's first detection
    n_area, n_thr = len(opts.area_ranges), opts.iou_thresholds.shape[0]
    order = np.empty(n_det, dtype=np.int64)
    det_score = np.empty(n_det, dtype=np.float64)
    det_code = np.empty((n_det, n_area, n_thr), dtype=np.uint8)

    def group(g: int):
        k0, k1, base = bounds[g], bounds[g + 1], starts[g]
        lo, hi = np.int64(cats[k0]), np.int64(cats[k1 - 1])
        parts = []
        for state in states:
            d = (state.det_cat >= lo) & (state.det_cat <= hi)
            m = (state.gt_cat >= lo) & (state.gt_cat <= hi)
            parts.append(PackedState(state.n_area, state.n_thr, state.det_cat[d], state.det_img[d],
                                     state.det_score[d], state.det_rank[d], state.det_tp[d], state.det_fp[d],
                                     state.gt_cat[m], state.gt_img[m], state.gt_ignored[m]).unpack())
        matched = MatchState.concat(parts).sorted()
        del parts
        acc = accumulate(matched, opts, cats[k0:k1])
        size = matched.det_score.shape[0]
        order[base:base + size] = acc.order + base  # the groups write disjoint slices
        det_score[base:base + size] = acc.det_score
        det_code[base:base + size] = acc.det_code
        return acc.cat_offsets[:-1] + base, acc.precision, acc.recall, acc.scores, acc.ap, acc.n_gt

    n_groups = len(bounds) - 1
    if threads == 1 or n_groups == 1:
        pieces = [group(g) for g in range(n_groups)]
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(threads, n_groups)) as pool:
            pieces = list(pool.map(group, range(n_groups)))
    offsets, precision, recall, scores, ap, n_gt = zip(*pieces)
    acc = Accumulation(cats, recall_grid(opts), np.concatenate(precision, axis=2),
                       np.concatenate(recall, axis=1), np.concatenate(scores, axis=2), np.concatenate(ap, axis=1),
                       np.concatenate(n_gt, axis=0), np.append(np.concatenate(offsets), n_det).astype(np.int64),
                       order, det_score, det_code)
    return EvaluationResult.from_accumulation(acc, opts)


def mean_ap(records, *, split_every: int | None = None, **options) -> EvaluationResult:
    """``detmetrics.mean_ap`` of a ``dask.bag.Bag`` of ``(image_id, prediction, ground_truth)`` tuples.

    Each partition is matched where it lives (``Evaluator.update``) into a
    packed state (a few tens of bytes per kept detection); the states come to
    the calling process (by default each straight from its worker; with
    ``split_every`` through a tree of merges on the workers), which merges
    them and computes the result (``compute_merged``).  Runs on the active
    Dask scheduler.

    Parameters
    ----------
    records : dask.bag.Bag
        ``(image_id, prediction, ground_truth)`` tuples: ``image_id`` an
        integer, unique over the bag (it orders the images); ``prediction``
        and ``ground_truth`` per-image dicts as ``detmetrics.mean_ap`` takes
        them (axis-aligned, rotated ``(N, 5)`` or quad ``(N, 4, 2)`` boxes).
        Partitions may be empty and in any order.
    split_every : int, optional
        Merge the states on the workers in a tree of this fan-in
        (``dask.bag.Bag.reduction``) and bring only its root here.  Default
        None: no merging on the workers, so no worker ever holds more than
        its own partitions' states (a merge concatenates packed states, so a
        tree saves no bytes; it only gives fewer, larger transfers).
    **options
        Every option of ``detmetrics.mean_ap``: ``box_format``,
        ``iou_thresholds``, ``max_detections``, ``area_ranges``,
        ``interpolation``, ``backend``, ``category_ids``, ``matching``.

    Returns
    -------
    EvaluationResult
        Equal to ``detmetrics.mean_ap`` on the images in increasing
        ``image_id``.

    Raises
    ------
    TypeError, ValueError
        At once for a ``records`` that is not a bag or a bad option; at
        compute time for a bad record (named by its ``image_id``) or a
        duplicate ``image_id``.

    Examples
    --------
    >>> import dask, dask.bag as db
    >>> from detmetrics import mean_ap as mean_ap_local
    >>> preds = [{"boxes": [[0, 0, 10, 10]], "scores": [0.9], "labels": [1]}] * 3
    >>> gts = [{"boxes": [[0, 0, 10, 10 + i]], "labels": [1]} for i in range(3)]
    >>> bag = db.from_sequence([(i, p, g) for i, p, g in zip([7, 3, 5], preds, gts)], npartitions=2)
    >>> with dask.config.set(scheduler="sync"):
    ...     r = mean_ap(bag)
    >>> local = mean_ap_local([preds[1], preds[2], preds[0]], [gts[1], gts[2], gts[0]])  # ids 3, 5, 7
    >>> bool((r.stats == local.stats).all())
    True
    """
    return compute_merged(merged_evaluator(records, split_every=split_every, **options))


# ----------------------------------------------------------------------------------------------
# dataframes


def _require_frame(frame, name: str):
    try:
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - the extra names pandas
        raise ImportError("detmetrics.dask.evaluate_frames needs dask.dataframe (pip install 'dask[dataframe]')") \
            from exc
    if not isinstance(frame, dd.DataFrame):
        raise TypeError(f"{name} must be a dask.dataframe.DataFrame indexed by image_id; got {type(frame).__name__}")
    if frame.index.name != "image_id":
        raise ValueError(f"{name} must be indexed by image_id (frame.set_index('image_id')); "
                         f"its index is {frame.index.name!r}")
    if not frame.known_divisions:
        raise ValueError(f"{name} must have known divisions: index it with set_index('image_id') "
                         "(or read the Parquet with calculate_divisions=True)")
    if not np.issubdtype(np.dtype(frame.index.dtype), np.integer):
        raise TypeError(f"{name}'s image_id index must hold integers; got dtype {frame.index.dtype}")


def _require_columns(frame, name: str, required, optional=()) -> list:
    columns = list(frame.columns)
    missing = [c for c in required if c not in columns]
    if missing:
        raise ValueError(f"{name} has no column(s) {missing}; it has {columns}")
    return list(required) + [c for c in optional if c in columns]


def _aligned(ground_truth, detections):
    """Both frames repartitioned on the union of their divisions (partition i of both = the same id range)."""
    if tuple(ground_truth.divisions) == tuple(detections.divisions):
        return ground_truth, detections
    divisions = sorted(set(ground_truth.divisions) | set(detections.divisions))
    return (ground_truth.repartition(divisions=divisions, force=True),
            detections.repartition(divisions=divisions, force=True))


def _boxes(values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 8:  # quads: x1 y1 ... x4 y4
        return values.reshape(-1, 4, 2)
    return values


def _frame_records(gt, det, box_columns, gt_extra):
    """Two pandas partitions (same image-id range) -> the ``(image_id, prediction, ground_truth)`` records."""
    g_ids = gt.index.to_numpy().astype(np.int64, copy=False)
    d_ids = det.index.to_numpy().astype(np.int64, copy=False)
    g_order = np.argsort(g_ids, kind="stable")  # rows keep their order inside an image
    d_order = np.argsort(d_ids, kind="stable")
    g_ids, d_ids = g_ids[g_order], d_ids[d_order]
    columns = list(box_columns)
    g_box = _boxes(gt[columns].to_numpy(dtype=np.float64)[g_order])
    d_box = _boxes(det[columns].to_numpy(dtype=np.float64)[d_order])
    g_label = gt["category_id"].to_numpy()[g_order]
    d_label = det["category_id"].to_numpy()[d_order]
    d_score = det["score"].to_numpy()[d_order]
    extra = {name: gt[name].to_numpy()[g_order] for name in gt_extra}
    ids = np.union1d(g_ids, d_ids)
    g_cut = np.searchsorted(g_ids, ids, side="left"), np.searchsorted(g_ids, ids, side="right")
    d_cut = np.searchsorted(d_ids, ids, side="left"), np.searchsorted(d_ids, ids, side="right")
    out = []
    for i, image_id in enumerate(ids.tolist()):
        g0, g1, d0, d1 = g_cut[0][i], g_cut[1][i], d_cut[0][i], d_cut[1][i]
        prediction = {"boxes": d_box[d0:d1], "scores": d_score[d0:d1], "labels": d_label[d0:d1]}
        truth = {"boxes": g_box[g0:g1], "labels": g_label[g0:g1]}
        for name, values in extra.items():
            truth[name] = values[g0:g1]
        out.append((image_id, prediction, truth))
    return out


def frame_records(ground_truth, detections, *, box_columns=("x", "y", "w", "h")):
    """The ``(image_id, prediction, ground_truth)`` bag of two image-indexed dataframes (see ``evaluate_frames``)."""
    import dask
    import dask.bag as db

    if isinstance(box_columns, str) or len(box_columns) not in (4, 5, 8):
        raise ValueError(f"box_columns must name 4 (axis-aligned), 5 (rotated) or 8 (quad) columns; "
                         f"got {box_columns!r}")
    _require_frame(ground_truth, "ground_truth")
    _require_frame(detections, "detections")
    gt_columns = _require_columns(ground_truth, "ground_truth", ["category_id", *box_columns],
                                  ("iscrowd", "area", "difficult"))
    det_columns = _require_columns(detections, "detections", ["category_id", "score", *box_columns])
    gt_extra = [c for c in gt_columns if c in ("iscrowd", "area", "difficult")]
    gt_frame, det_frame = _aligned(ground_truth[gt_columns], detections[det_columns])
    build = dask.delayed(_frame_records, pure=True)
    parts = [build(g, d, tuple(box_columns), tuple(gt_extra))
             for g, d in zip(gt_frame.to_delayed(), det_frame.to_delayed())]
    return db.from_delayed(parts)


def evaluate_frames(ground_truth, detections, *, box_columns=("x", "y", "w", "h"), box_format: str = "xywh",
                    split_every: int | None = None, **options) -> EvaluationResult:
    """COCO evaluation of two long tables (one row per box) held as Dask dataframes, e.g. from Parquet.

    Parameters
    ----------
    ground_truth : dask.dataframe.DataFrame
        Indexed by ``image_id`` (integers) with known divisions (what
        ``set_index("image_id")`` gives, or ``read_parquet(...,
        calculate_divisions=True)`` of such a table); columns
        ``category_id``, the ``box_columns`` and optionally ``iscrowd``,
        ``area`` and ``difficult``.
    detections : dask.dataframe.DataFrame
        Indexed the same way; columns ``category_id``, ``score`` and the
        ``box_columns``.
    box_columns : sequence of str
        The box's columns: 4 (axis-aligned, read in ``box_format``), 5
        (rotated ``cx, cy, w, h, angle``) or 8 (quad corners ``x1, y1, ...,
        x4, y4``).  Default COCO's ``x, y, w, h``.
    box_format : {"xywh", "xyxy", "cxcywh"}
        For 4 box columns; default ``"xywh"`` (COCO's ``bbox``).
    split_every : int, optional
        As ``detmetrics.dask.mean_ap``.
    **options
        The other options of ``detmetrics.mean_ap``.

    Returns
    -------
    EvaluationResult
        Equal to ``detmetrics.dask.mean_ap`` on the records of the images
        that have a row in either table (an image without any box counts for
        nothing), hence to ``detmetrics.mean_ap`` on them by increasing
        ``image_id``.

    Notes
    -----
    Alignment: partition ``i`` of both tables must cover the same range of
    image ids.  When the two tables' divisions differ, both are repartitioned
    on the union of their divisions (a cheap split of partitions, no
    shuffle), so every image's ground truth and detections meet in one task.
    Inside an image, rows keep their order in the partition, which breaks
    score ties between its detections (as the list order does in
    ``detmetrics.mean_ap``).
    """
    options = _check_options({**options, "box_format": box_format})
    records = frame_records(ground_truth, detections, box_columns=box_columns)
    return mean_ap(records, split_every=split_every, **options)
