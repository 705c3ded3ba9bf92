"""The ``detmetrics`` command line: ``eval``, ``nms``, ``convert``, ``errors``, ``demo`` and ``warmup``.

::

    detmetrics demo                                  # the bundled sample
    detmetrics warmup                                # compile every kernel once (cached)
    detmetrics eval GT PRED [--json OUT] [--plot DIR] [options]
    detmetrics nms PRED_DIR OUT_DIR [--conf C] [--iou T] [--soft gaussian|linear] [--class-agnostic]
    detmetrics convert SRC DST --to coco|yolo|yolo-obb|dota|voc
    detmetrics errors GT PRED [--fg-iou T] [--bg-iou T] [--json OUT] [--plot OUT.png]

GT is a COCO ground-truth ``.json``, a YOLO dataset folder or its
``data.yaml``, PASCAL VOC XML, DOTA txt, CVAT for images XML or LabelMe
JSON; PRED is a COCO results ``.json`` (ultralytics' ``predictions.json``
included), a folder of YOLO prediction txt files or per-class result files
(DOTA ``Task1_<class>.txt``, VOC ``comp4_det_test_<class>.txt``).
Exit status: 0 on success, 2 on bad input (one line on stderr, no
traceback).  Needs the ``cli`` extra (pyyaml, tqdm, pillow); ``--plot``
needs matplotlib (``plot`` extra).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

__all__ = ["main", "build_parser", "format_class_table"]

EXIT_BAD_INPUT = 2


MAX_IOU_THRESHOLDS = 1000


class CLIError(Exception):
    """Bad input detected by the command line itself (reported like a ValueError)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other bad input."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------------------------
# argument parsing


