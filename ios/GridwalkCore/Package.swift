// swift-tools-version:5.9
// The Swift face of Gridwalk's Rust core: the uniffi-generated `GridwalkCore` module over the
// C header of the `gridwalk_ffi` library. The generated files are not kept in git; they are
// copied in from the library they belong to by `scripts/test-bindings.sh` (or by hand from
// `scripts/bindings.sh`'s output), so the Swift code and the library can never disagree.
//
// GRIDWALK_LIB_DIR names the folder holding libgridwalk_ffi (the test script sets it; an iOS
// app links the static library from the xcframework instead).
import Foundation
import PackageDescription

let libDir = ProcessInfo.processInfo.environment["GRIDWALK_LIB_DIR"] ?? "../../target/lib"

let package = Package(
    name: "GridwalkCore",
    products: [
        .library(name: "GridwalkCore", targets: ["GridwalkCore"]),
    ],
    targets: [
        // The generated C header and its module map (renamed to module.modulemap).
        .systemLibrary(name: "GridwalkCoreFFI", path: "Sources/GridwalkCoreFFI"),
        // The generated Swift bindings.
        .target(
            name: "GridwalkCore",
            dependencies: ["GridwalkCoreFFI"],
            path: "Sources/GridwalkCore",
            linkerSettings: [
                .linkedLibrary("gridwalk_ffi"),
                .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
            ]
        ),
        .testTarget(
            name: "GridwalkCoreTests",
            dependencies: ["GridwalkCore"],
            path: "Tests/GridwalkCoreTests"
        ),
    ]
)
