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
"""

__all__: list[str] = []