def _iou_thresholds(values):
    """``0.5 0.75`` or ``0.5:0.95:0.05`` (start:stop:step, inclusive, as numpy.linspace)."""
    import numpy as np

    if len(values) == 1 and ":" in values[0]:
        parts = values[0].split(":")
        try:
            start, stop, step = (float(p) for p in parts)
        except ValueError:
            raise CLIError(f"--iou-thresholds range must be start:stop:step; got {values[0]!r}") from None
        if step <= 0 or stop < start:
            raise CLIError(f"--iou-thresholds range must have step > 0 and stop >= start; got {values[0]!r}")
        count = (stop - start) / step + 1
        if not count <= MAX_IOU_THRESHOLDS:
            raise CLIError(f"--iou-thresholds range {values[0]!r} gives {count:.3g} thresholds; "
                           f"at most {MAX_IOU_THRESHOLDS} are allowed")
        return np.linspace(start, stop, int(round(count - 1)) + 1)
    if len(values) > MAX_IOU_THRESHOLDS:
        raise CLIError(f"--iou-thresholds: at most {MAX_IOU_THRESHOLDS} thresholds are allowed; got {len(values)}")
    try:
        return [float(v) for v in values]
    except ValueError:
        raise CLIError(f"--iou-thresholds must be numbers or start:stop:step; got {' '.join(values)!r}") from None


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evaluation")
    group.add_argument("--iou-thresholds", nargs="+", metavar="T",
                       help="IoU thresholds: numbers or start:stop:step (default: COCO's 0.5:0.95:0.05)")
    group.add_argument("--max-dets", nargs="+", type=int, metavar="N",
                       help="max detections per image for AR and AP (default: 1 10 100, keypoints 20; the largest is "
                            "used for AP; ultralytics keeps 300: --max-dets 1 10 300)")
    group.add_argument("--protocol", choices=["coco", "voc07", "voc12", "dota", "ultralytics"], default="coco",
                       help="a preset of the switches below and of crowd / difficult handling, the IoU test and the "
                            "per-image budget (default coco: pycocotools; see docs/protocols.md); an option given "
                            "explicitly overrides the preset")
    group.add_argument("--interpolation", choices=["coco", "voc11", "voc", "ultralytics"], default=None,
                       help="coco: 101-point (pycocotools); voc11: VOC2007 11-point; voc: all-point (VOC2010+, DOTA); "
                            "ultralytics: 8.4's trapezoid (default: the protocol's)")
    group.add_argument("--matching", choices=["coco", "voc", "ultralytics"], default=None,
                       help="coco: pycocotools' rule; voc: the PASCAL VOC / DOTA devkits' rule (a detection looks "
                            "only at the object it overlaps most; IoU > T); ultralytics: 8.4's "
                            "(default: the protocol's)")
    group.add_argument("--backend", choices=["auto", "numba", "numpy"], default="auto")
    group.add_argument("--conf", type=float, default=0.25, metavar="C",
                       help="confidence threshold of the confusion matrix (default 0.25, as ultralytics)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="OUT", help="write the full result: the 12 stats and named fields, options, "
                     "per-class AP and the per-class table (P/R/F1 at the best-F1 confidence)")
    out.add_argument("--json-curves", action="store_true",
                     help="add the PR curves and COCOeval's precision/recall/scores arrays to --json")
    out.add_argument("--csv", metavar="OUT", help="write the per-class table as CSV")
    out.add_argument("--html", metavar="OUT", help="write a self-contained HTML report (tables; figures with "
                     "matplotlib)")
    out.add_argument("--plot", metavar="DIR", help="write PR / F1 / P / R curves and the confusion matrix as PNG")
    out.add_argument("--quiet", action="store_true", help="print only the COCO summary")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="detmetrics",
        description="Object-detection metrics for COCO JSON and YOLO txt folders (COCO-exact mAP).",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"detmetrics {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = commands.add_parser(
        "eval",
        help="evaluate predictions against ground truth",
        description="Evaluate predictions against ground truth and print the COCO summary and a per-class table. "
        "GT: COCO ground-truth .json, YOLO dataset folder or data.yaml (its 'val' split), PASCAL VOC XML "
        "(a folder holding Annotations/, or the .xml files), DOTA label txt (a folder holding labelTxt/), a CVAT for "
        "images .xml or LabelMe .json files; the format is detected from the files (--format to choose). "
        "PRED: COCO results .json (ultralytics' predictions.json too), a folder of YOLO txt predictions "
        "('class cx cy w h conf', 'class x1 y1 ... x4 y4 conf' for OBB, 'class x1 y1 ... xn yn conf' for "
        "segment, 'class cx cy w h px py [pc] ... conf' for pose) or per-class result files "
        "(DOTA Task1_<class>.txt, VOC comp4_det_test_<class>.txt). Masks and keypoints are scored as "
        "pycocotools' COCOeval iouType segm / keypoints (10 stats, maxDets 20).",
    )
    ev.add_argument("gt", metavar="GT")
    ev.add_argument("pred", metavar="PRED")
    data = ev.add_argument_group("input")
    data.add_argument("--format", default="auto", choices=["auto", "coco", "yolo", "voc", "dota", "cvat", "labelme"],
                      help="ground-truth format (default auto: detected from GT's files)")
    data.add_argument("--split", help="YOLO split to evaluate (default: val); VOC: the ImageSets/Main/SPLIT.txt "
                      "list (default: every annotation)")
    data.add_argument("--sizes", metavar="FILE", help="image sizes ('<file name> <width> <height>' lines) "
                      "instead of reading the image headers")
    data.add_argument("--obb", action="store_const", const=True, default=None,
                      help="YOLO labels are oriented boxes (default: detected from the label files)")
    data.add_argument("--task", choices=["detect", "segment", "pose", "obb"], default=None,
                      help="what to score: boxes, masks (COCO segm), keypoints (COCO OKS) or oriented boxes "
                      "(default: from the files -- kpt_shape in data.yaml: pose; polygon labels: segment; "
                      "'segmentation' / 'keypoints' in a results .json; box predictions against a segment or "
                      "pose dataset: detect)")
    data.add_argument("--category-ids", choices=["auto", "ids", "index0", "index1", "coco91"], default="auto",
                      help="how a results .json's category_id maps onto the ground truth's classes "
                      "(default auto: warns when ambiguous)")
    data.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    data.add_argument("--workers", type=int, default=1, metavar="N",
                      help="match the images on N local processes (same result as 1, the default)")
    _add_eval_options(ev)

    demo = commands.add_parser(
        "demo",
        help="evaluate the bundled YOLO sample",
        description="Evaluate the small YOLO-format sample bundled with detmetrics (12 images, 4 classes) "
        "and print the COCO summary and the per-class table.",
    )
    _add_eval_options(demo)

    nms = commands.add_parser(
        "nms",
        help="post-process a folder of YOLO predictions",
        description="Confidence filter + NMS on every txt file of a YOLO prediction folder "
        "('class cx cy w h conf' or OBB 'class x1 y1 ... x4 y4 conf'), written to OUT_DIR in the same format. "
        "IoU is computed on normalized coordinates, which gives the same IoU as pixels.",
    )
    nms.add_argument("pred_dir", metavar="PRED_DIR")
    nms.add_argument("out_dir", metavar="OUT_DIR")
    nms.add_argument("--conf", type=float, default=0.0, metavar="C", help="keep detections with conf >= C (default 0)")
    nms.add_argument("--iou", type=float, default=0.7, metavar="T",
                     help="suppress when IoU > T (default 0.7, ultralytics' default)")
    nms.add_argument("--soft", choices=["gaussian", "linear"], help="soft-NMS instead of greedy NMS")
    nms.add_argument("--sigma", type=float, default=0.5, help="gaussian soft-NMS sigma (default 0.5)")
    nms.add_argument("--soft-min-score", type=float, default=0.001, metavar="S",
                     help="soft-NMS drops boxes whose decayed score falls below S (default 0.001)")
    nms.add_argument("--class-agnostic", action="store_true", help="boxes of different classes suppress each other")
    nms.add_argument("--max-det", type=int, default=300, metavar="N", help="keep at most N per image (default 300)")

    conv = commands.add_parser(
        "convert",
        help="convert a ground-truth dataset to another format",
        description="Read a ground-truth dataset (COCO JSON, YOLO, PASCAL VOC XML, DOTA txt, CVAT XML, LabelMe "
        "JSON) and write it as COCO JSON, YOLO (detect or OBB), DOTA txt or VOC XML. What the target cannot hold "
        "(crowd regions, difficult flags, orientation, ...) is reported as a warning. Images are not copied.",
    )
    conv.add_argument("src", metavar="SRC")
    conv.add_argument("dst", metavar="DST", help="a .json file for --to coco, else a folder")
    conv.add_argument("--to", required=True, choices=["coco", "yolo", "yolo-obb", "dota", "voc"])
    conv.add_argument("--format", default="auto", choices=["auto", "coco", "yolo", "voc", "dota", "cvat", "labelme"],
                      help="format of SRC (default auto)")
    conv.add_argument("--split", help="YOLO split to read and to write (default val); VOC: ImageSets/Main list")
    conv.add_argument("--sizes", metavar="FILE", help="image sizes ('<file name> <width> <height>' lines)")
    conv.add_argument("--difficult", choices=["keep", "drop"], default="keep",
                      help="targets without a difficult flag (COCO, YOLO): keep difficult objects as ordinary "
                      "ones (default) or leave them out")
    conv.add_argument("--overwrite", action="store_true", help="write into a target that already holds files")
    conv.add_argument("--gt", metavar="GT", help="convert predictions: SRC is a predictions file or folder (COCO "
                      "results .json, YOLO txt folder, DOTA / VOC per-class result files) read against the ground "
                      "truth GT (any format eval reads; --format, --split and --sizes apply to it)")
    conv.add_argument("--category-ids", choices=["auto", "ids", "index0", "index1", "coco91"], default="auto",
                      help="with --gt: how a results .json's category_id maps onto GT's classes")

    _add_explain_gap(commands)
    _add_errors(commands)
    commands.add_parser(
        "warmup",
        help="compile every kernel now (they are cached for later runs)",
        description="Compile every Numba kernel of detmetrics, or load it from numba's on-disk cache, so that "
        "later commands and processes start fast: run it once after installing, in a Docker image build or "
        "in a CI cache step. The cache goes where numba puts it (next to the package, or a user cache "
        "directory when the package is read-only, or NUMBA_CACHE_DIR).",
    )
    return parser


