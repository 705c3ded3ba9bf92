"""Drop-in layers: switch an existing evaluation script by changing one import line.

* ``detmetrics.compat.pycocotools``: ``COCO``, ``COCOeval`` and ``mask`` with
  ``pycocotools``' API, computed by detmetrics' kernels::

      from detmetrics.compat.pycocotools import COCO, COCOeval   # was: from pycocotools...

* ``detmetrics.compat.torchmetrics``: ``MeanAveragePrecision`` with
  ``torchmetrics.detection.MeanAveragePrecision``'s options and output keys,
  backed by the mergeable ``detmetrics.Evaluator`` (torch is optional)::

      from detmetrics.compat.torchmetrics import MeanAveragePrecision

Neither module imports pycocotools, torchmetrics or torch.  See
``docs/compat.md`` for what is computed lazily and where the numbers are
chosen to follow pycocotools' or torchmetrics' own behaviour.

Both compute COCO's protocol only, as the packages they stand in for: the
``protocol=`` presets and their switches (``docs/protocols.md``) are not
options of theirs, and passing one raises ``TypeError`` pointing at
``detmetrics.mean_ap`` / ``evaluate_coco`` / ``Evaluator``, which take them.
"""

__all__: list[str] = []

#: detmetrics' protocol keywords, refused by the drop-in layers with a pointer to where they apply
PROTOCOL_KEYWORDS = ("protocol", "iou_test", "box_plus_one", "crowd", "difficult", "image_budget", "matching",
                     "interpolation")


def protocol_keyword_error(owner: str, names) -> TypeError | None:
    """The ``TypeError`` for protocol keywords given to a drop-in class, or None when there are none."""
    given = sorted(set(names) & set(PROTOCOL_KEYWORDS))
    if not given:
        return None
    return TypeError(f"{owner} got {', '.join(given)}: it computes COCO's protocol only, as the package it "
                     "replaces; use detmetrics.mean_ap, detmetrics.evaluate_coco or detmetrics.Evaluator with "
                     "protocol= and its switches (docs/protocols.md)")
