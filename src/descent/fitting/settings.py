"""The resolved settings of one fit: the settings every method shares, typed, plus the method's
own options (declared by the method, :class:`descent.fitting.method.Option`).

:mod:`descent.config.fits` resolves them from the config (defaults < variant < overrides);
:meth:`descent.fitting.method.Method.settings` checks the method's options and fills in their
defaults. Defaults of the shared settings come only from ``schemas/fits.schema.yaml``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class InitSpec:
    """Starting point of an iterative fit: ``kind`` (values, zeros, numpy_legacy_after_data) and,
    for ``values``, ``weights`` (one number for every feature, or one per feature) and ``bias``."""

    kind: str
    weights: float | tuple[float, ...] | None = None
    bias: float | None = None


@dataclass(frozen=True)
class FitSettings:
    """The settings of one fit, typed: the shared ones (see ``schemas/fits.schema.yaml`` for each
    field's meaning) and ``options``, the method's own (name → value, every option of the method).

    ``method`` is the base method, ``applied`` the variant/overrides that set them, ``fit`` the
    configured fit a run repeats and ``repetition`` which run it is (0: the fit itself).
    """

    method: str
    lr: float | str
    iterations: int
    batch_size: int | None
    shuffle_seed: int
    loss_reduction: str
    init: InitSpec
    tolerance: float
    stop_criterion: str
    divergence_factor: float
    stop_early: bool
    dtype: str
    device: str
    certificate_factor: float
    certificate_max_error: float
    stall_window: int
    stall_tolerance: float | None
    schedule: str
    schedule_t0: float
    schedule_power: float
    step_every: int
    step_factor: float
    averaging: bool
    processes: int
    fit_intercept: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    applied: tuple[str, ...] = ()
    fit: str = ""
    repetition: int = 0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], option_names: set[str] | frozenset[str]) -> FitSettings:
        """From a flat resolved dict (every shared field present; ``option_names`` the method's
        options, all present): names what is missing or unknown."""
        shared = shared_setting_names()
        missing = sorted((shared | set(option_names)) - set(values))
        unknown = sorted(set(values) - shared - set(option_names) - {"applied", "fit", "repetition"})
        if missing or unknown:
            raise ValueError(
                f"fit settings of {values.get('method')!r}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}"
            )
        data = {name: values[name] for name in shared}
        init = dict(data["init"])
        if isinstance(init.get("weights"), list):
            init["weights"] = tuple(float(w) for w in init["weights"])
        data["init"] = InitSpec(**init)
        return cls(
            **data,
            options={name: values[name] for name in sorted(option_names)},
            applied=tuple(values.get("applied", ())),
            fit=str(values.get("fit", "")),
            repetition=int(values.get("repetition", 0)),
        )

    def as_dict(self) -> dict[str, Any]:
        """The flat, JSON-ready dict (the ``settings`` field of a fit JSON): the shared settings,
        then the method's options; ``init`` without unset fields."""
        data = asdict(self)
        options = data.pop("options")
        data["init"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in data["init"].items() if v is not None}
        data["applied"] = list(self.applied)
        return {**data, **options}

    def replace(self, **changes: Any) -> FitSettings:
        """A copy with ``changes`` to shared settings (``init`` as a dict or an :class:`InitSpec`)
        or to the method's options, by name (another method's options are refused)."""
        shared = shared_setting_names() | {"method", "applied", "fit", "repetition"}
        unknown = sorted(set(changes) - shared - set(self.options))
        if unknown:
            raise ValueError(f"not settings of method {self.method}: {unknown} (its options: {sorted(self.options)})")
        options = {**self.options, **{k: v for k, v in changes.items() if k in self.options}}
        common = {k: v for k, v in changes.items() if k in shared}
        if isinstance(common.get("init"), Mapping):
            common["init"] = FitSettings.from_dict(
                {**self.as_dict(), "init": common["init"]}, frozenset(self.options)
            ).init
        return dataclasses.replace(self, **common, options=options)


def shared_setting_names() -> set[str]:
    """The settings every method has (the fields of :class:`FitSettings` but the bookkeeping)."""
    return {f.name for f in fields(FitSettings)} - {"options", "applied", "fit", "repetition"}
