"""The resolved settings of one training run (saved as ``RUN/run.json`` and in every checkpoint)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pointkit.errors import PointkitError

# Settings that may change when a run is resumed (everything else must match the saved run).
RESUMABLE_CHANGES = ("steps", "epochs", "patience", "device", "workers", "threads", "progress", "resume",
                     "checkpoint_every")


@dataclass
class TrainConfig:
    """Everything a training run depends on. Defaults are the paper's synthetic-data settings (§5).

    Attributes:
        datasets: dataset folders (``pointkit render-synthetic`` or ``pointkit match``); their
            "train" objects are trained on, their "val" objects drive early stopping.
        out: run folder (config, logs, checkpoints).
        loss: "corr" (LiftNet: correspondences only) or "depth" (supervised baseline: MSE after the
            §5.1 scale/shift alignment on ground-truth depth).
        corr_per_pair: K correspondences per ordered view pair, a fixed seeded subset of each pair's
            correspondences (drawn once, as in the paper); 0 keeps all.
        tau: robust threshold of R in pixels of the network input; ``None`` = 10 px at 256 px,
            scaled with ``input_size`` (5 px at 128, 2.5 px at 64).
        ransac: robust camera by RANSAC (threshold ``tau``) before the least-squares refit.
        robust: use R; False is the plain squared error (the "without R" ablation).
        hypotheses: RANSAC hypotheses per pair.
        steps / epochs: training length; ``steps`` wins when both are given.
        batch_size: pairs per optimiser step, over all processes (DDP divides it).
        lr: learning rate; ``None`` = 1e-3, or 1e-5 when fine-tuning from ``init``.
        optimizer: "sgd" (momentum 0.9, the paper's) or "adamw".
        grad_clamp: gradients are clamped to +-grad_clamp (``clip_grad_value_``); 0 disables.
        amp: "auto" (bf16 on CUDA, off on CPU), "bf16" or "off".
        device: "auto", "cpu" or "cuda".
        seed: data order, correspondence subsets, initial weights, RANSAC samples.
        init: checkpoint whose weights start the run (fine-tuning); its architecture is used.
        input_size, ngf, mask_head, dropout, prior: LiftNet architecture (``None``: from ``init`` or
            defaults; ``prior`` "silhouette" adds the mask's silhouette prior as an input channel).
        prior_dropout: with the silhouette prior, the share of training samples whose prior is
            zeroed (the network must also work from RGB alone: lift's mask pass has no prior).
        mask_weight: weight of the BCE loss of the mask head against the dataset masks.
        center_weight: weight of ``(mean depth over the object mask)^2``. The correspondence loss
            leaves the depth offset free (d -> a d + e); this pins it near 0 without changing
            the shape learned, so the paper's §5.1 alignment (whose scale is computed on
            uncentred values) measures shape rather than the arbitrary offset. 0 (the paper): off.
        val_every: validate (and checkpoint) every N steps; 0 = once per epoch.
        patience: stop after this many validations without a better validation correspondence
            error; 0 disables early stopping.
        checkpoint_every: write the resumable state every N steps (a kill -9 loses at most this).
        workers: DataLoader worker processes (``None``: 0 on CPU, 4 on CUDA).
        threads: torch CPU threads (``None``: torch's default).
        cache: keep the decoded, resized dataset in memory ("auto": when it fits in ``cache_gb``).
        cache_gb: memory the in-memory cache may use.
        progress: tqdm bar on stderr.
        resume: continue the run in ``out`` from its last checkpoint.
        val_pairs: validate on at most this many validation pairs, evenly spread over the split
            (0: all; a large split costs minutes per validation on a CPU).
        synth: shape banks (``render-synthetic --bank``), their shapes and appearance assets
            pooled: training pairs are made on the fly on the training device by
            :mod:`pointkit.engine` instead of read from ``datasets``.
        synth_zoom: (low, high) framing factor of ``synth`` batches (``SynthStream``'s ``zoom``).
    """

    datasets: list[str]
    out: str
    loss: str = "corr"
    corr_per_pair: int = 0
    tau: float | None = None
    ransac: bool = True
    robust: bool = True
    hypotheses: int = 256
    steps: int | None = None
    epochs: int | None = 200
    batch_size: int = 16
    lr: float | None = None
    optimizer: str = "sgd"
    grad_clamp: float = 5.0
    amp: str = "auto"
    device: str = "auto"
    seed: int = 0
    init: str | None = None
    input_size: int | None = None
    ngf: int | None = None
    mask_head: bool | None = None
    dropout: float | None = None
    prior: str | None = None
    prior_dropout: float = 0.3
    mask_weight: float = 1.0
    center_weight: float = 0.0
    val_every: int = 0
    patience: int = 5
    checkpoint_every: int = 200
    workers: int | None = None
    threads: int | None = None
    cache: str = "auto"
    cache_gb: float = 4.0
    progress: bool = True
    resume: bool = False
    synth: list[str] | None = None
    val_pairs: int = 0
    synth_zoom: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self):
        if not self.datasets and not self.synth:
            raise PointkitError("give at least one DATASET folder to train on, or --synth BANK")
        self.datasets = [str(d) for d in self.datasets]
        if isinstance(self.synth, (str, Path)):   # one bank, as configs before several were allowed
            self.synth = [str(self.synth)]
        self.synth = [str(b) for b in self.synth] if self.synth else None
        self.synth_zoom = tuple(float(z) for z in self.synth_zoom)
        checks = [
            (self.loss in ("corr", "depth"), f"--loss {self.loss!r}: use corr or depth"),
            (self.optimizer in ("sgd", "adamw"), f"--optimizer {self.optimizer!r}: use sgd or adamw"),
            (self.amp in ("auto", "bf16", "off"), f"--amp {self.amp!r}: use auto, bf16 or off"),
            (self.device in ("auto", "cpu", "cuda"), f"--device {self.device!r}: use auto, cpu or cuda"),
            (self.cache in ("auto", "on", "off"), f"--cache {self.cache!r}: use auto, on or off"),
            (self.batch_size >= 1, f"--batch-size {self.batch_size}: must be at least 1"),
            (self.corr_per_pair >= 0, f"--corr-per-pair {self.corr_per_pair}: must be >= 0 (0 keeps all)"),
            (self.steps is None or self.steps >= 1, f"--steps {self.steps}: must be at least 1"),
            (self.epochs is None or self.epochs >= 1, f"--epochs {self.epochs}: must be at least 1"),
            (self.steps is not None or self.epochs is not None, "give --steps or --epochs"),
            (self.tau is None or self.tau > 0, f"--tau {self.tau}: must be positive"),
            (self.lr is None or self.lr > 0, f"--lr {self.lr}: must be positive"),
            (self.checkpoint_every >= 1, f"--checkpoint-every {self.checkpoint_every}: must be at least 1"),
            (self.hypotheses >= 1, f"--hypotheses {self.hypotheses}: must be at least 1"),
            (self.val_every >= 0, f"--val-every {self.val_every}: must be >= 0 (0: once per epoch)"),
            (self.patience >= 0, f"--patience {self.patience}: must be >= 0 (0: no early stopping)"),
            (self.workers is None or self.workers >= 0, f"--workers {self.workers}: must be >= 0"),
            (self.val_pairs >= 0, f"--val-pairs {self.val_pairs}: must be >= 0 (0: all)"),
            (self.prior in (None, "none", "silhouette"), f"--prior {self.prior!r}: use none or silhouette"),
            (0 <= self.prior_dropout < 1, f"--prior-dropout {self.prior_dropout}: must be in [0, 1)"),
            (len(self.synth_zoom) == 2 and 0 < self.synth_zoom[0] <= self.synth_zoom[1],
             f"--synth-zoom {self.synth_zoom}: use LOW,HIGH with 0 < LOW <= HIGH, e.g. 1,1.5"),
        ]
        for ok, message in checks:
            if not ok:
                raise PointkitError(message)

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (1e-5 if self.init else 1e-3)

    def ransac_threshold(self, input_size: int) -> float:
        """RANSAC's inlier threshold in input pixels: ``tau`` (default 10 px at 256 px, scaled),
        whether or not R is used."""
        return self.tau if self.tau is not None else 10.0 * input_size / 256

    def resolved_tau(self, input_size: int) -> float | None:
        """R's threshold in input pixels, or None (plain squared error) when ``robust`` is off."""
        return self.ransac_threshold(input_size) if self.robust else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
