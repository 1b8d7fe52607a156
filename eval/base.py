"""Contracts every benchmark in ``unitrack.eval`` follows: sequences, datasets and metrics.

They are deliberately small (in the spirit of TrackEval's ``_BaseDataset`` / ``_BaseMetric``):

* :class:`MetricSpec` declares one stored metric: its key in ``result.json``, a short label, its unit
  (``fraction`` / ``percent`` / ``count``), whether higher is better and whether it is a headline
  metric. Reports, sweeps and the correlation study read units and directions from here and never
  guess them from the values.
* :class:`Sequence` is one video of a benchmark: a name, its frames (paths in temporal order), the
  frame size and whatever annotations the format has; :meth:`Sequence.validate` raises a
  :class:`~unitrack.utils.UnitrackError` naming the offending file. What a reader deliberately leaves
  out of a sequence (e.g. frames beyond the images present) is noted with :meth:`Sequence.skip`; the
  head copies these notes into its result (``result.json["skipped"]``, see :func:`skipped_items`).
* :class:`Dataset` is the reader of one benchmark layout: ``sequences(root, cfg)``.
* :class:`Metric` scores one sequence (``eval_sequence``) and combines per-sequence results
  (``combine``); ``fields`` declares what it produces.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger("unitrack")

UNITS = ("fraction", "percent", "count")


@dataclass(frozen=True)
class MetricSpec:
    """One metric as stored in ``result.json`` (``key``) and as shown in tables (``label``, ``unit``)."""

    key: str
    label: str = ""
    unit: str = "fraction"  # fraction (0..1, shown ×100 as %) | percent (already 0..100) | count
    higher_is_better: bool = True
    headline: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"metric {self.key!r}: unit must be one of {UNITS}, got {self.unit!r}")
        if not self.label:
            object.__setattr__(self, "label", self.key)

    @property
    def is_rate(self) -> bool:
        return self.unit in ("fraction", "percent")

    def to_percent(self, value: float) -> float:
        """The value as the paper's tables show it: rates in percent, counts as they are."""
        return 100.0 * value if self.unit == "fraction" else value

    def from_percent(self, value: float) -> float:
        """Inverse of :meth:`to_percent` (published percent figures → our stored unit)."""
        return value / 100.0 if self.unit == "fraction" else value

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def display(self, value: float | None, digits: int = 1) -> str:
        """Table text: ``67.5`` for a rate (percent), ``14`` for a count, ``–`` for missing / not finite."""
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return "–"
        v = self.to_percent(float(value))
        if self.unit == "count" and float(v).is_integer():
            return str(int(v))
        return f"{v:.{digits}f}"


def metric_table(specs: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    """``{key: spec}`` of a metric list (keys must be unique)."""
    out: dict[str, MetricSpec] = {}
    for s in specs:
        if s.key in out:
            raise ValueError(f"metric key {s.key!r} declared twice")
        out[s.key] = s
    return out


@dataclass
class Sequence:
    """One video of a benchmark. Readers subclass it and add their annotations.

    ``frames`` are the image paths in temporal order (see :func:`unitrack.eval.formats.list_frames`);
    ``size`` is ``(height, width)`` where the reader knows it.
    """

    name: str
    frames: list[Path] = field(default_factory=list)
    size: tuple[int, int] | None = None
    # what the reader left out, with why: [{"item": ..., "reason": ...}] (see skip)
    skipped: list[dict[str, str]] = field(default_factory=list, kw_only=True, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.frames)

    def validate(self) -> None:
        """Raise ``UnitrackError`` naming the file when the sequence cannot be evaluated as it is."""

    def skip(self, item: str | Path, reason: str) -> None:
        """Note that ``item`` (a file, rows, frames of this sequence) is left out and why: logged once and
        kept in :attr:`skipped`, which the head copies into its result."""
        entry = {"item": str(item), "reason": str(reason)}
        if entry not in self.skipped:
            log.warning("%s: %s", entry["item"], entry["reason"])
            self.skipped.append(entry)


@contextlib.contextmanager
def own_predictions(pred_dir: str | Path) -> Iterator[None]:
    """Around scoring the predictions a head has just written into a temporary ``pred_dir`` (removed when
    the run fails): an error naming a file there is said to be about this run's own predictions (a bug
    of the head) instead of naming a folder that will not exist any more; other errors pass unchanged."""
    from unitrack.utils import UnitrackError

    try:
        yield
    except UnitrackError as e:
        where = str(pred_dir)
        if where not in str(e):
            raise
        raise UnitrackError(str(e).replace(where, "<this run's predictions>") + " — the head wrote predictions "
                            "that do not validate; this is a bug of the head, please report it") from None


def skipped_items(sequences: Iterable[Sequence]) -> list[dict[str, str]]:
    """The :meth:`Sequence.skip` notes of ``sequences`` in order, for ``TaskOutput.skipped``."""
    out: list[dict[str, str]] = []
    for s in sequences:
        out += [e for e in getattr(s, "skipped", ()) if e not in out]
    return out


class Dataset:
    """The reader of one benchmark layout. ``sequences`` returns validated :class:`Sequence` objects."""

    name: ClassVar[str] = ""

    def sequences(self, root: Path, cfg: Any) -> list[Sequence]:
        raise NotImplementedError


class Metric:
    """A metric family: scores one sequence, then combines the per-sequence results.

    ``fields`` declares the metrics it produces, so a task's spec can list them with their units.
    """

    fields: ClassVar[tuple[MetricSpec, ...]] = ()

    def eval_sequence(self, *args: Any, **kwargs: Any) -> Mapping[str, float]:
        raise NotImplementedError

    def combine(self, per_sequence: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Default: the mean over sequences of every declared field (NaN-free sequences only)."""
        out: dict[str, float] = {}
        for f in self.fields:
            vals = [float(m[f.key]) for m in per_sequence.values()
                    if f.key in m and isinstance(m[f.key], (int, float)) and math.isfinite(m[f.key])]
            if vals:
                out[f.key] = sum(vals) / len(vals)
        return out