def _add_explain_gap(commands) -> None:
    from ._inputs import PROTOCOLS

    gap = commands.add_parser(
        "explain-gap", help="why two mAP protocols disagree, one switch at a time",
        description="Walk from one protocol's mAP to another's, switching one difference at a time "
        "(crowds, difficult, per-image budgets, +1-pixel boxes, IoU test, matching rule, integration), "
        "and print the mAP after each switch with the counts behind it. GT and PRED as for 'eval' (boxes).")
    gap.add_argument("gt", metavar="GT")
    gap.add_argument("pred", metavar="PRED")
    gap.add_argument("--from", dest="from_protocol", choices=list(PROTOCOLS), default="ultralytics",
                     help="starting protocol (default: ultralytics)")
    gap.add_argument("--to", dest="to_protocol", choices=list(PROTOCOLS), default="coco",
                     help="target protocol (default: coco)")
    gap.add_argument("--split", default="val", help="YOLO split to evaluate (default: val)")
    gap.add_argument("--sizes", metavar="FILE", help="image sizes file, as for 'eval'")
    gap.add_argument("--json", metavar="OUT", help="also write the report as JSON")


def _load_boxes(args, *, format="auto", category_ids="auto"):
    """GT and PRED of the box-only commands (explain-gap, errors): the ground truth, the predictions
    aligned with it, and the ground truth's ``mean_ap`` keywords for boxes."""
    from .io import load_ground_truth, load_predictions

    gt = load_ground_truth(args.gt, format=format, split=args.split, sizes=args.sizes, progress=False)
    pred = load_predictions(args.pred, gt, category_ids=category_ids, progress=False)
    if len(pred) != len(gt):
        raise CLIError(f"predictions cover {len(pred)} images but the ground truth has {len(gt)}")
    return gt, pred, gt.mean_ap_kwargs("bbox")


