"""Make the generated `itc` module importable next to the built library.

UniFFI's Python module loads `libitc_ffi` from its own directory, so the
module (bindings/python/itc.py) and the library are copied into a temporary
directory that goes first on sys.path.

The library is `$ITC_FFI_LIBRARY` if set, else target/debug's build of
`cargo build -p itc-ffi`.
"""

import os
import pathlib
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
BINDINGS = HERE.parent
ROOT = BINDINGS.parent.parent


def _library() -> pathlib.Path:
    configured = os.environ.get("ITC_FFI_LIBRARY")
    if configured:
        return pathlib.Path(configured)
    names = {"darwin": "libitc_ffi.dylib", "win32": "itc_ffi.dll"}
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / names.get(sys.platform, "libitc_ffi.so")


library = _library()
if not library.exists():
    raise RuntimeError(f"{library} not found: run `cargo build -p itc-ffi` first")
_package_dir = pathlib.Path(tempfile.mkdtemp(prefix="itc-python-"))
shutil.copy(BINDINGS / "itc.py", _package_dir / "itc.py")
shutil.copy(library, _package_dir / library.name)
sys.path.insert(0, str(_package_dir))
