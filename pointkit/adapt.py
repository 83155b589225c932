"""``pointkit adapt``: fine-tune LiftNet on your own photos in one command.

1. ``match`` the photo folders (one sub-folder per object) into ``OUT/matched``;
2. hold out a seeded share of each object's view pairs (both directions of a pair together):
   ``OUT/pairs-train`` and ``OUT/pairs-heldout`` hold the same photos with disjoint pairs;
3. fine-tune the model (default: the shipped one) with the correspondence loss, SGD with momentum
   0.9 as the paper, at lr 1e-4 for 1200 steps (the paper fine-tunes at 1e-5 for thousands of
   steps; in a short run 1e-5 barely moves: on the 16 dino photos, 100 steps lowered the held-out
   error by 8 % at 1e-5 and 35 % at 1e-4. Against the true cameras of the dino, temple and
   fountain, lr 1e-4 beat 3e-4, and from the shipped v3 the depth improved from 600 to 900 to
   1200 steps (geometric mean 0.720, 0.657, 0.650 x flat); 1800 gave 0.629 at 1.5x the time,
   all of it on the dino: docs/results.md) in ``OUT/run``; the held-out pairs are the validation
   set, so ``val.csv``'s step 0 is the error before and its best the error after (the checkpoint
   kept);
4. ``OUT/best.safetensors`` and ``OUT/MODEL_CARD.md``: ``lift --checkpoint OUT`` takes the folder.
   It is the fine-tuned model only when that lowered the held-out error by at least ``min_gain``
   (5 %); else the starting model. On the fountain a 1 % gain (2.318 -> 2.295 px on 9 held-out
   pairs) came with worse depth against the true cameras (0.82 x flat against the start's 0.80),
   while the dino and temple gained 55 % and 17 % (1200 steps) and their depth improved (docs/results.md).

The mask lift takes is kept. Fine-tuning moves the trunk the mask head shares with depth, and a
head left untrained drifted into plausible-looking blobs that lift accepted (dino mask IoU 0.98 ->
0.26, issue 21). So the head is trained on along with depth (BCE, weight 1) against the photos'
masks: a ``--masks`` folder or GrabCut (``--masks auto``) given to matching, or else the masks
``pointkit lift`` takes with the starting model (pseudo-labels). That also helps the depth: on the
Middlebury dino and temple (300 steps), all-points affine / flat 0.74 and 0.83 with it, 0.77 and 0.91 without
(docs/results.md). The adapted head is marked trusted (checkpoint metadata
``mask_head_trusted``) only when its targets were the user's masks or mostly the starting head's
own accepted masks; when lift took GrabCut for most photos (the shipped model's head is
implausible on the dino and temple), lift keeps taking GrabCut, as with the starting model.
Re-running the same command resumes (matching is reused, training resumes exactly). After photos
were added, removed or replaced it matches only the pairs with a new photo (``OUT/pair-cache``),
then splits and fine-tunes again; the earlier run is kept as ``OUT/run-superseded``.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from collections import Counter
from dataclasses import asdict, dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import click
import numpy as np

from pointkit.data.format import Dataset, ObjectRecord, write_manifest, write_object
from pointkit.errors import PointkitError
from pointkit.imaging import LoadedImage
from pointkit.io import write_bytes_atomic, write_json_atomic
from pointkit.jobs.settings import device_setting, setting
from pointkit.jobs.settings import check as check_settings
from pointkit.lifting.model import load_model
from pointkit.lifting.predict import predict
from pointkit.masks import object_mask
from pointkit.match import build_matched_dataset
from pointkit.match.settings import MatchSettings
from pointkit.models.catalog import checkpoint_file  # torch-free: names -> checkpoint files
from pointkit.models.onnx_model import export_path

log = logging.getLogger(__name__)

RECORD = "adapt.json"
FORMAT = 2
"""adapt.json's format: 2 since the mask lift takes is kept (module doc); a folder of format 1
(mask head left to drift and trusted) is not resumed."""


MATCH_OPTIONS = ("masks", "max_size")
"""The ``pointkit match`` settings ``pointkit adapt`` has options for (as match's, from
:class:`~pointkit.match.settings.MatchSettings`); ``--seed`` is given to matching too."""

_DIR = click.Path(file_okay=False)


@dataclass(frozen=True)
class AdaptConfig:
    """What ``pointkit adapt`` does (each field's help says what it is). ``pointkit adapt``'s
    options are made from these fields (:mod:`pointkit.jobs.settings`) and from ``match``'s
    :data:`MATCH_OPTIONS`: a default, a range and a help line live here (or in MatchSettings) only.
    """

    photos: str = setting(
        help="A folder with one sub-folder of photos per object.", type=_DIR, argument=True, required=True
    )
    out: str = setting(
        help="Adaptation folder (created; the same command resumes it). lift --checkpoint takes it.", type=_DIR
    )
    init: str = setting("default", "Model to start from: checkpoint, run folder or name.")
    steps: int = setting(1200, "Fine-tuning steps.", type=click.IntRange(min=1))
    batch_size: int = setting(
        8, "Pairs per step, at most the ordered training pairs there are.", type=click.IntRange(min=1)
    )
    lr: float = setting(
        1e-4,
        "SGD learning rate (momentum 0.9, as the paper; 10x its fine-tuning lr for a short run).",
        type=click.FloatRange(min=0, min_open=True),
    )
    holdout: float = setting(
        0.2,
        "Share of each object's view pairs held out to measure the error before and after.",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
    )
    min_gain: float = setting(
        0.05,
        "Keep the fine-tuned model only if it lowers the held-out error by at least this share, else the "
        "starting model (a few held-out pairs measure noisily).",
        type=click.FloatRange(0, 1, max_open=True),
    )
    min_pairs: int = setting(
        3,
        "Refuse when match keeps fewer view pairs than this (3: one held out, two to train on).",
        type=click.IntRange(min=2),
    )
    corr_per_pair: int = setting(
        200, "Correspondences per pair per step, a seeded subset (0: all).", type=click.IntRange(min=0), cli=False
    )
    match: MatchSettings = setting(
        help="The pointkit match settings (a MatchSettings, or a dict of its fields other than the defaults); "
        "the command gives its --masks, --max-size and --seed.",
        default_factory=MatchSettings,
        cli=False,
    )
    seed: int = setting(0, "Seed of the held-out split, the fine-tuning and matching (match's --seed).", type=int)
    device: str = device_setting()
    threads: int | None = setting(None, "torch CPU threads.", type=click.IntRange(min=1))

    def __post_init__(self):
        if isinstance(self.match, dict):  # as adapt.json stores it, or only the settings that differ
            object.__setattr__(self, "match", MatchSettings(**self.match))
        object.__setattr__(self, "photos", str(self.photos))
        object.__setattr__(self, "out", str(self.out))
        check_settings(self)

    def check(self) -> None:
        """What can only be checked when the job runs (the settings are checked when it is made)."""
        if not Path(self.photos).is_dir():
            raise PointkitError(f"{self.photos}: not a folder; give a folder with one sub-folder of photos per object")


def _unordered(pairs: np.ndarray) -> list[tuple[int, int]]:
    return sorted({(int(min(s, t)), int(max(s, t))) for s, t in pairs})


def pseudo_masks(images: np.ndarray, init: str) -> tuple[np.ndarray, np.ndarray]:
    """The masks ``pointkit lift`` takes (``auto``) with the model ``init`` for (N, H, W, 3) uint8
    images, and whether each came from its mask head: (N, H, W) bool, (N,) bool. The whole image
    where it finds no object (as ``match --masks auto``)."""
    model, meta = load_model(init, "cpu", "auto")
    trusted = meta.get("mask_head_trusted", True)
    masks, from_head = np.ones(images.shape[:3], bool), np.zeros(len(images), bool)
    for i, rgb in enumerate(images):
        logits = predict(model, rgb)[1] if trusted else None
        try:
            masks[i], source = object_mask(LoadedImage(rgb, None, f"view {i}"), logits, "auto")
            from_head[i] = source.startswith("network")
        except PointkitError:
            pass
    return masks, from_head


def split_pairs(
    matched: Path, out: Path, holdout: float, seed: int, masks: dict[str, np.ndarray] | None = None
) -> dict[str, int]:
    """Write ``out/pairs-train`` and ``out/pairs-heldout`` from the matched dataset (see the module
    doc): at least one and at most all but one of an object's view pairs are held out; an object
    with one view pair goes to training only. ``masks``: object id -> (N, H, W) bool masks that
    replace the matched ones. Returns pair counts (unordered)."""
    ds = Dataset.open(matched)
    rng = np.random.default_rng(seed)
    counts = Counter()
    entries: dict[str, dict] = {"train": {}, "val": {}}
    for oid in ds.split("all"):
        rec = ds.read(oid)
        keys = _unordered(rec.pairs)
        n_out = min(len(keys) - 1, max(1, int(round(holdout * len(keys))))) if len(keys) >= 2 else 0
        held = {keys[i] for i in rng.permutation(len(keys))[:n_out]}
        for split, folder in (("train", "pairs-train"), ("val", "pairs-heldout")):
            rows = [i for i, (s, t) in enumerate(rec.pairs) if ((min(s, t), max(s, t)) in held) == (split == "val")]
            if not rows:
                continue
            sizes = [rec.pair_offsets[i + 1] - rec.pair_offsets[i] for i in rows]
            write_object(
                out / folder,
                ObjectRecord(
                    oid,
                    rec.images,
                    rec.masks if masks is None else masks[oid],
                    rec.pairs[rows],
                    np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                    np.concatenate([rec.uv_src[rec.pair_offsets[i] : rec.pair_offsets[i + 1]] for i in rows]),
                    np.concatenate([rec.uv_tgt[rec.pair_offsets[i] : rec.pair_offsets[i + 1]] for i in rows]),
                ),
            )
            entries[split][oid] = {"split": split, "pairs": len(rows)}
            counts[split] += len(rows) // 2
    for split, folder in (("train", "pairs-train"), ("val", "pairs-heldout")):
        write_manifest(
            out / folder,
            {"kind": "matched", "generator": "pointkit adapt", "source": str(matched), "objects": entries[split]},
        )
    return {"train_pairs": counts["train"], "heldout_pairs": counts["val"]}


def photo_listing(photos: Path) -> list[list]:
    """[relative path, bytes, mtime (ns)] of every file under ``photos``, sorted: what tells a
    re-run that photos were added, removed or replaced."""
    files = sorted(p for p in photos.rglob("*") if p.is_file())
    return [[str(p.relative_to(photos)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def _match(cfg: AdaptConfig, out: Path, previous: dict[str, Any], progress: bool) -> dict[str, Any]:
    """Run the match stage (or reuse the finished one of ``previous``); refuse too few usable pairs
    with the reasons. Pair results are kept in ``out/pair-cache``: after photos were added, only
    the pairs with a new photo are matched."""
    settings = cfg.match
    matched = out / "matched"
    if "match" in previous and (matched / "manifest.json").is_file():
        summary = previous["match"]
    else:
        if matched.exists():
            shutil.rmtree(matched)
        summary = build_matched_dataset(cfg.photos, matched, settings, progress=progress, cache=out / "pair-cache")
    if summary["pairs_kept"] < cfg.min_pairs:
        kinds = Counter()
        for why, n in summary["reasons"].items():  # "too few matches (4 < 20)" -> "too few matches"
            kinds[re.sub(r"\s*\(.*\)$", "", why)] += n
        reasons = "; ".join(f"{n} x {why}" for why, n in kinds.most_common(3)) or "none given"
        raise PointkitError(
            f"{cfg.photos}: only {summary['pairs_kept']} usable view pairs of "
            f"{summary['pairs_kept'] + summary['pairs_rejected']} (need {cfg.min_pairs}); most "
            f"rejected because: {reasons}. Add photos: a ring of 16-24 around each object, 15-20 degrees "
            "apart, each sharing most of its view and texture with its neighbours"
        )
    return summary


def adapt(cfg: AdaptConfig, progress: bool = True) -> dict[str, Any]:
    """Run ``pointkit adapt`` (module doc). Returns the summary also written to ``OUT/adapt.json``.

    Raises:
        PointkitError: bad options, an --out holding something else, too few usable pairs.
    """
    cfg.check()
    out = Path(cfg.out)
    previous = _previous_run(cfg, out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"format": FORMAT, "config": asdict(cfg)}
    write_json_atomic(out / RECORD, {**previous, **summary})  # from here on a re-run resumes this folder
    photos = photo_listing(Path(cfg.photos))
    if previous.get("photos", photos) != photos:
        previous = _photos_changed(out, previous)
    summary["match"] = _match(cfg, out, previous, progress)
    summary["photos"] = photos
    write_json_atomic(out / RECORD, summary)
    if "pairs" in previous and (out / "pairs-heldout" / "manifest.json").is_file():
        summary["pairs"] = previous["pairs"]
    else:
        masks, mask_info = _training_masks(cfg, out, progress)
        summary["pairs"] = {**split_pairs(out / "matched", out, cfg.holdout, cfg.seed, masks), **mask_info}
    if not summary["pairs"]["heldout_pairs"]:
        raise PointkitError(
            f"{cfg.photos}: no object has 2 usable view pairs, so none can be held out to measure "
            "the fine-tuning; add photos with more overlap"
        )
    write_json_atomic(out / RECORD, summary)
    summary.update(_fine_tune(cfg, out, progress))
    gain = 1 - summary["heldout_error_after_px"] / summary["heldout_error_before_px"]
    summary["kept"] = "adapted" if gain >= cfg.min_gain else "start"
    if summary["kept"] == "adapted":
        _publish(out / "run" / "best.safetensors", out / "best.safetensors", summary["pairs"]["head_trusted"])
    else:
        write_bytes_atomic(out / "best.safetensors", checkpoint_file(cfg.init).read_bytes())
    summary["onnx"] = _export_onnx(out / "best.safetensors")
    write_bytes_atomic(out / "MODEL_CARD.md", _card(cfg, summary).encode())
    write_json_atomic(out / RECORD, summary)
    return {"out": str(out), "checkpoint": str(out / "best.safetensors"),
            **{k: v for k, v in summary.items() if k != "config"}}  # fmt: skip


def _photos_changed(out: Path, previous: dict[str, Any]) -> dict[str, Any]:
    """Photos were added, removed or replaced since the last run: every stage after matching is
    done again (matching itself reuses its pair cache). The earlier fine-tuning run is kept as
    ``out/run-superseded`` (and its model as ``best-superseded.safetensors``). Returns the part of
    the record still valid: none of its stages."""
    log.info("%s: the photos changed since the last run; matching the new pairs and fine-tuning again", out)
    for folder in ("pairs-train", "pairs-heldout"):
        shutil.rmtree(out / folder, ignore_errors=True)
    if (out / "run").is_dir():
        shutil.rmtree(out / "run-superseded", ignore_errors=True)
        (out / "run").rename(out / "run-superseded")
    if (out / "best.safetensors").is_file():
        (out / "best.safetensors").replace(out / "best-superseded.safetensors")
    for stale in out.glob("best*.onnx"):
        stale.unlink()
    return {k: v for k, v in previous.items() if k in ("format", "config")}


RESUMABLE_CHANGES = ("min_pairs", "min_gain", "device", "threads")
"""Settings a re-run may change (after "too few usable pairs", say; a new --min-gain only
chooses the published model again); the others must match."""


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a re-run must repeat, from adapt.json's "config". Its "match" holds every
    match setting; records written before they were nested (issue 22) hold only those the
    command gave, so the defaults fill in the rest."""
    identity = {k: v for k, v in config.items() if k not in RESUMABLE_CHANGES}
    identity["match"] = {**MatchSettings().as_dict(), **config.get("match", {})}
    return identity


def _previous_run(cfg: AdaptConfig, out: Path) -> dict[str, Any]:
    """The record of an earlier run of the same adaptation in ``out`` ({} for a new one); refuses
    an --out holding something else or other settings, and a bad --init, before any work."""
    record = out / RECORD
    if out.exists() and any(out.iterdir()) and not record.is_file():
        raise PointkitError(f"{out}: not empty and not an adapt folder; choose a new --out")
    previous = json.loads(record.read_text()) if record.is_file() else {}
    if previous and previous.get("format", 1) != FORMAT:
        raise PointkitError(
            f"{out} was made by an older pointkit adapt (its mask head was not kept); choose a new --out"
        )
    if previous and _identity(previous.get("config", {})) != _identity(json.loads(json.dumps(asdict(cfg)))):
        raise PointkitError(f"{out} holds an adaptation with other settings; use them again or choose a new --out")
    checkpoint_file(cfg.init)  # a bad --init fails before matching
    return previous


def _training_masks(cfg: AdaptConfig, out: Path, progress: bool) -> tuple[dict[str, np.ndarray] | None, dict]:
    """The mask head's targets (None: the matched masks) and whether lift may trust the adapted
    head (``head_trusted``; module doc): a ``--masks`` folder given to matching is trusted, GrabCut
    masks (``--masks auto``) are not; without either, :func:`pseudo_masks` of every matched photo
    with the starting model, trusted when its head gave most of them."""
    from tqdm import tqdm

    given = cfg.match.masks
    if given != "none":
        return None, {"masks": f"match --masks {given}", "head_trusted": given != "auto"}
    ds = Dataset.open(out / "matched")
    labels = {
        oid: pseudo_masks(ds.read(oid).images, cfg.init)
        for oid in tqdm(ds.split("all"), desc="masks", disable=not progress)
    }
    heads = np.concatenate([from_head for _, from_head in labels.values()])
    info = {
        "masks": f"lift --checkpoint {cfg.init}: its mask head for {int(heads.sum())} of {len(heads)} photos, else GrabCut",
        "head_trusted": bool(heads.mean() > 0.5),
    }
    return {oid: m for oid, (m, _) in labels.items()}, info


def _publish(run_best: Path, out: Path, head_trusted: bool) -> None:
    """``out`` = the run's best checkpoint, its metadata saying whether lift may trust the head
    (the run trained it, so it is untrusted only where its targets were GrabCut's)."""
    from pointkit.models.liftnet import rewrite_checkpoint

    if not head_trusted:
        rewrite_checkpoint(run_best, out, metadata={"mask_head_trusted": False})
    else:
        write_bytes_atomic(out, run_best.read_bytes())


def _export_onnx(checkpoint: Path) -> str | None:
    """The ONNX export beside ``checkpoint`` (``lift --checkpoint OUT`` then runs by onnxruntime,
    as the shipped model does); None, and lift runs torch, where pointkit[onnx] is not installed."""
    from pointkit.onnx_export import export_onnx

    if any(find_spec(module) is None for module in ("onnx", "onnxruntime", "onnxscript")):
        return None
    return export_onnx(checkpoint, export_path(checkpoint))["out"]


def _fine_tune(cfg: AdaptConfig, out: Path, progress: bool) -> dict[str, Any]:
    """Fine-tune on ``out/pairs-train`` with ``out/pairs-heldout`` as validation (resumable, in
    ``out/run``); returns the held-out error before and after, the best step and the steps."""
    from pointkit.training import TrainConfig, train

    run = out / "run"
    ordered = sum(e["pairs"] for e in Dataset.open(out / "pairs-train").objects.values())  # split_pairs' counts
    train_cfg = TrainConfig(
        datasets=[str(out / "pairs-train"), str(out / "pairs-heldout")], out=str(run), init=cfg.init, loss="corr",
        corr_per_pair=cfg.corr_per_pair, steps=cfg.steps, batch_size=min(cfg.batch_size, ordered), lr=cfg.lr,
        optimizer="sgd", mask_weight=1.0, val_every=max(1, cfg.steps // 5), patience=0, checkpoint_every=max(1, cfg.steps // 10),
        seed=cfg.seed, device=cfg.device, threads=cfg.threads, progress=progress, resume=(run / "run.json").is_file(),
    )  # fmt: skip
    result = train(train_cfg)
    with open(run / "val.csv") as f:
        errors = {int(r["step"]): float(r["val_corr_error_px"]) for r in csv.DictReader(f)}
    return {
        "heldout_error_before_px": errors[min(errors)],
        "heldout_error_after_px": min(errors.values()),
        "best_step": min(errors, key=errors.get),
        "steps": result["steps"],
        "batch_size": train_cfg.batch_size,
    }


def _card(cfg: AdaptConfig, s: dict[str, Any]) -> str:
    m, p = s["match"], s["pairs"]
    return f"""# Adapted LiftNet: `{Path(cfg.out).name}`

Fine-tuned by `pointkit adapt` from `{cfg.init}` on the photos in `{cfg.photos}`.

| | |
|---|---|
| objects matched | {m["objects"]} |
| view pairs kept / rejected by `match` | {m["pairs_kept"]} / {m["pairs_rejected"]} |
| pairs for training / held out | {p["train_pairs"]} / {p["heldout_pairs"]} (seed {cfg.seed}) |
| fine-tuning | correspondence loss for depth, SGD momentum 0.9, lr {cfg.lr:g}, batch {s["batch_size"]}, {s["steps"]} steps |
| mask head | trained on with BCE against the masks of {p["masks"]}; {"lift's auto mask uses it" if p["head_trusted"] else "marked untrusted: lift takes GrabCut, as with the starting model"} |
| held-out correspondence error | **{s["heldout_error_before_px"]:.3f} px before, {s["heldout_error_after_px"]:.3f} px after** (best step {s["best_step"]}) |
| model in this folder | {"the fine-tuned one (best step)" if s["kept"] == "adapted" else f"the starting model: fine-tuning lowered the held-out error by less than {cfg.min_gain:.0%}"} |

The error is the reprojection error of held-out pairs through each pair's best affine camera, in
input pixels (lower is better); it measures the depth's consistency with those photos, not its
accuracy against true depth. Use it with `pointkit lift --checkpoint {cfg.out}`.
"""