def _run_explain_gap(args) -> int:
    import json

    from .diagnostics import explain_gap

    gt, pred, kwargs = _load_boxes(args)
    report = explain_gap(pred.records_for("bbox"), gt.records_for("bbox"), from_protocol=args.from_protocol,
                         to_protocol=args.to_protocol, box_format=kwargs.get("box_format", "xyxy"),
                         category_ids=kwargs.get("category_ids"))
    print(f"mAP@[.50:.95] from {args.from_protocol} to {args.to_protocol}")
    print(report.table())
    print("TP / FP: detection x IoU threshold pairs (area all); counts per switch: see docs/protocols.md")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report.to_dict(), fh, indent=2)
        print(f"\nreport written to {args.json}")
    return 0


def _add_errors(commands) -> None:
    errs = commands.add_parser(
        "errors", help="TIDE-style error breakdown: which kind of mistake costs how much AP",
        description="Give every false positive and missed ground truth one of TIDE's types (cls, loc, both, "
        "dupe, bkg, miss) and print, per type, its count and the AP gained by fixing that type alone (dAP), "
        "with TIDE's own AP at --fg-iou (tidecv's numbers). GT and PRED as for 'eval' (boxes).")
    errs.add_argument("gt", metavar="GT")
    errs.add_argument("pred", metavar="PRED")
    data = errs.add_argument_group("input")
    data.add_argument("--format", default="auto", choices=["auto", "coco", "yolo", "voc", "dota", "cvat", "labelme"],
                      help="ground-truth format (default: detected from GT)")
    data.add_argument("--split", help="YOLO split to evaluate (default: val); VOC: the ImageSets/Main list")
    data.add_argument("--sizes", metavar="FILE", help="image sizes file, as for 'eval'")
    data.add_argument("--category-ids", choices=["auto", "ids", "index0", "index1", "coco91"], default="auto",
                      help="how COCO results' category_id map to the ground truth's classes (as for 'eval')")
    opts = errs.add_argument_group("breakdown")
    opts.add_argument("--fg-iou", type=float, default=0.5, metavar="T",
                      help="IoU a true positive needs (default 0.5)")
    opts.add_argument("--bg-iou", type=float, default=0.1, metavar="T",
                      help="IoU at or below which a detection is background (default 0.1)")
    opts.add_argument("--max-dets", type=int, default=100, metavar="N",
                      help="highest scored detections kept per image (default 100, as TIDE)")
    opts.add_argument("--backend", choices=["auto", "numba", "numpy"], default="auto")
    out = errs.add_argument_group("output")
    out.add_argument("--json", metavar="OUT", help="also write the breakdown (overall and per class) as JSON")
    out.add_argument("--plot", metavar="OUT.png", help="draw the dAP per type as a bar chart (needs matplotlib)")


