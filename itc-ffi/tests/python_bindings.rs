//! Runs the pytest suite in bindings/python/tests against the generated
//! module and the freshly built library, so the README's test command covers
//! the Python bindings.

mod common;

use std::process::Command;

fn pytest_available(python: &str) -> bool {
    Command::new(python)
        .args(["-m", "pytest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn python_bindings_walk_the_lighting_flow() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !common::available(&python) {
        common::skip(&format!(
            "{python} not found; install Python 3 to run bindings/python/tests"
        ));
        return;
    }
    if !pytest_available(&python) {
        common::skip(&format!(
            "pytest not installed for {python} (pip install pytest)"
        ));
        return;
    }
    let library = common::cdylib_path();
    let root = common::workspace_root();
    let output = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("bindings/python/tests"))
        .env("ITC_FFI_LIBRARY", &library)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(&root)
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
