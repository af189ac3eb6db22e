"""Packs are written atomically: everything goes into a temporary sibling folder that is renamed
into place only once every file is written and verified, so a failed import leaves nothing."""
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import ExportError


@contextmanager
def new_pack(out: str | Path):
    """Yields an empty folder that becomes `out` when the block succeeds."""
    out = Path(out).resolve()
    if out.exists():
        raise ExportError(f"{out}: already exists (choose another --out or remove it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield work
        os.rename(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


@contextmanager
def extended_pack(pack: str | Path):
    """Yields a copy of `pack` (hard links: no data copied) that replaces it when the block succeeds."""
    pack = Path(pack).resolve()
    if not (pack / "pack.json").is_file():
        raise ExportError(f"{pack}: not a pack (no pack.json); import a CLIP pack first")
    work = Path(tempfile.mkdtemp(prefix=f".{pack.name}.tmp-", dir=pack.parent))
    old = pack.with_name(f".{pack.name}.old-{os.getpid()}")
    try:
        for file in pack.iterdir():
            if file.is_file():
                os.link(file, work / file.name)
        yield work
        os.rename(pack, old)
        os.rename(work, pack)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if old.exists() and not pack.exists():
            os.rename(old, pack)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_manifest(folder: Path) -> dict:
    return json.loads((folder / "pack.json").read_text())


def write_manifest(folder: Path, manifest: dict) -> None:
    path = folder / "pack.json"
    # Unlinked first: in an extended pack it is a hard link to the live pack's file.
    path.unlink(missing_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")
