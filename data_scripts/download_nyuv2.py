"""Download lorenmt/mtan's preprocessed NYUv2 (no login needed), unpack it and verify it.

Source: the link in lorenmt/mtan's README (Dropbox), the 13-class NYUv2 of
Liu et al. (CVPR 2019) used by most MTL papers: {train (795), val (654)}/{image, label, depth,
normal}/{i}.npy at 288x384. It lands in DATA_ROOT/nyuv2; autoscale uses mtan's "val" as its test
split and holds out part of train for validation (autoscale.training.datasets.nyuv2).

Offline, or behind a proxy? Download the zip in a browser and run this script with --from-zip FILE.
This module also holds the download / unpack helpers that download_cityscapes.py uses.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from autoscale.benchmarks import benchmark
from autoscale.training.datasets.nyuv2 import FIELDS

SOURCE = benchmark("nyuv2").source  # its folder under the data root and the command that runs this script

URL = "https://www.dropbox.com/s/p2nn02wijg7peiy/nyuv2.zip?dl=1"
EXPECTED = {"train": 795, "val": 654}
SIZE = (288, 384)


class Offline(Exception):
    """The server could not be reached; the message says what to do instead."""


def download(url: str, dest: Path, opener: Callable = urllib.request.urlopen, manual: str = "") -> Path:
    """Stream ``url`` to ``dest`` (atomically, with a progress bar); :class:`Offline` if unreachable."""
    tmp = dest.with_name(dest.name + ".part")
    try:
        with opener(url) as response, open(tmp, "wb") as fh:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                while block := response.read(1 << 20):
                    fh.write(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as err:
        tmp.unlink(missing_ok=True)
        raise Offline(f"{url} answered HTTP {err.code} ({err.reason}); the link may have moved. {manual}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        tmp.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise Offline(f"cannot reach {url} ({reason}); are you offline? {manual}") from None
    os.replace(tmp, dest)
    return dest


def unpack(zip_path: Path, dest: Path, marker: str, members: Callable[[str], bool] = lambda name: True) -> None:
    """Extract the ``members`` of ``zip_path`` and move the contents of the folder that holds ``marker``
    (a relative path such as "train/image") into ``dest``, replacing what is there."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{zip_path} is not a readable zip file ({err}); download it again") from None
    dest.mkdir(parents=True, exist_ok=True)
    with archive, tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        for name in tqdm([n for n in archive.namelist() if members(n)], desc=f"unpacking {zip_path.name}"):
            archive.extract(name, tmp)
        source = next((d for d in (Path(tmp), *Path(tmp).rglob("*")) if (d / marker).is_dir()), None)
        if source is None:
            raise ValueError(f"{zip_path} holds no folder {marker}; is it the right file?")
        for child in source.iterdir():
            target = dest / child.name
            if target.is_dir():
                shutil.rmtree(target)
            shutil.move(child, target)


def verify_mtan(
    folder: Path, fields: dict[str, str], expected: dict[str, int], size: tuple[int, int], hint: str
) -> None:
    """Check the sample count of each split folder and the header of every file (layout and size)."""
    from autoscale.training.datasets.mtan import MtanDataset

    for split, count in expected.items():
        dataset = MtanDataset(folder / split, fields, fetch_hint=hint)
        if len(dataset) != count:
            raise ValueError(f"{folder / split} holds {len(dataset)} samples, expected {count}; fetch it again: {hint}")
        dataset.verify(size)
        print(f"{folder / split}: {count} samples at {size[0]}x{size[1]}, ok")


def default_root() -> Path:
    return Path(os.environ.get("AUTOSCALE_DATA_ROOT") or "data")


def exit_code(action: Callable[[], None]) -> int:
    """Run ``action`` and turn the expected failures into one-line messages and exit codes:
    2 when offline, 1 for missing or malformed data, 0 on success."""
    try:
        action()
    except Offline as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root", type=Path, default=default_root(), help="data root (default: $AUTOSCALE_DATA_ROOT or ./data)"
    )
    parser.add_argument("--from-zip", type=Path, help="use an already downloaded nyuv2.zip instead of downloading")
    parser.add_argument("--verify-only", action="store_true", help="only check counts and shapes of DATA_ROOT/nyuv2")
    parser.add_argument("--keep-zip", action="store_true", help="keep the downloaded zip")
    args = parser.parse_args(argv)
    root = args.root.expanduser().resolve()

    def fetch() -> None:
        if not args.verify_only:
            root.mkdir(parents=True, exist_ok=True)
            manual = f"Download {URL} in a browser and run: python {sys.argv[0]} --root {root} --from-zip FILE"
            zip_path = args.from_zip or download(URL, root / "nyuv2.zip", manual=manual)
            unpack(zip_path, root / SOURCE.folder, "train/image")
            if args.from_zip is None and not args.keep_zip:
                zip_path.unlink()
        verify_mtan(root / SOURCE.folder, FIELDS, EXPECTED, SIZE, SOURCE.command.format(root=root))

    return exit_code(fetch)


if __name__ == "__main__":
    sys.exit(main())
