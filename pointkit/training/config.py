"""The resolved settings of one training run (saved as ``RUN/run.json`` and in every checkpoint)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import click

from pointkit.defaults import RANSAC_HYPOTHESES, SYNTH_CORR_PER_PAIR, TAU_INPUT_SIZE, TAU_PX
from pointkit.errors import PointkitError
from pointkit.jobs.settings import FloatPair, check, device_setting, load_saved, progress_setting, setting

# Settings that may change when a run is resumed (everything else must match the saved run).
RESUMABLE_CHANGES = (
    "steps",
    "epochs",
    "patience",
    "device",
    "workers",
    "threads",
    "progress",
    "resume",
    "checkpoint_every",
    "keep_every",
)


@dataclass
class ModelSettings:
    """The LiftNet architecture a run asks for: each None is ``--init``'s value, or without
    ``--init`` the :class:`~pointkit.models.LiftNetConfig` default (see :meth:`resolve`)."""

    input_size: int | None = setting(
        None, "Network input side (power of two) [default: 256 or --init's].", type=click.IntRange(min=8)
    )
    ngf: int | None = setting(None, "Width of the first layer [default: 64 or --init's].", type=click.IntRange(min=1))
    mask_head: bool | None = setting(
        None,
        "Second output: foreground-mask logits, supervised by dataset masks [default: off or --init's].",
        flag="--mask-head/--no-mask-head",
    )
    dropout: float | None = setting(
        None, "Dropout in the innermost decoder blocks [default: 0].", type=click.FloatRange(0, 1, max_open=True)
    )
    prior: str | None = setting(
        None,
        "Extra input channel: the mask's silhouette prior (none: the paper) [default: none or --init's].",
        type=click.Choice(["none", "silhouette"]),
    )

    def resolve(self, init_config=None, init_name: str | None = None):
        """The run's :class:`~pointkit.models.LiftNetConfig`: these choices over the defaults, or
        over ``init_config`` (``--init``'s), which fixes the architecture: a different choice is
        a one-line error naming ``init_name``."""
        from pointkit.models import LiftNetConfig  # imports torch: not when the command only parses

        base = init_config if init_config is not None else LiftNetConfig()
        chosen = asdict(self)
        if init_config is not None:
            clash = [
                f"{k}={v} (checkpoint: {getattr(base, k)})"
                for k, v in chosen.items()
                if v not in (None, getattr(base, k))
            ]
            if clash:
                raise PointkitError(f"{init_name}: --init fixes the architecture; drop {', '.join(clash)}")
        return LiftNetConfig(**{k: (v if v is not None else getattr(base, k)) for k, v in chosen.items()})


_PATH_DIR = click.Path(file_okay=False)


@dataclass
class TrainConfig:
    """Everything a training run depends on (each field's help says what it is). Defaults are
    the paper's synthetic-data settings (§5). ``pointkit train``'s options are made from these
    fields (:mod:`pointkit.jobs.settings`): a default lives here only."""

    datasets: list[str] = setting(
        help="Dataset folders (render-synthetic or match): their train objects are trained on, their val objects "
        "drive early stopping.",
        type=_PATH_DIR,
        argument=True,
        multiple=True,
    )
    out: str = setting(help="Run folder (config, logs, checkpoints).", type=_PATH_DIR)
    loss: str = setting(
        "corr",
        "corr: LiftNet from correspondences only (the paper); depth: the paper's supervised baseline (aligned "
        "MSE on ground truth); ssi: scale-and-shift-invariant MSE plus multi-scale gradient matching on ground "
        "truth (MiDaS); corr+ssi: both terms.",
        type=click.Choice(["corr", "depth", "ssi", "corr+ssi"]),
    )
    ssi_weight: float = setting(
        1.0, "Weight of the ssi term in --loss corr+ssi.", type=click.FloatRange(min=0, min_open=True)
    )
    corr_per_pair: int = setting(
        0,
        f"K correspondences per view pair, a fixed seeded subset; 0 keeps all of a dataset pair's, "
        f"{SYNTH_CORR_PER_PAIR} with --synth (run.json: resolved).",
        type=click.IntRange(min=0),
    )
    tau: float | None = setting(
        None,
        f"Robust threshold of R in input pixels [default: {TAU_PX:g} px at {TAU_INPUT_SIZE} px, scaled].",
        type=click.FloatRange(min=0, min_open=True),
    )
    ransac: bool = setting(True, "RANSAC camera before the least-squares refit.", flag="--ransac/--no-ransac")
    robust: bool = setting(
        True, "Robust cost R (off: plain squared error, the 'without R' ablation).", flag="--robust/--no-robust"
    )
    hypotheses: int = setting(RANSAC_HYPOTHESES, "RANSAC hypotheses per pair.", type=click.IntRange(min=1))
    steps: int | None = setting(None, "Optimiser steps (wins over --epochs).", type=click.IntRange(min=1))
    epochs: int | None = setting(
        200, "Epochs (the paper's maximum; early stopping ends sooner).", type=click.IntRange(min=1)
    )
    batch_size: int = setting(16, "Pairs per step over all processes (DDP divides it).", type=click.IntRange(min=1))
    lr: float | None = setting(
        None, "Learning rate [default: 1e-3; 1e-5 with --init].", type=click.FloatRange(min=0, min_open=True)
    )
    optimizer: str = setting("sgd", "sgd: momentum 0.9 (the paper's); or adamw.", type=click.Choice(["sgd", "adamw"]))
    grad_clamp: float = setting(5.0, "Clamp gradients to +-this (0: off).", type=click.FloatRange(min=0))
    amp: str = setting("auto", "bf16 autocast (auto: on CUDA only).", type=click.Choice(["auto", "bf16", "off"]))
    device: str = device_setting()
    seed: int = setting(0, "Weights, data order, correspondence subsets, RANSAC samples.", type=int)
    init: str | None = setting(
        None,
        "Start from this checkpoint, run folder or model name (fine-tuning); its architecture is used.",
        type=click.Path(),
    )
    model: ModelSettings = setting(
        "The network's architecture (LiftNetConfig's fields; each unset one is --init's, else the default).",
        default_factory=ModelSettings,
        nested=True,
    )
    prior_dropout: float = setting(
        0.3,
        "With --prior silhouette: share of samples trained without it (lift's mask pass has none).",
        type=click.FloatRange(0, 1, max_open=True),
    )
    mask_weight: float = setting(1.0, "Weight of the mask head's BCE loss.", type=click.FloatRange(min=0))
    center_weight: float = setting(
        0.0,
        "Weight pinning the free depth offset, (mean depth on the mask)^2; it leaves "
        "the shape learned unchanged (0: the paper, off).",
        type=click.FloatRange(min=0),
    )
    val_every: int = setting(0, "Validate (and checkpoint) every N steps (0: each epoch).", type=click.IntRange(min=0))
    patience: int = setting(
        5,
        "Early stopping: validations without a better validation correspondence error (0: off).",
        type=click.IntRange(min=0),
    )
    checkpoint_every: int = setting(
        200, "Resumable state every N steps (a kill -9 loses at most this).", type=click.IntRange(min=1)
    )
    keep_every: int = setting(
        0,
        "Also keep the model at every N-th step as step-NNNNNN.safetensors, for scoring a run's checkpoints "
        "by another rule afterwards (0: off).",
        type=click.IntRange(min=0),
    )
    workers: int | None = setting(
        None, "DataLoader workers [default: 0 on CPU, 4 on CUDA].", type=click.IntRange(min=0)
    )
    threads: int | None = setting(None, "torch CPU threads [default: torch's].", type=click.IntRange(min=1))
    cache: str = setting(
        "auto",
        "Decoded dataset in memory (auto: when it fits in --cache-gb).",
        type=click.Choice(["auto", "on", "off"]),
    )
    cache_gb: float = setting(4.0, "Memory the in-memory dataset cache may use.", type=click.FloatRange(min=0))
    progress: bool = progress_setting()
    resume: bool = setting(
        False, "Continue the run in --out from its last checkpoint (settings not given come from its config.json)."
    )
    synth: list[str] | None = setting(
        None,
        "Shape bank (render-synthetic --bank), repeatable (pooled): make training "
        "pairs on the fly on the device instead of DATASETs.",
        type=click.Path(dir_okay=False),
        multiple=True,
    )
    val_pairs: int = setting(
        0, "Validate on at most N pairs, evenly spread over the split (0: all).", type=click.IntRange(min=0)
    )
    synth_backgrounds: str = setting(
        "studio",
        "With --synth: the background mix, the engine's (studio: gradients, noise, discs) or the "
        "fast renderer's photo style (photo: cloth, gradients, clutter, floors; slower, per view "
        "on the CPU). Either with the bank's photos half the time.",
        type=click.Choice(["studio", "photo"]),
    )
    synth_zoom: tuple[float, float] = setting(
        (1.0, 1.0),
        "With --synth: each batch framed tighter by a factor in "
        "[LOW, HIGH] (1.5: objects may fill and leave the frame).",
        type=FloatPair(),
    )

    def __post_init__(self):
        if isinstance(self.model, dict):  # as config.json stores it
            self.model = ModelSettings(**self.model)
        if not self.datasets and not self.synth:
            raise PointkitError("give at least one DATASET folder to train on, or --synth BANK")
        self.datasets = [str(d) for d in self.datasets]
        if isinstance(self.synth, (str, Path)):  # one bank, as configs before several were allowed
            self.synth = [str(self.synth)]
        self.synth = [str(b) for b in self.synth] if self.synth else None
        if self.steps is None and self.epochs is None:
            raise PointkitError("give --steps or --epochs")
        check(self)
        self.synth_zoom = FloatPair().convert(self.synth_zoom, None, None)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (1e-5 if self.init else 1e-3)

    def resolved_corr_per_pair(self) -> int:
        """Correspondences per pair: ``corr_per_pair``; 0 keeps all of a dataset pair's, but under
        ``--synth`` is ``SYNTH_CORR_PER_PAIR`` (pairs made on the fly correspond at every pixel)."""
        return self.corr_per_pair or (SYNTH_CORR_PER_PAIR if self.synth else 0)

    def ransac_threshold(self, input_size: int) -> float:
        """RANSAC's inlier threshold in input pixels: ``tau`` (default ``TAU_PX`` at
        ``TAU_INPUT_SIZE`` px, scaled), whether or not R is used."""
        return self.tau if self.tau is not None else TAU_PX * input_size / TAU_INPUT_SIZE

    def resolved_tau(self, input_size: int) -> float | None:
        """R's threshold in input pixels, or None (plain squared error) when ``robust`` is off."""
        return self.ransac_threshold(input_size) if self.robust else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def saved_config(out: str | Path) -> dict[str, Any] | None:
    """The config the run in ``out`` was started with: its ``config.json``, or, for runs made
    before there was one, the config in its ``run.json``; None for a new run folder."""
    saved = load_saved(out, "train")
    record = Path(out) / "run.json"
    if saved is None and record.is_file():
        try:
            saved = json.loads(record.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PointkitError(f"{record}: cannot read the run's config ({exc}); use another --out") from None
    return nest_model_settings(saved) if saved is not None else None


def nest_model_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A saved train config with its architecture under ``"model"``: runs saved before
    ``TrainConfig.model`` existed have those fields at the top."""
    names = [f.name for f in fields(ModelSettings)]
    if "model" in config or not any(k in config for k in names):
        return config
    flat = {k: v for k, v in config.items() if k not in names}
    return {**flat, "model": {k: config[k] for k in names if k in config}}
