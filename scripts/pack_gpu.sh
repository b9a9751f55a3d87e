#!/usr/bin/env bash
# Downloads the wheels of scripts/gpu_wheels.txt into .whl/ for the GPU machine (CPython 3.12, manylinux
# x86_64, no network there): skips wheels already present, removes any wheel not in the list (so one
# version per package), checks that the list is closed under Requires-Dist, and fails if .whl/ is over
# LIMIT_MIB. Usage: bash scripts/pack_gpu.sh   (env: PY=python with pip and packaging, LIMIT_MIB=40)
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LIST=scripts/gpu_wheels.txt
DEST=.whl
LIMIT_MIB=${LIMIT_MIB:-40}
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64
  manylinux1_x86_64 manylinux_2_24_x86_64 manylinux_2_26_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64
  manylinux_2_35_x86_64)

mkdir -p "$DEST"
# Wheel file names spell the project with '_' for '-' and '.' (compared here in lower case).

# prefix "name-version-" (lower case) of each wheel present
prefix_of() { local b stem rest; b=${1,,}; stem=${b%%-*}; rest=${b#*-}; echo "${stem//[-.]/_}-${rest%%-*}-"; }
declare -A present=()
for f in "$DEST"/*.whl; do
  [ -e "$f" ] && present[$(prefix_of "$(basename "$f")")]=$f
done

mapfile -t specs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$')
declare -A wanted=()
missing=()
for spec in "${specs[@]}"; do
  name=${spec%%==*} version=${spec#*==}
  [[ $spec == *==* && -n $version ]] || { echo "error: '$spec' in $LIST is not NAME==VERSION" >&2; exit 1; }
  name=${name,,}
  prefix="${name//[-_.]/_}-${version,,}-"
  wanted[$prefix]=1
  [ -n "${present[$prefix]:-}" ] || missing+=("$spec")
done

# Stale wheels: another version, or a package no longer listed.
for prefix in "${!present[@]}"; do
  [ -n "${wanted[$prefix]:-}" ] || { echo "removing stale ${present[$prefix]}"; rm -f "${present[$prefix]}"; }
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "downloading ${#missing[@]} wheels: ${missing[*]}"
  platform_args=()
  for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
  # The filter drops this workplace's warnings about absent local index folders.
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp "${platform_args[@]}" -d "$DEST" "${missing[@]}" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
fi

# One wheel per package, and the list closed under Requires-Dist for CPython 3.12 on Linux.
"$PY" - "$LIST" "$DEST" <<'EOF'
import re, sys, zipfile
from pathlib import Path
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

list_file, dest = sys.argv[1], Path(sys.argv[2])
text = Path(list_file).read_text()
listed = {canonicalize_name(l.split("#")[0].strip().split("==")[0]) for l in text.splitlines() if l.split("#")[0].strip()}
allowed = set(listed)
for label in ("device has:", "omitted:"):
    for m in re.finditer(rf"^#\s*{label}(.*)$", text, re.M):
        allowed |= {canonicalize_name(n) for n in m.group(1).split()}
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux", "platform_system": "Linux",
       "platform_machine": "x86_64", "os_name": "posix", "implementation_name": "cpython",
       "platform_python_implementation": "CPython", "extra": ""}
seen, problems = {}, []
for wheel in sorted(dest.glob("*.whl")):
    name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
    if name in seen:
        problems.append(f"two wheels of {name}: {seen[name]} and {wheel.name}")
    seen[name] = wheel.name
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    python = re.search(r"^Requires-Python: (.*)$", meta, re.M)
    if python and not SpecifierSet(python.group(1)).contains("3.12.3"):
        problems.append(f"{wheel.name} requires Python {python.group(1)}")
    for m in re.finditer(r"^Requires-Dist: (.*)$", meta, re.M):
        req = Requirement(m.group(1))
        if (req.marker is None or req.marker.evaluate(env)) and canonicalize_name(req.name) not in allowed:
            problems.append(f"{name} needs {req}, which {list_file} does not cover")
for name in sorted(listed - set(seen)):
    problems.append(f"no wheel for {name}")
for p in problems:
    print(f"error: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF

total=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
count=$(ls "$DEST"/*.whl | wc -l)
mib=$(awk -v b="$total" 'BEGIN { printf "%.1f", b / 1048576 }')
echo "$DEST: $count wheels, $total bytes ($mib MiB; limit $LIMIT_MIB MiB)"
if [ "$total" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "error: $DEST is over $LIMIT_MIB MiB" >&2
  exit 1
fi
