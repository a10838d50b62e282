//! bindings/c/chaincode_demo.c, compiled with the system C compiler against
//! the static library and run: a ChainCode campaign from C.

mod common;

use std::process::Command;

#[test]
fn c_chaincode_demo_compiles_against_the_header_and_passes_every_check() {
    let root = common::workspace_root();
    let library = common::staticlib_path();
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    if !common::available(&compiler) {
        common::skip(&format!("no C compiler ({compiler}) on PATH"));
        return;
    }
    let binary = common::target_dir().join("chaincode_demo");
    let output = Command::new(&compiler)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I"])
        .arg(root.join("bindings/c"))
        .arg("-o")
        .arg(&binary)
        .arg(root.join("bindings/c/chaincode_demo.c"))
        .arg(&library)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling chaincode_demo.c failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = Command::new(&binary).output().expect("run chaincode_demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    println!("{stdout}");
    assert!(
        run.status.success(),
        "chaincode_demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("all checks passed"));
    for expected in [
        "campaign released",
        "second contribution refused",
        "payment proven",
        "contribution over budget refused",
        "budget history shows the charge",
    ] {
        assert!(stdout.contains(&format!("ok   {expected}")), "{expected}");
    }
}
