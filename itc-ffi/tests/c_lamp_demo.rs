//! bindings/c/lamp_demo.c, compiled with the system C compiler against the
//! static library and run: the lamp's side of the lighting flow from C.

mod common;

use std::process::Command;

#[test]
fn c_lamp_demo_compiles_against_the_header_and_passes_every_check() {
    let root = common::workspace_root();
    let library = common::staticlib_path();
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if !common::available(&compiler) {
        common::skip(&format!("no C compiler ({compiler}) on PATH"));
        return;
    }
    let binary = common::target_dir().join("lamp_demo");
    let output = Command::new(&compiler)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("bindings/c"))
        .arg("-o")
        .arg(&binary)
        .arg(root.join("bindings/c/lamp_demo.c"))
        .arg(&library)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling lamp_demo.c failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = Command::new(&binary).output().expect("run lamp_demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "lamp_demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("all checks passed"));
    for expected in [
        "fresh command allowed",
        "replayed command denied",
        "forged command denied",
        "command after revocation denied",
    ] {
        assert!(stdout.contains(&format!("ok   {expected}")), "{expected}");
    }
}
