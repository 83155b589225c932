"""The ``pointkit lift`` job over files and folders (:func:`lift_files`): find the images, name
their outputs, lift them a batch at a time and write each image's files; one bad image is
reported and the others go on."""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from pointkit.errors import PointkitError, first_line
from pointkit.imaging import IMAGE_SUFFIXES
from pointkit.jobs.settings import save
from pointkit.lifting.config import LiftConfig
from pointkit.lifting.model import load_model, torch_device
from pointkit.lifting.outputs import output_files, parse_formats, write_outputs
from pointkit.lifting.pipeline import lift_batch

GPU_BATCH = 8  # images per network forward on CUDA (lift_files' default)


def collect_images(inputs: Iterable[str | Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """(image file, its folder relative to the input folder it was found in) for files and folders
    (a folder's images with known suffixes, sorted; with ``recursive`` its sub-folders' too), each
    file once. A file given directly has the relative folder ``.``."""
    files: dict[Path, Path] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            walk = item.rglob("*") if recursive else item.iterdir()
            found = sorted(
                p
                for p in walk
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
            if not found:
                where = "this folder or below" if recursive else "this folder (-r: and its sub-folders)"
                raise PointkitError(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) in {where}")
            for p in found:
                files.setdefault(p, p.parent.relative_to(item))
        else:
            files.setdefault(item, Path("."))
    if not files:
        raise PointkitError("no input images given")
    return list(files.items())


def output_stems(files: list[tuple[Path, Path]] | list[Path]) -> list[str]:
    """The output stem of each input (``collect_images`` pairs, or plain paths): its relative folder
    and its own stem, or ``<stem>_<suffix>`` when two inputs of one folder share a stem (a.jpg,
    a.png), so they do not overwrite each other.

    Raises:
        PointkitError: two inputs that would still write the same files (x.png in two folders).
    """
    pairs = [(f, Path(".")) if isinstance(f, Path) else f for f in files]
    counts = Counter((rel / f.stem).as_posix() for f, rel in pairs)
    stems = []
    for f, rel in pairs:
        key = (rel / f.stem).as_posix()
        stems.append(key if counts[key] == 1 else f"{key}_{f.suffix.lstrip('.').lower()}")
    first: dict[str, Path] = {}
    for (path, _), stem in zip(pairs, stems):
        if stem in first:
            raise PointkitError(
                f"{first[stem]} and {path} would both write {stem}.* into the output folder; "
                f"lift them into separate --out folders"
            )
        first[stem] = path
    return stems


def check_writable(out: str | Path) -> Path:
    """Create ``out`` if needed and prove it is writable, before any work is done."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".pointkit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PointkitError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    return out


def _outermost_missing(out: Path) -> Path | None:
    """The outermost folder that creating ``out`` makes (``out`` or a parent), None if it exists."""
    missing = [p for p in (out, *out.parents) if not p.exists()]
    return missing[-1] if missing else None


def _remove_empty_folders(top: Path) -> None:
    """Remove the folders under ``top``, and ``top``, that hold no file (rmdir: never a file)."""
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


def _one_line(path: Path, exc: Exception) -> str:
    """What one image's failure says on one line, naming the image."""
    if isinstance(exc, PointkitError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{path}: cannot write its outputs ({exc})"
    return f"{path}: {type(exc).__name__}" + (f": {first_line(exc)}" if str(exc).strip() else "")


def lift_files(config: LiftConfig, on_image: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The ``pointkit lift`` job: every image of ``config.inputs`` (files and folders; with
    ``recursive`` the folders' sub-folders too, mirrored under ``config.out``) into ``config.out``,
    in each of its formats, then ``<out>/config.json`` (unless no image was lifted or skipped).
    The settings were checked when the config was made (:class:`LiftConfig`).

    ``on_image`` is called after each image with ``{"image", "done", "total"}`` plus ``"outputs"``
    (paths), ``"skipped": True`` or ``"error"`` (one line): the progress a driving program shows.
    The network sees ``batch_size`` images per forward (:func:`lift_batch`; None: ``GPU_BATCH`` on
    CUDA, 1 on the CPU, where batching buys nothing).

    A failing image is reported (one line on stderr, naming it) and the others go on; a single
    input file that fails raises. The model is loaded once, before the first image. With
    ``skip_existing`` an image whose files (``output_files``) all exist is not lifted again.
    Folders this run created and wrote nothing into (all images failed) are removed at the end.

    Returns:
        ``{"out", "lifted", "skipped", "failed", "errors": {file: message}, "outputs": {file: [paths]}}``.
    """
    c = config
    formats = parse_formats(c.fmt)
    device = torch_device(c.device, c.backend)
    batch_size = c.batch_size or (GPU_BATCH if device.startswith("cuda") else 1)
    files = collect_images(c.inputs, c.recursive)
    stems = output_stems(files)
    made = _outermost_missing(Path(c.out))
    try:
        out = check_writable(c.out)
        load_model(c.checkpoint, device, c.backend)
        run = _FolderRun(len(files), out, formats, c.normals, c.progress, on_image)
        todo = []
        for (path, _), stem in zip(files, stems):
            if c.skip_existing and all(p.is_file() for p in output_files(out, stem, formats, c.normals)):
                run.report(path, skipped=True)
            else:
                todo.append((path, stem))
        options = dict(
            checkpoint=c.checkpoint,
            depth_scale=c.depth_scale,
            mask=c.mask,
            device=device,
            max_pixels=c.max_pixels,
            mesh_resolution=c.mesh_resolution,
            scale_from=c.scale_from,
            max_memory_gb=c.max_memory_gb,
            backend=c.backend,
        )
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            for (path, stem), result in zip(chunk, lift_batch([path for path, _ in chunk], **options)):
                run.write(path, stem, result)
        summary = run.summary()
        if summary["lifted"] or summary["skipped"]:  # no config.json for a run that wrote nothing
            save(config, out, "lift")
        return summary
    finally:
        if made is not None:  # no empty --out left behind (all failed, or an error stopped the run)
            _remove_empty_folders(made)


class _FolderRun:
    """The bookkeeping of one :func:`lift_files` job: outputs and errors per image, the progress
    bar and ``on_image`` events; a single input image's failure is raised instead of counted."""

    def __init__(self, total: int, out: Path, formats, normals: bool, progress: bool, on_image):
        from tqdm import tqdm

        self.total, self.out, self.formats, self.normals, self.on_image = total, out, formats, normals, on_image
        self.outputs: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.skipped, self._done = 0, itertools.count(1)
        self.bar = tqdm(total=total, desc="lift", unit="img", disable=not progress or total < 2)

    def report(self, path: Path, **what) -> None:
        self.skipped += bool(what.get("skipped"))
        self.bar.update()
        if self.on_image:
            self.on_image({"image": str(path), "done": next(self._done), "total": self.total, **what})

    def write(self, path: Path, stem: str, result) -> None:
        """Write one image's files (``result``: its LiftResult or the exception that stopped it)."""
        try:
            if isinstance(result, BaseException):
                raise result
            self.outputs[str(path)] = [
                str(p) for p in write_outputs(result, self.out, stem, self.formats, self.normals)
            ]
            self.report(path, outputs=self.outputs[str(path)])
        except Exception as exc:  # one bad image must not stop a folder: report it, go on
            message = _one_line(path, exc)
            if self.total == 1:
                if not isinstance(exc, (PointkitError, OSError)):
                    raise  # a single image: the CLI reports it (traceback with --debug)
                raise PointkitError(message) from None
            self.errors[str(path)] = message
            self.bar.write(f"pointkit: {message}", file=sys.stderr)
            self.report(path, error=message)

    def summary(self) -> dict[str, Any]:
        self.bar.close()
        return {
            "out": str(self.out),
            "lifted": len(self.outputs),
            "skipped": self.skipped,
            "failed": len(self.errors),
            "errors": self.errors,
            "outputs": self.outputs,
        }
