"""Where a lake dataset's files are, and where its rejected rows go.

A dataset is a local folder (read recursively), a glob ('logs/*.parquet', 'logs/**/*.parquet')
or a file; or, for the Spark engine only, a URI its connectors read (s3a://, abfss://,
hdfs://), passed through as is. Local paths are expanded here so both engines read exactly
the same files. Paths with a component starting with '_' or '.' are skipped, as Spark and
Hive do, which keeps Vigil's own `_vigil_rejected` folder (written beside the data) and
engines' markers (_SUCCESS, .crc) out of the dataset.
"""

from __future__ import annotations

import datetime as dt
import glob
import uuid
from dataclasses import dataclass
from pathlib import Path

from vigil.core.errors import VigilError

REJECTED_FOLDER = "_vigil_rejected"
GLOB_CHARS = "*?["


class LakeDatasetError(VigilError):
    """A lake path matches no Parquet file, or an engine cannot read it."""


@dataclass(frozen=True)
class LakeDataset:
    uri: str  # as given
    paths: tuple[str, ...]  # local files, or the remote URI itself
    base: str  # the folder rejected rows are written under
    remote: bool

    def rejected_folder(
        self, model_name: str, model_version: str, build_id: int, started: dt.datetime
    ) -> str:
        """A new folder per build, <base>/_vigil_rejected/<model>/<version>/<UTC time>-build-
        <id>-<random>: stores sharing a lake never write into each other's folders."""
        name = f"{started:%Y%m%dT%H%M%S}-build-{build_id}-{uuid.uuid4().hex[:6]}"
        return f"{self.base}/{REJECTED_FOLDER}/{model_name}/{model_version}/{name}"


def _hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(("_", ".")) for p in parts)


def _static_prefix(pattern: str) -> Path:
    """The folder part of a glob before its first wildcard."""
    cut = min((pattern.index(c) for c in GLOB_CHARS if c in pattern), default=len(pattern))
    head = pattern[:cut]
    return Path(head) if head.endswith("/") else Path(head).parent


def resolve(uri: str) -> LakeDataset:
    """The dataset's files; a local path that matches none is an error naming it."""
    scheme, sep, _ = uri.partition("://")
    if sep and scheme != "file":
        base = uri[: min((uri.index(c) for c in GLOB_CHARS if c in uri), default=len(uri))]
        return LakeDataset(uri, (uri,), base.rstrip("/").rsplit("/", 1)[0], remote=True)
    local = uri[len("file://") :] if scheme == "file" and sep else uri
    path = Path(local).expanduser()
    if path.is_dir():
        root = path
        found = [p for p in path.rglob("*.parquet") if p.is_file()]
    elif any(c in local for c in GLOB_CHARS):
        root = _static_prefix(str(path))
        found = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
    else:
        root, found = path.parent, [path] if path.is_file() else []
    files = sorted(str(p.resolve()) for p in found if not _hidden(p, root))
    if not files:
        raise LakeDatasetError(
            f"No Parquet file matches {uri!r}; give a folder, a file or a glob such as "
            "'logs/*.parquet' (files and folders starting with '_' or '.' are skipped)."
        )
    return LakeDataset(uri, tuple(files), str(root.resolve()), remote=False)
