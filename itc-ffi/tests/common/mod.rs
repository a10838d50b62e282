//! Helpers shared by the tests that drive the built library from other
//! languages.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("itc-ffi lives in the workspace")
        .to_path_buf()
}

/// The target directory this test runs from: `CARGO_TARGET_DIR` if set,
/// else three levels above the test binary (`<target>/debug/deps/<test>`).
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace_root().join(dir)
        };
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// Build itc-ffi's cdylib and staticlib, and the workspace's uniffi-bindgen,
/// with one `cargo build` (dev profile) once per test binary; returns the
/// directory holding them. One invocation for both, so that every test
/// binary asks cargo for the same feature set and none rebuilds what
/// another one built.
pub fn built_library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
        let status = Command::new(cargo)
            .args(["build", "-p", "itc-ffi", "-p", "itc-ffi-bindgen"])
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("run cargo build -p itc-ffi -p itc-ffi-bindgen");
        assert!(
            status.success(),
            "cargo build -p itc-ffi -p itc-ffi-bindgen failed"
        );
        target_dir().join("debug")
    })
}

/// Path of the built cdylib.
pub fn cdylib_path() -> PathBuf {
    built_library_dir().join(format!(
        "{}itc_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Path of the built uniffi-bindgen.
pub fn bindgen_path() -> PathBuf {
    built_library_dir().join(format!("uniffi-bindgen{}", std::env::consts::EXE_SUFFIX))
}

/// Path of the built static library.
pub fn staticlib_path() -> PathBuf {
    built_library_dir().join("libitc_ffi.a")
}

/// Whether `program --version` runs.
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skip a test whose external tool is missing: say why, or fail when
/// `ITC_REQUIRE_TOOLS` is set (CI sets it, so a missing tool cannot pass as a
/// green test).
#[allow(dead_code)]
pub fn skip(reason: &str) {
    if std::env::var_os("ITC_REQUIRE_TOOLS").is_some() {
        panic!("required tool missing (ITC_REQUIRE_TOOLS is set): {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// Compile `bindings/c/<name>.c` with the system C compiler against the
/// static library, run it, and check that it passed every check and printed
/// `ok   <line>` for each expected line. Skips (see [`skip`]) without a C
/// compiler.
pub fn run_c_demo(name: &str, expected: &[&str]) {
    let root = workspace_root();
    let library = staticlib_path();
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if !available(&compiler) {
        skip(&format!("no C compiler ({compiler}) on PATH"));
        return;
    }
    let binary = target_dir().join(name);
    let output = Command::new(&compiler)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("bindings/c"))
        .arg("-o")
        .arg(&binary)
        .arg(root.join(format!("bindings/c/{name}.c")))
        .arg(&library)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling {name}.c failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = Command::new(&binary)
        .output()
        .unwrap_or_else(|e| panic!("run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("all checks passed"));
    for line in expected {
        assert!(stdout.contains(&format!("ok   {line}")), "{line}");
    }
}
