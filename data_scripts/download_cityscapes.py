"""Download, unpack and verify CityScapes for the two CityScapes benchmarks.

--layout mtan (benchmark "cityscapes", 2 tasks; NO login needed): lorenmt/mtan's preprocessed
  CityScapes from the links in mtan's README (Dropbox; 128x256, about 651 MB, the default, or
  256x512 with --resolution 256x512): {train (2975), val (500)}/{image, label_7, depth, ...}/{i}.npy.
  It lands in DATA_ROOT/cityscapes.

--layout raw (benchmark "cityscapes3", 3 tasks; NEEDS AN ACCOUNT at https://www.cityscapes-dataset.com,
  register at /register/): the official packages leftImg8bit_trainvaltest.zip (11 GB),
  gtFine_trainvaltest.zip (241 MB) and disparity_trainvaltest.zip (3.5 GB). Either pass
  --username (the password is read from $CITYSCAPES_PASSWORD, --password, or asked for), or
  download the three zips yourself from https://www.cityscapes-dataset.com/downloads/ and pass
  --from-zips DIR. Their train and val parts land in DATA_ROOT/cityscapes3/raw; the images are
  then resized once into DATA_ROOT/cityscapes3/{H}x{W} (default 128x256, --height/--width), after
  which the raw folder may be deleted.

--verify-only checks counts and shapes of what is already there. Offline, the script says so and
tells you which file to fetch by hand.
"""

from __future__ import annotations

import argparse
import getpass
import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from download_nyuv2 import Offline, default_root, download, exit_code, unpack, verify_mtan

from autoscale.benchmarks import benchmark
from autoscale.training.datasets.cityscapes import (
    HEIGHT,
    MTAN_FIELDS,
    RAW,
    RAW_FIELDS,
    WIDTH,
    prepare_cityscapes3,
    raw_files,
)

# Each layout's folder under the data root and the command that runs this script for it.
MTAN = benchmark("cityscapes").source
OFFICIAL = benchmark("cityscapes3").source

