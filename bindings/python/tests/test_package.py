"""What a user of the installed wheel relies on: the version, the type
information and that the library ships inside the package. Runs only against
the installed package (ITC_PYTHON_INSTALLED=1, scripts/python-wheel.sh); in
source mode there is no package to check."""

import os
import pathlib
import sys
import typing

import pytest

import itc

pytestmark = pytest.mark.skipif(
    os.environ.get("ITC_PYTHON_INSTALLED") != "1",
    reason="checks the installed wheel (scripts/python-wheel.sh)",
)


def test_version_is_the_cargo_workspace_version():
    expected = os.environ.get("ITC_EXPECTED_VERSION")
    assert expected, "scripts/python-wheel.sh passes the workspace version"
    assert itc.__version__ == expected


def test_package_is_marked_typed_and_annotated():
    package = pathlib.Path(itc.__file__).parent
    assert (package / "py.typed").is_file()
    hints = typing.get_type_hints(itc.sign_command)
    assert hints["sender"] is itc.Keypair
    assert hints["return"] is bytes


def test_native_library_ships_inside_the_package():
    names = {"darwin": "libitc_ffi.dylib", "win32": "itc_ffi.dll"}
    library = pathlib.Path(itc.__file__).parent / "_ffi" / names.get(sys.platform, "libitc_ffi.so")
    assert library.is_file()


def test_every_generated_name_is_exported_at_the_top_level():
    assert "Lamp" in itc.__all__ and "DevChain" in itc.__all__
    for name in itc.__all__:
        assert hasattr(itc, name), name