def _run_errors(args) -> int:
    import json

    from .errors import ERROR_TYPES, error_breakdown

    _check_outputs(args)
    if args.max_dets <= 0:
        raise CLIError(f"--max-dets must be a positive integer; got {args.max_dets}")
    gt, pred, kwargs = _load_boxes(args, format=args.format, category_ids=args.category_ids)
    gts, preds = gt.records_for("bbox"), pred.records_for("bbox")
    if gt.source == "coco":  # the file's image order, as tidecv walks it
        from .errors import _coco_file_order

        order = _coco_file_order(gt, args.gt)
        gts, preds = [gts[k] for k in order], [preds[k] for k in order]
    result = error_breakdown(preds, gts, fg_iou=_flag_value(args.fg_iou, "--fg-iou"),
                             bg_iou=_flag_value(args.bg_iou, "--bg-iou"), max_detections=args.max_dets,
                             box_format=kwargs.get("box_format", "xyxy"), backend=args.backend)
    print(f"ground truth: {args.gt}  ({len(gt)} images)")
    print(f"predictions:  {args.pred}  ({pred.n_objects} detections)")
    print()
    print(result.table())
    if result.per_class:
        names = gt.class_names
        width = max(len("class"), *(len(str(names.get(c, c))) for c in result.per_class))
        print()
        print(f"{'class':<{width}}  {'AP':>6}" + "".join(f"{t:>7}" for t in ERROR_TYPES) + "   (dAP per type)")
        for c, row in result.per_class.items():
            print(f"{str(names.get(c, c)):<{width}}  {100 * row['ap']:>6.2f}"
                  + "".join(f"{100 * row['dap'][t]:>7.2f}" for t in ERROR_TYPES))
    if args.json:
        data = result.to_dict()
        data["class_names"] = {str(c): str(gt.class_names.get(c, c)) for c in result.per_class}
        with open(args.json, "w") as fh:
            json.dump(data, fh, indent=2)
        print(f"\nbreakdown written to {args.json}")
    if args.plot:
        from .plots import plot_error_breakdown

        plot_error_breakdown(result, path=args.plot)
        print(f"bar chart written to {args.plot}")
    return 0


def _flag_value(value, flag):
    """``--fg-iou`` / ``--bg-iou``: errors name the flag, not the keyword."""
    if not 0 <= value <= 1:
        raise CLIError(f"{flag} must be in [0, 1]; got {value}")
    return value


