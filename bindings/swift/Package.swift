// swift-tools-version:5.9
//
// The ITC Swift package: the UniFFI-generated Swift sources (module `ITC`)
// over the C declarations of the library's scaffolding (module `itcFFI`).
// Sources/ITC/itc.swift and Sources/itcFFI/{itcFFI.h,module.modulemap} are
// what uniffi-bindgen generates (the module map plus a `link "itc_ffi"`
// line); the test `uniffi_bindings` in itc-ffi fails when they drift and
// rewrites them with ITC_UPDATE_BINDINGS=1.
//
// The native library: on Linux and macOS command-line builds, install it
// with `scripts/install-c.sh PREFIX` and let SwiftPM find it through
// pkg-config (`itc.pc`; set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig). For
// Apple apps, build an XCFramework of the static library (see
// bindings/README.md) and replace the system-library target by
//     .binaryTarget(name: "itcFFI", path: "itcFFI.xcframework")
import PackageDescription

let package = Package(
    name: "ITC",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "ITC", targets: ["ITC"]),
    ],
    targets: [
        .systemLibrary(
            name: "itcFFI",
            path: "Sources/itcFFI",
            pkgConfig: "itc"
        ),
        .target(
            name: "ITC",
            dependencies: ["itcFFI"],
            path: "Sources/ITC"
        ),
    ]
)
