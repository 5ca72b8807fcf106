"""Where a training run's files live: its folder on the lake (or ``train.storage_path``), and this machine's copy.

A run folder holds Ray Train's checkpoints (``step_NNNNNN``, which Ray writes itself through
the filesystem the trainer hands it), codemill's ``codemill/`` artifacts (manifest, base model,
metrics, TensorBoard, loss curve, worker records) and the Hugging Face ``export/``.

On a local lake the run folder is a local directory and every process writes into it directly,
as it always did (``local`` *is* ``root``; ``publish`` and ``fetch`` do nothing). On an object-store
lake it is a prefix such as ``s3://bucket/lake/_train/<run>``: each process (the driver, each
worker, on whatever node) works in its own local copy under ``lake.cache_dir``, in a folder named
by a hash of the run's URI, copies what it wrote to the store (``publish``) and what it needs from
it (``fetch``, ``fetch_folder``). The store is the only thing the nodes share (decision 0173).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from data_platform import storage
from data_platform.storage import DEFAULT_CACHE, LakeURI, Location

ARTIFACTS = "codemill"
COMPLETE = ".complete"  # written last into a published folder: its files are all there


@dataclass(frozen=True)
class RunFolder:
    """One run's folder; small and picklable, so the driver hands it to every Ray Train worker."""

    root: Location
    cache_root: str = DEFAULT_CACHE  # unexpanded: each node resolves it against its own home

    @property
    def remote(self) -> bool:
        return isinstance(self.root, LakeURI)

    @property
    def local(self) -> Path:
        """This machine's copy of the run folder (the folder itself when it is local)."""
        if not self.remote:
            return self.root
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(os.path.expandvars(self.cache_root)).expanduser().resolve() / "runs" / digest

    @property
    def artifacts(self) -> Location:
        return self.root / ARTIFACTS

    @property
    def local_artifacts(self) -> Path:
        return self.local / ARTIFACTS

    def publish(self, *names: str) -> None:
        """Copy artifacts (files or folders under ``codemill/``) from this machine to the run folder."""
        if not self.remote:
            return
        for name in names:
            source = self.local_artifacts / name
            if source.is_dir():
                storage.upload_tree(source, self.artifacts / name)
            elif source.is_file():
                storage.write_bytes(self.artifacts / name, source.read_bytes())

    def publish_folder(self, name: str) -> None:
        """Publish a folder whole: its files, then the marker that says they are complete."""
        if self.remote:
            self.publish(name)
            storage.write_bytes(self.artifacts / name / COMPLETE, b"")

    def has_folder(self, name: str) -> bool:
        return storage.exists(self.artifacts / name / COMPLETE) if self.remote else (self.local_artifacts / name).is_dir()

    def fetch(self, name: str) -> Path | None:
        """This machine's copy of an artifact file, refreshed from the run folder; None when neither has it.

        The store's copy wins over a local one: it is what the last checkpoint published, while
        a local file may hold steps a killed process never checkpointed."""
        local = self.local_artifacts / name
        if self.remote and storage.exists(self.artifacts / name):
            storage.write_bytes(local, storage.read_bytes(self.artifacts / name))
        return local if local.is_file() else None

    def fetch_folder(self, name: str) -> Path:
        """This machine's copy of a published artifact folder (downloaded once; it never changes)."""
        local = self.local_artifacts / name
        if self.remote:  # both ways a local copy appears (built here, downloaded) end in a rename: whole
            storage.download_once(self.artifacts / name, local)
        return local

    def location_of(self, fs_path: str) -> str:
        """A path on the run's pyarrow filesystem (what Ray Train reports) as a URI again."""
        return f"{self.root.scheme}://{fs_path}" if isinstance(self.root, LakeURI) else fs_path


def worker_env(run: RunFolder) -> dict[str, str]:
    """What Ray Train workers need in their environment to reach a remote run folder.

    The driver's effective settings (``AWS_*`` overlaid by ``lake.storage_options``) as the
    standard variables, so ``data_platform.storage`` in a worker resolves the same endpoint and
    credentials. Ray keeps a job's environment in its control store, visible to whoever can
    reach the cluster: deployments with instance roles leave the keys out of both.
    """
    return storage.effective_options(run.root) if run.remote else {}