def main(argv=None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.command == "warmup":
                status = _run_warmup()
            elif args.command == "errors":
                _notice_before_compiling()
                status = _run_errors(args)
            elif args.command == "explain-gap":
                _notice_before_compiling()
                status = _run_explain_gap(args)
            elif args.command == "nms":
                _notice_before_compiling()
                status = _run_nms(args)
            elif args.command == "convert":
                status = _run_convert(args)
            else:
                _notice_before_compiling()
                status = _run_eval(args)
        except BrokenPipeError:  # `detmetrics demo | head`: the reader left, nothing to report
            sys.stdout = open(os.devnull, "w")  # flushed at exit instead of the closed pipe
            return 0
        except (ValueError, TypeError, OSError, ImportError, CLIError) as exc:
            _flush_warnings(caught)
            message = " ".join(str(exc).split()) or type(exc).__name__
            print(f"detmetrics: error: {message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:  # pragma: no cover
            print("detmetrics: interrupted", file=sys.stderr)
            return 130
    _flush_warnings(caught)
    return status


def _flush_warnings(caught) -> None:
    seen = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.add(text)
            print(f"detmetrics: warning: {text}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# warmup


def _notice_before_compiling() -> None:
    from ._backend import set_compile_notice

    set_compile_notice(lambda: print("detmetrics: compiling kernels (first run only; 'detmetrics warmup' "
                                     "compiles them all ahead)", file=sys.stderr, flush=True))


def _run_warmup() -> int:
    from ._warmup import warmup

    print("detmetrics: compiling (or loading from the cache) every kernel ...", file=sys.stderr, flush=True)
    summary = warmup(log=lambda line: print(f"  {line}", file=sys.stderr, flush=True))
    print(f"{summary['kernels']} kernels ready in {summary['seconds']:.1f} s "
          f"({summary['compiled']} compiled now, {summary['loaded']} loaded from the cache)")
    for folder in summary["cache_dirs"]:
        print(f"cache: {folder}")
    return 0


# ----------------------------------------------------------------------------------------------
# eval / demo


def _eval_options(args) -> dict:
    options = {"backend": args.backend}
    if args.protocol != "coco":
        options["protocol"] = args.protocol
    for name in ("interpolation", "matching"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.iou_thresholds:
        options["iou_thresholds"] = _iou_thresholds(args.iou_thresholds)
    if args.max_dets:
        if any(n <= 0 for n in args.max_dets):
            raise CLIError(f"--max-dets must be positive integers; got {args.max_dets}")
        options["max_detections"] = tuple(args.max_dets)
    return options


def _run_eval(args) -> int:
    from .io import load_ground_truth, load_predictions, sample_path

    _check_outputs(args)
    if not 0 <= args.conf <= 1:
        raise CLIError(f"--conf must be in [0, 1]; got {args.conf}")
    if args.command != "demo":
        coco_task = _coco_instance_task(args)
        if coco_task is not None:
            return _run_coco_instances(args, coco_task)
    if args.command == "demo":
        gt_path, pred_path = sample_path("yolo"), sample_path("yolo") / "predictions"
        gt = load_ground_truth(gt_path)
        pred = load_predictions(pred_path, gt)
        shown = ("bundled sample 'yolo'", "bundled sample 'yolo'/predictions")  # where it is installed varies
    else:
        gt_path, pred_path = args.gt, args.pred
        shown = (gt_path, pred_path)
        progress = False if args.no_progress else None
        task = getattr(args, "task", None)
        read_task = None if task == "detect" else task  # detect: segment / pose files scored on their boxes
        gt = load_ground_truth(gt_path, format=args.format, split=args.split, sizes=args.sizes, obb=args.obb,
                               progress=progress, task=read_task)
        pred = load_predictions(pred_path, gt, category_ids=args.category_ids, progress=progress, task=read_task)
    options = _eval_options(args)
    iou_type = {"segment": "segm", "pose": "keypoints"}.get(pred.task, "bbox")
    if args.command != "demo" and args.task == "detect":
        iou_type = "bbox"
    if iou_type != "bbox":
        options["iou_type"] = iou_type

    from . import report

    workers = getattr(args, "workers", 1)
    if workers < 1:
        raise CLIError(f"--workers must be a positive integer; got {workers}")
    if workers > 1:
        from ._parallel import evaluate_files_sharded

        result, _ = evaluate_files_sharded(gt, pred, workers=workers, progress=False if args.no_progress else None,
                                           **options)
    else:
        from .evaluate import evaluate_files

        result, _ = evaluate_files(gt, pred, **options)

    say = (lambda *a: None) if args.quiet else print
    kind = _FORMAT_NAMES.get(gt.source, gt.source)
    if gt.source == "yolo":
        kind = {"obb": "YOLO-OBB", "segment": "YOLO-seg", "pose": "YOLO-pose"}.get(gt.task, "YOLO")
    scored = {"bbox": "boxes", "segm": "masks", "keypoints": "keypoints"}[iou_type]
    say(f"ground truth: {shown[0]}  ({kind}, {len(gt)} images, {gt.n_objects} objects, {len(gt.class_names)} classes)")
    say(f"predictions:  {shown[1]}  ({pred.n_objects} detections; scoring {scored})")
    say()
    print(result.summary())
    say()
    say(format_class_table(result, gt.class_names, ground_truth=gt))
    if args.json:
        report.write_json(result, args.json, gt.class_names, ground_truth=gt, curves=args.json_curves)
        say(f"\nresults written to {args.json}")
    if args.csv:
        report.write_csv(result, args.csv, gt.class_names, ground_truth=gt)
        say(f"per-class table written to {args.csv}")
    if args.html:
        report.write_html(result, args.html, gt.class_names, ground_truth=gt, predictions=pred, conf=args.conf,
                          subtitle=f"{shown[0]} vs {shown[1]}")
        say(f"HTML report written to {args.html}")
    if args.plot:
        from .plots import plot_all

        paths = plot_all(result, pred, gt, args.plot, conf_threshold=args.conf)
        say(f"\n{len(paths)} figures written to {args.plot}")
    return 0


_FORMAT_NAMES = {"coco": "COCO", "yolo": "YOLO", "voc": "PASCAL VOC", "dota": "DOTA", "cvat": "CVAT", "labelme": "LabelMe"}


def _check_outputs(args) -> None:
    """Before any work: --plot needs matplotlib (an error after a long evaluation helps nobody)."""
    if getattr(args, "plot", None):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("--plot needs matplotlib: pip install 'detmetrics[plot]'") from None


def _coco_instance_task(args):
    """``"segment"`` / ``"pose"`` for a COCO JSON pair scored on masks / keypoints (else None)."""
    from pathlib import Path

    if Path(args.gt).suffix.lower() != ".json" or Path(args.pred).suffix.lower() != ".json":
        return None
    task = args.task
    if task is None:
        from .io._coco_decode import decode_json

        results, _ = decode_json(Path(args.pred), "results")
        first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
        task = "pose" if "keypoints" in first else "segment" if "segmentation" in first else "detect"
    return task if task in ("segment", "pose") else None


def _run_coco_instances(args, task) -> int:
    """A COCO ground truth and results pair scored on masks or keypoints: ``evaluate_coco`` (loadRes' rules)."""
    if args.plot:
        raise CLIError("--plot is available for box evaluation only")
    from . import report
    from .evaluate import evaluate_coco

    options = _eval_options(args)
    iou_type = "segm" if task == "segment" else "keypoints"
    result = evaluate_coco(args.gt, args.pred, iou_type=iou_type, **options)
    names = result.category_names
    say = (lambda *a: None) if args.quiet else print
    say(f"ground truth: {args.gt}  (COCO, {len(result.category_ids)} categories)")
    say(f"predictions:  {args.pred}  ({int(result.n_det.sum())} detections kept; scoring "
        f"{'masks' if task == 'segment' else 'keypoints'})")
    say()
    print(result.summary())
    say()
    say(format_class_table(result, names))
    if args.json:
        report.write_json(result, args.json, names, curves=args.json_curves)
        say(f"\nresults written to {args.json}")
    if args.csv:
        report.write_csv(result, args.csv, names)
        say(f"per-class table written to {args.csv}")
    if args.html:
        report.write_html(result, args.html, names, subtitle=f"{args.gt} vs {args.pred}")
        say(f"HTML report written to {args.html}")
    return 0


def format_class_table(result, class_names: dict, *, iou_threshold: float = 0.5, ground_truth=None) -> str:
    """The per-class table the CLI prints (``detmetrics.report.format_class_table``)."""
    from .report import format_class_table as table

    return table(result, class_names, ground_truth=ground_truth, iou_threshold=iou_threshold)


# ----------------------------------------------------------------------------------------------
# convert


def _run_convert(args) -> int:
    from .io.convert import convert

    if args.gt is not None:
        from .io.convert import convert_predictions

        report = convert_predictions(args.src, args.dst, ground_truth=args.gt, to=args.to, format=args.format,
                                     split=args.split, sizes=args.sizes, category_ids=args.category_ids,
                                     overwrite=args.overwrite)
        name = _FORMAT_NAMES.get(report.source_format, report.source_format)
        print(f"{args.src} ({name} predictions) -> {args.dst} ({args.to}): {report.n_images} images, "
              f"{report.n_objects} detections, {len(report.written)} files written")
        return 0
    report = convert(args.src, args.dst, to=args.to, format=args.format, split=args.split, sizes=args.sizes,
                     difficult=args.difficult, overwrite=args.overwrite)
    name = _FORMAT_NAMES.get(report.source_format, report.source_format)
    print(f"{args.src} ({name}) -> {args.dst} ({args.to}): {report.n_images} images, {report.n_objects} objects, "
          f"{len(report.written)} files written")
    if args.to in ("yolo", "yolo-obb"):
        from pathlib import Path

        split = args.split or "val"
        print(f"images are not copied: put them in {Path(args.dst) / 'images' / split}, or evaluate with "
              f"--sizes {Path(args.dst) / 'sizes.txt'}")
    return 0


# ----------------------------------------------------------------------------------------------
# nms


def _run_nms(args) -> int:
    from pathlib import Path

    import numpy as np

    from .io.yolo import _fail, _read_txt, prediction_files

    src = Path(args.pred_dir)
    if not src.is_dir():
        raise CLIError(f"prediction folder {args.pred_dir!r} does not exist or is not a folder")
    if not any(src.glob("*.txt")) and (src / "labels").is_dir():
        src = src / "labels"
    files = prediction_files(src)
    if not files:
        raise CLIError(f"no .txt prediction files in {str(src)!r}")
    for name, value in (("--conf", args.conf), ("--iou", args.iou), ("--soft-min-score", args.soft_min_score)):
        if not 0 <= value <= 1:
            raise CLIError(f"{name} must be in [0, 1]; got {value}")
    if args.max_det <= 0:
        raise CLIError(f"--max-det must be a positive integer; got {args.max_det}")
    out = Path(args.out_dir)
    if out.resolve() == src.resolve():
        raise CLIError("OUT_DIR must differ from PRED_DIR (the input would be overwritten)")
    out.mkdir(parents=True, exist_ok=True)

    from .io._common import progress_iter

    n_in = n_out = 0
    for file in progress_iter(files, desc="nms", progress=None):
        labels, coords, conf, lines = _read_txt(file, kind="predictions", obb=None)
        if len(labels):
            n_coords = coords.shape[1]
            if n_coords not in (4, 8):
                _fail(file, lines[0], "expected 'class cx cy w h conf' or 'class x1 y1 ... x4 y4 conf'")
            bad = np.flatnonzero(~(np.all(np.isfinite(coords), axis=1) & (conf >= 0) & (conf <= 1)))
            if bad.size:
                _fail(file, lines[bad[0]], "coordinates must be finite and the confidence in [0, 1]")
            if n_coords == 4:
                bad = np.flatnonzero((coords[:, 2] < 0) | (coords[:, 3] < 0))
                if bad.size:
                    _fail(file, lines[bad[0]], "width and height must be >= 0")
        keep, scores = _postprocess(labels, coords, conf, args)
        n_in += len(labels)
        n_out += len(keep)
        text = "".join(
            " ".join([str(int(labels[i]))] + [repr(float(v)) for v in coords[i]] + [repr(float(s))]) + "\n"
            for i, s in zip(keep, scores)
        )
        (out / file.name).write_text(text)
    print(f"{len(files)} files, {n_in} detections in, {n_out} kept -> {out}")
    return 0


def _postprocess(labels, coords, conf, args):
    """Indices kept (by decreasing score) and their (possibly decayed) scores for one file."""
    import numpy as np

    from . import batched_nms, filter_by_confidence, nms, soft_nms

    if len(labels) == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    idx = filter_by_confidence(conf, args.conf)
    if coords.shape[1] == 8:
        boxes = coords[idx].reshape(-1, 4, 2)
        fmt = {}
    else:
        boxes = coords[idx]
        fmt = {"box_format": "cxcywh"}
    groups = [np.arange(len(idx))] if args.class_agnostic else [
        np.flatnonzero(labels[idx] == c) for c in np.unique(labels[idx])
    ]
    if args.soft:
        picked, new_scores = [], []
        for g in groups:
            k, s = soft_nms(_as_xyxy(boxes[g], fmt), conf[idx][g], method=args.soft, sigma=args.sigma,
                            iou_threshold=args.iou, score_threshold=args.soft_min_score)
            picked.append(g[k])
            new_scores.append(s)
        picked = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        new_scores = np.concatenate(new_scores) if new_scores else np.zeros(0)
        order = np.argsort(-new_scores, kind="stable")[: args.max_det]
        return idx[picked[order]], new_scores[order]
    if args.class_agnostic:
        k = nms(boxes, conf[idx], args.iou, **fmt)
    else:
        k = batched_nms(boxes, conf[idx], labels[idx], args.iou, **fmt)
    k = k[: args.max_det]
    return idx[k], conf[idx][k]


def _as_xyxy(boxes, fmt):
    """soft_nms takes xyxy (or oriented) boxes."""
    if fmt.get("box_format") == "cxcywh":
        from .boxes import convert_boxes

        return convert_boxes(boxes, "cxcywh", "xyxy")
    return boxes


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
