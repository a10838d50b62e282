"""Make the `itc` module importable for the tests, in one of two modes.

Source mode (default, used by `cargo test`): UniFFI's Python module loads
`libitc_ffi` from its own directory, so the generated module
(bindings/python/itc.py) and the built library are copied into a temporary
directory that goes first on sys.path (and is removed at exit). The library
is `$ITC_FFI_LIBRARY` if set, else target/debug's build of
`cargo build -p itc-ffi`.

Installed mode (`ITC_PYTHON_INSTALLED=1`, used by scripts/python-wheel.sh):
nothing is copied; `import itc` must find the package pip installed from the
wheel, and this checks that it did not come from the source tree.
"""

import atexit
import os
import pathlib
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
BINDINGS = HERE.parent
ROOT = BINDINGS.parent.parent

INSTALLED = os.environ.get("ITC_PYTHON_INSTALLED") == "1"


def _library() -> pathlib.Path:
    configured = os.environ.get("ITC_FFI_LIBRARY")
    if configured:
        return pathlib.Path(configured)
    names = {"darwin": "libitc_ffi.dylib", "win32": "itc_ffi.dll"}
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / names.get(sys.platform, "libitc_ffi.so")


if INSTALLED:
    import itc  # noqa: E402

    _location = pathlib.Path(itc.__file__).resolve()
    if BINDINGS in _location.parents:
        raise RuntimeError(
            f"ITC_PYTHON_INSTALLED=1 but `itc` was imported from the source tree "
            f"({_location}); run pytest from outside the repository"
        )
else:
    library = _library()
    if not library.exists():
        raise RuntimeError(f"{library} not found: run `cargo build -p itc-ffi` first")
    _package_dir = pathlib.Path(tempfile.mkdtemp(prefix="itc-python-"))
    atexit.register(shutil.rmtree, _package_dir, ignore_errors=True)
    shutil.copy(BINDINGS / "itc.py", _package_dir / "itc.py")
    shutil.copy(library, _package_dir / library.name)
    sys.path.insert(0, str(_package_dir))
