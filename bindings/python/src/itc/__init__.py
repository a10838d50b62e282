"""ITC for Python: keys, transactions, the DAG, the light client and the
lamp's offline check, ChainCode analytics campaigns.

Everything lives at the top level (``itc.Keypair``, ``itc.DevChain``,
``itc.Lamp``, ``itc.ItcError``, ...). The implementation is the Rust library
``itc-ffi``, shipped in this package as ``itc._ffi`` with the UniFFI-generated
module; its functions and classes carry type annotations (the package is
marked ``py.typed``).
"""

from importlib import metadata as _metadata

from ._ffi.itc import *  # noqa: F401,F403  (the generated module's public names)
from ._ffi.itc import __all__ as _generated_names

__all__ = list(_generated_names)

try:
    __version__: str = _metadata.version("itc-ledger")
except _metadata.PackageNotFoundError:  # pragma: no cover - not installed
    __version__ = "0+unknown"