MTAN_URLS = {
    "128x256": "https://www.dropbox.com/s/lg2ktu7o8hzwf99/cityscapes2.zip?dl=1",
    "256x512": "https://www.dropbox.com/s/q2333k4eyrnezbh/cityscapes.zip?dl=1",
}
EXPECTED = {"train": 2975, "val": 500}
SITE = "https://www.cityscapes-dataset.com"
PACKAGES = {"leftImg8bit_trainvaltest.zip": "leftImg8bit", "gtFine_trainvaltest.zip": "gtFine",
            "disparity_trainvaltest.zip": "disparity"}  # fmt: skip


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The site answers a good login with a redirect (302) and a bad one with the form again (200).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def login(username: str, password: str) -> urllib.request.OpenerDirector:
    """A session logged in at cityscapes-dataset.com (the flow of cityscapesScripts' csDownload)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)
    manual = f"Download the zips from {SITE}/downloads/ in a browser and pass --from-zips DIR."
    form = urllib.parse.urlencode({"username": username, "password": password, "submit": "Login"}).encode()
    try:
        opener.open(f"{SITE}/login/").close()
        opener.open(f"{SITE}/login/", form).close()
    except urllib.error.HTTPError as err:
        if err.code == 302:
            return opener
        raise Offline(f"{SITE} answered HTTP {err.code} to the login; {manual}") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
        raise Offline(f"cannot reach {SITE} ({getattr(err, 'reason', err)}); are you offline? {manual}") from None
    raise SystemExit("error: CityScapes login failed: wrong username or password?")


def download_raw(root: Path, username: str, password: str) -> list[Path]:
    opener = login(username, password)
    with opener.open(f"{SITE}/downloads/?list") as response:
        ids = {p["name"]: p["packageID"] for p in json.load(response)}
    paths = []
    for name in PACKAGES:
        url = f"{SITE}/file-handling/?packageID={ids[name]}"
        paths.append(download(url, root / name, opener.open, manual=f"Download {name} by hand; use --from-zips DIR."))
    return paths


def unpack_raw(zips: list[Path], raw_root: Path) -> None:
    """Unpack the train and val parts of the official zips (test has no labels)."""
    for path, top in zip(zips, PACKAGES.values(), strict=True):
        unpack(path, raw_root, top, members=lambda n, top=top: n.startswith((f"{top}/train/", f"{top}/val/")))


def verify_raw(root: Path, height: int, width: int, workers: int) -> None:
    """Every image has its labels and disparity, counts match; then build and check the resized cache."""
    folder, hint = root / OFFICIAL.folder, OFFICIAL.command.format(root=root)
    for split, count in EXPECTED.items():
        files = raw_files(folder / RAW, split, hint)
        missing = [p for f in files for p in f.values() if not p.is_file()]
        if missing or len(files) != count:
            raise ValueError(
                f"{split}: {len(files)} images (expected {count}), {len(missing)} missing files: {missing[:3]}"
            )
        print(f"{folder / RAW} {split}: {count} images with labels and disparity, ok")
    for split in EXPECTED:
        cache = prepare_cityscapes3(folder, split, hint, height, width, workers)
        verify_mtan(cache.parent, RAW_FIELDS, {cache.name: EXPECTED[split]}, (height, width), hint)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--root", type=Path, default=default_root(), help="data root (default: $AUTOSCALE_DATA_ROOT or ./data)"
    )
    parser.add_argument(
        "--layout",
        choices=("mtan", "raw"),
        default="mtan",
        help="mtan: 2 tasks, no login (default); raw: 3 tasks, login",
    )
    parser.add_argument("--verify-only", action="store_true", help="only check what is already under the data root")
    mtan = parser.add_argument_group("--layout mtan")
    mtan.add_argument("--resolution", choices=list(MTAN_URLS), default="128x256")
    mtan.add_argument("--from-zip", type=Path, help="an already downloaded mtan zip")
    raw = parser.add_argument_group("--layout raw (cityscapes-dataset.com account)")
    raw.add_argument("--username", help="cityscapes-dataset.com user name or e-mail")
    raw.add_argument("--password", help="its password (default: $CITYSCAPES_PASSWORD, else asked for)")
    raw.add_argument("--from-zips", type=Path, help=f"folder with the downloaded {', '.join(PACKAGES)}")
    raw.add_argument("--height", type=int, default=HEIGHT, help="height of the resized cache (default %(default)s)")
    raw.add_argument("--width", type=int, default=WIDTH, help="width of the resized cache (default %(default)s)")
    raw.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8), help="processes for resizing")
    args = parser.parse_args(argv)
    root = args.root.expanduser().resolve()

    def fetch() -> None:
        if args.layout == "mtan":
            if not args.verify_only:
                root.mkdir(parents=True, exist_ok=True)
                url = MTAN_URLS[args.resolution]
                manual = f"Download {url} in a browser and run: python {sys.argv[0]} --root {root} --from-zip FILE"
                zip_path = args.from_zip or download(url, root / f"cityscapes-{args.resolution}.zip", manual=manual)
                unpack(zip_path, root / MTAN.folder, "train/image")
            size = tuple(int(x) for x in args.resolution.split("x"))
            verify_mtan(root / MTAN.folder, MTAN_FIELDS, EXPECTED, size, MTAN.command.format(root=root))
            return
        if not args.verify_only:
            if args.from_zips is None and args.username is None:
                parser.error("--layout raw needs --username (an account at cityscapes-dataset.com) or --from-zips DIR")
            root.mkdir(parents=True, exist_ok=True)
            if args.from_zips is not None:
                zips = [args.from_zips / name for name in PACKAGES]
            else:
                password = args.password or os.environ.get("CITYSCAPES_PASSWORD") or getpass.getpass("password: ")
                zips = download_raw(root, args.username, password)
            unpack_raw(zips, root / OFFICIAL.folder / RAW)
        verify_raw(root, args.height, args.width, args.workers)

    return exit_code(fetch)


if __name__ == "__main__":
    sys.exit(main())
