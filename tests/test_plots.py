"""detmetrics.plots: every figure is drawn headless and saved as a valid PNG."""

import sys

import numpy as np
import pytest

from detmetrics.io import evaluate_files, load_ground_truth, load_predictions, sample_path
from detmetrics.plots import (
    _at_thresholds,
    plot_all,
    plot_confusion_matrix,
    plot_metric_vs_confidence,
    plot_pr_curves,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def evaluated():
    gt = load_ground_truth(sample_path("yolo"))
    pred = load_predictions(sample_path("yolo") / "predictions", gt)
    result, _ = evaluate_files(gt, pred)
    return result, pred, gt


def test_plot_all_writes_pngs(tmp_path, evaluated, monkeypatch):
    result, pred, gt = evaluated
    # figures never go through pyplot: an import of it during the call fails (another test's
    # dependency, e.g. tidecv, may have imported pyplot into this process already)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    paths = plot_all(result, pred, gt, tmp_path)
    assert len(paths) == 7
    for path in paths:
        assert path.read_bytes()[:8] == PNG


def test_single_figures(tmp_path, evaluated):
    result, _, gt = evaluated
    fig = plot_pr_curves(result, gt.class_names, iou_threshold=0.75, path=tmp_path / "pr75.png")
    assert (tmp_path / "pr75.png").read_bytes()[:8] == PNG
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[-1].startswith("all classes") and any(label.startswith("person") for label in labels)
    for metric in ("f1", "precision", "recall"):
        plot_metric_vs_confidence(result, metric, gt.class_names, path=tmp_path / f"{metric}.png")
    with pytest.raises(ValueError, match="iou_threshold must be one of"):
        plot_pr_curves(result, iou_threshold=0.33)
    with pytest.raises(ValueError, match="metric must be one of"):
        plot_metric_vs_confidence(result, "auc")


def test_confusion_matrix_plot(tmp_path):
    m = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 0]])
    fig = plot_confusion_matrix(m, ["cat", "dog"], normalize=True, path=tmp_path / "cm.png")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["cat", "dog", "background"]
    assert (tmp_path / "cm.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="must be square"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="has 1 names but the matrix has 2 classes"):
        plot_confusion_matrix(m, ["cat"])


def test_metric_at_thresholds_counts_ties():
    curve = {"scores": np.array([0.9, 0.5, 0.5, 0.2]), "precision": np.array([1.0, 0.5, 2 / 3, 0.5]),
             "recall": np.array([0.25, 0.25, 0.5, 0.5]), "f1": np.array([0.4, 1 / 3, 4 / 7, 0.5])}
    grid = np.array([0.0, 0.2, 0.3, 0.5, 0.6, 0.95])
    # at 0.5 both tied detections are kept: the value after the last of them
    np.testing.assert_allclose(_at_thresholds(curve, grid, "precision"), [0.5, 0.5, 2 / 3, 2 / 3, 1.0, 1.0])
    np.testing.assert_allclose(_at_thresholds(curve, grid, "recall"), [0.5, 0.5, 0.5, 0.5, 0.25, 0.0])


@pytest.mark.parametrize("area_ranges", ["coco", {"small": (0, 32**2), "all": (0, 1e10)}])
def test_pr_curves_plot_the_results_precision(evaluated, area_ranges):
    from detmetrics import mean_ap

    _, pred, gt = evaluated
    result = mean_ap(pred.records, gt.records, area_ranges=area_ranges, **gt.mean_ap_kwargs())
    a = list(result.area_ranges).index("all")  # not the first range in the dict case
    for iou_threshold, rows in ((0.5, slice(0, 1)), (None, slice(None))):
        lines = plot_pr_curves(result, iou_threshold=iou_threshold).axes[0].get_lines()
        p = result.precision[rows, :, :, a, -1]
        with_gt = [k for k in range(p.shape[2]) if p[0, 0, k] > -1]
        expected = [np.where(p[:, :, k] < 0, 0.0, p[:, :, k]).mean(axis=0) for k in with_gt]
        assert len(lines) == len(with_gt) + 1
        for line, curve in zip(lines, expected):
            np.testing.assert_allclose(line.get_ydata(), curve, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lines[-1].get_ydata(), np.mean(expected, axis=0), rtol=0, atol=1e-12)
