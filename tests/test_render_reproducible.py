"""The fast renderer is bit-reproducible: the same render-synthetic job run twice, in two fresh
processes with different hash seeds and CPU counts, writes the same bytes (object files and
manifest; config.json differs only in its "out")."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path


JOB = ["render-synthetic", "--procedural", "12", "--views", "3", "--resolution", "48", "-q"]


def _render(out: Path, hash_seed: str, cpus: set[int] | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    code = (
        "import os, sys\nif sys.argv[1]: os.sched_setaffinity(0, {int(c) for c in sys.argv[1].split(',')})\n"
        "from pointkit_cli.main import cli\ncli(sys.argv[2:])"
    )
    cpu_arg = ",".join(map(str, sorted(cpus))) if cpus else ""
    run = subprocess.run(
        [sys.executable, "-c", code, cpu_arg, *JOB, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["config"].pop("out") == str(out)
    files = {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "config.json"
    }
    return {**files, "config.json": json.dumps(config, sort_keys=True)}


def test_two_runs_write_the_same_bytes(tmp_path):
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    first = _render(tmp_path / "a", "1", cpus)
    second = _render(tmp_path / "b", "2", {min(cpus)} if cpus else None)  # one CPU: other thread splits
    assert len(first) == 14  # 12 objects, the manifest and config.json
    assert first == second, sorted(k for k in first if first[k] != second.get(k))
