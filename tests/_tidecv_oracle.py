"""tidecv (TIDE, Bolya et al. 2020) as an oracle process for ``tests/test_errors.py``.

    python tests/_tidecv_oracle.py

reads one JSON request per line on stdin and answers one JSON line on stdout.  The first line
it prints is ``{"ready": version}`` or ``{"missing": reason}`` (tidecv not importable).  It runs
in its own process because importing tidecv imports ``matplotlib.pyplot``, seaborn and pandas,
which must not leak into the test process (``tests/test_plots.py`` holds pyplot out of it).

A request is ``{"images": [[pred, gt], ...], "fg_iou", "bg_iou", "max_dets"}`` with per-image
dicts of nested lists (xywh ``boxes``; ``iscrowd`` / ``difficult`` ground truths become tidecv
ignore regions, as its COCO reader makes crowds), or ``{"coco": [gt_path, results_path]}``
for tidecv's own COCO readers.  The answer holds ``ap``, ``counts``, ``main`` and ``special``
(the dAPs ``TIDE.get_all_errors`` reports), ``fixed_all`` (every main error fixed),
``per_class`` (label -> ``{"ap", "fixed": {type: class AP with that type fixed}}``) and
``class_counts`` (label -> errors per type, a detection's error in its class, a miss in the
ground truth's), labels as strings; or ``{"error": name}`` when tidecv raised.  Only tidecv
and the standard library are used, never detmetrics.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

TYPES = (("cls", "ClassError"), ("loc", "BoxError"), ("both", "OtherError"), ("dupe", "DuplicateError"),
         ("bkg", "BackgroundError"), ("miss", "MissedError"))


def _data_from_images(tidecv, images, max_dets):
    gt_data = tidecv.Data("gt", max_dets=max_dets)
    pred_data = tidecv.Data("pred", max_dets=max_dets)
    for i in range(len(images)):
        gt_data.add_image(i, f"image {i}")  # every image, in order (empty ones too)
    for i, (pred, gt) in enumerate(images):
        flags = [False] * len(gt["labels"])
        for key in ("iscrowd", "difficult"):
            for k, value in enumerate(gt.get(key) or []):
                flags[k] = flags[k] or bool(value)
        for box, label, flag in zip(gt["boxes"], gt["labels"], flags):
            if flag:
                gt_data.add_ignore_region(i, int(label), box)
            else:
                gt_data.add_ground_truth(i, int(label), box)
        for box, score, label in zip(pred["boxes"], pred["scores"], pred["labels"]):
            pred_data.add_detection(i, int(label), float(score), box)
    return gt_data, pred_data


def answer(tidecv, request):
    if "coco" in request:
        gt_path, res_path = request["coco"]
        gt_data, pred_data = tidecv.datasets.COCO(gt_path), tidecv.datasets.COCOResult(res_path)
        fg_iou, bg_iou = 0.5, 0.1
    else:
        gt_data, pred_data = _data_from_images(tidecv, request["images"], request["max_dets"])
        fg_iou, bg_iou = request["fg_iou"], request["bg_iou"]
    tide = tidecv.TIDE(pos_threshold=fg_iou, background_threshold=bg_iou)
    with contextlib.redirect_stdout(io.StringIO()):
        run = tide.evaluate(gt_data, pred_data, name="run")
        errors = tide.get_all_errors()
    me = tidecv.errors.main_errors
    counts = run.count_errors()
    fixes = {name: run.fix_errors(lambda e, t=getattr(me, cls): isinstance(e, t)) for name, cls in TYPES}
    per_class = {}
    labels = set(run.ap_data.objs) | set(gt_data.classes) | set(pred_data.classes)
    for label in labels:  # objs are defaultdicts: a class absent from a run has AP 0 there
        per_class[str(label)] = {"ap": run.ap_data.objs[label].get_ap(),
                                 "fixed": {name: fixed.objs[label].get_ap() for name, fixed in fixes.items()}}
    class_counts: dict = {}
    for name, cls in TYPES:
        for err in run.error_dict[getattr(me, cls)]:
            label = str((err.gt if name == "miss" else err.pred)["class"])
            class_counts.setdefault(label, {n: 0 for n, _ in TYPES})[name] += 1
    return {"ap": run.ap, "counts": {name: counts[getattr(me, cls)] for name, cls in TYPES},
            "main": errors["main"]["run"], "special": errors["special"]["run"],
            "fixed_all": run.fix_errors(lambda e: True).get_mAP(), "per_class": per_class,
            "class_counts": class_counts,
            "ignored": sum(1 for p in pred_data.annotations if "used" in p and p["used"] is None)}


def main():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import tidecv
    except ImportError as exc:
        print(json.dumps({"missing": f"tidecv is not importable: {exc}"}), flush=True)
        return
    from importlib.metadata import version

    print(json.dumps({"ready": version("tidecv")}), flush=True)
    for line in sys.stdin:
        try:
            out = answer(tidecv, json.loads(line))
        except ZeroDivisionError:  # tidecv's mean over no class
            out = {"error": "ZeroDivisionError"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
