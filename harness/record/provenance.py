"""Which code and which machine produced a run: the commit, whether the tree differed from it, and
how many cores the run had to itself.

A commit alone does not identify the code when the working tree has uncommitted changes, so a
dirty tree is recorded as such, with a short hash of the difference (tracked changes and the
contents of untracked, not ignored files): two runs with the same SHA and diff hash ran the same
code. The committed results (``results/``) are what the code produces, not part of it: a script
that makes several tables exports the first before it runs the next, and those runs still ran the
commit's code exactly. Outside a git checkout (an installed wheel) every field is ``unknown``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

UNKNOWN = "unknown"
CONCURRENT_ENV = "DFKD_CONCURRENT_JOBS"  # set by whoever runs CPU cells side by side (bench sweep --jobs)
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout: harness/record/provenance.py
CODE = (".", ":(exclude)results")  # the pathspec of the code: everything but the committed results


@dataclass(frozen=True)
class GitState:
    sha: str
    dirty: str  # "true", "false" or "unknown"
    diff_sha: str  # short hash of the uncommitted difference, "" when clean

    def tags(self) -> dict[str, str]:
        tags = {"dfkd.git_sha": self.sha, "dfkd.git_dirty": self.dirty}
        if self.diff_sha:
            tags["dfkd.git_diff_sha"] = self.diff_sha
        return tags


def _git(*args: str, root: Path) -> bytes:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True, timeout=20).stdout


def git_state(root: Path = SOURCE_ROOT) -> GitState:
    """The commit the code was run at and whether the working tree differed from it."""
    try:
        sha = _git("rev-parse", "HEAD", root=root).decode().strip()
        diff = _git("diff", "HEAD", "--binary", "--", *CODE, root=root)
        untracked = _git("ls-files", "--others", "--exclude-standard", "-z", "--", *CODE, root=root).split(b"\0")
    except (OSError, subprocess.SubprocessError):
        return GitState(UNKNOWN, UNKNOWN, "")
    digest = hashlib.sha256(diff)
    for name in filter(None, untracked):
        digest.update(b"\0" + name + b"\0")
        path = root / name.decode()
        if path.is_file():
            digest.update(path.read_bytes())
    dirty = bool(diff) or any(untracked)
    return GitState(sha or UNKNOWN, str(dirty).lower(), digest.hexdigest()[:12] if dirty else "")


def cpu_tags() -> dict[str, str]:
    """The cores this process may use and the threads torch runs on: a timing taken on one pinned
    core is not comparable with one taken on all of them."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    return {"dfkd.cpu_cores": str(cores), "dfkd.threads": str(torch.get_num_threads())}


def concurrency_tags() -> dict[str, str]:
    """How many CPU cells shared this machine's cores (not a solo timing), when someone said so."""
    jobs = os.environ.get(CONCURRENT_ENV)
    return {"dfkd.concurrent_jobs": jobs} if jobs else {}
