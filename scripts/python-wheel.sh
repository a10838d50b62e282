#!/usr/bin/env bash
# Build the `itc` Python wheel with maturin (bindings/python/pyproject.toml),
# pip-install it into a fresh virtual environment, and run the Python test
# suite (bindings/python/tests) against the INSTALLED package, not the source
# tree; then type-check a user's script with mypy against the installed
# package (py.typed).
#
#   bash scripts/python-wheel.sh            # dev profile: reuses target/debug
#   ITC_WHEEL_PROFILE=release bash scripts/python-wheel.sh
#   ITC_WHEEL_OUT=dist bash scripts/python-wheel.sh   # also keep the wheel
#
# Needs python3 with the venv module and access to PyPI (maturin, pytest,
# mypy are installed into a throw-away virtual environment).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
profile="${ITC_WHEEL_PROFILE:-dev}"

command -v "$python" >/dev/null 2>&1 || { echo "python-wheel: $python not found" >&2; exit 2; }
"$python" -c 'import venv, ensurepip' 2>/dev/null \
    || { echo "python-wheel: $python lacks venv/ensurepip (Debian: apt-get install python3-venv)" >&2; exit 2; }

work="$(mktemp -d -t itc-wheel.XXXXXX)"
trap 'rm -rf "$work"' EXIT

version="$(cargo metadata --no-deps --format-version 1 \
    | "$python" -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "itc-ffi"))')"
echo "python-wheel: itc-ffi $version, profile $profile"

echo "python-wheel: installing maturin into a build environment"
"$python" -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q --disable-pip-version-check "maturin>=1.8,<2"

echo "python-wheel: building the wheel"
(cd bindings/python && "$work/build-env/bin/maturin" build --profile "$profile" --out "$work/wheels")
wheels=("$work"/wheels/itc_ledger-"$version"-*.whl)
[ -f "${wheels[0]}" ] || { echo "python-wheel: no itc_ledger-$version wheel in $work/wheels" >&2; ls -l "$work/wheels" >&2; exit 1; }
wheel="${wheels[0]}"
echo "python-wheel: built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

echo "python-wheel: installing it into a fresh virtual environment"
"$python" -m venv "$work/user-env"
"$work/user-env/bin/pip" install -q --disable-pip-version-check "$wheel" pytest mypy

echo "python-wheel: bindings/python/tests against the installed package"
# From an empty directory, so nothing in the repository shadows the package.
mkdir "$work/run"
(cd "$work/run" && ITC_PYTHON_INSTALLED=1 ITC_EXPECTED_VERSION="$version" PYTHONDONTWRITEBYTECODE=1 \
    "$work/user-env/bin/python" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests")

echo "python-wheel: mypy sees the package's types"
cat > "$work/run/good.py" <<'PY'
import itc

owner: itc.Keypair = itc.Keypair.generate()
public: bytes = owner.public_key()
command: bytes = itc.sign_command(owner, 7, public, 2, 1_000)
PY
cat > "$work/run/bad.py" <<'PY'
import itc

wrong: int = itc.Keypair.generate().public_key()
PY
(cd "$work/run" && "$work/user-env/bin/mypy" --strict --no-incremental --cache-dir=/dev/null good.py)
if (cd "$work/run" && "$work/user-env/bin/mypy" --no-incremental --cache-dir=/dev/null bad.py) > "$work/bad.txt" 2>&1; then
    echo "python-wheel: mypy accepted assigning bytes to int: the package's types are not visible" >&2
    cat "$work/bad.txt" >&2
    exit 1
fi
grep -q 'Incompatible types in assignment (expression has type "bytes", variable has type "int")' "$work/bad.txt" || {
    echo "python-wheel: mypy failed on bad.py for another reason:" >&2; cat "$work/bad.txt" >&2; exit 1; }

if [ -n "${ITC_WHEEL_OUT:-}" ]; then
    mkdir -p "$ITC_WHEEL_OUT" && cp "$wheel" "$ITC_WHEEL_OUT/"
    echo "python-wheel: wheel copied to $ITC_WHEEL_OUT/"
fi
echo "python-wheel: ok"
