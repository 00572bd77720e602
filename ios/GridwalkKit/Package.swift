// swift-tools-version:5.9
// GridwalkKit: the iOS app's logic without its UI — the repository over the core, the
// `@Observable` view models of every screen, and the protocols for what the platform provides
// (location, camera, key store, background scheduling). No UIKit, SwiftUI or Combine, so it
// builds and is tested on Linux too (scripts/test-ios.sh), against the real library and a real
// sync server. The generated bindings come from the sibling `GridwalkCore` package, unchanged.
import PackageDescription

let package = Package(
    name: "GridwalkKit",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "GridwalkKit", targets: ["GridwalkKit"]),
    ],
    dependencies: [
        .package(path: "../GridwalkCore"),
    ],
    targets: [
        // Linux only: defines the one symbol Debian's libswiftObservation.so (Swift 6.0.3)
        // leaves undefined. See README.md, "Observation on Linux".
        .target(name: "ObservationLinuxShim", path: "Sources/ObservationLinuxShim"),
        .target(
            name: "GridwalkKit",
            dependencies: [
                .product(name: "GridwalkCore", package: "GridwalkCore"),
                .target(name: "ObservationLinuxShim", condition: .when(platforms: [.linux])),
            ],
            path: "Sources/GridwalkKit",
            exclude: ["README.md"]
        ),
        .testTarget(
            name: "GridwalkKitTests",
            dependencies: ["GridwalkKit"],
            path: "Tests/GridwalkKitTests"
        ),
    ]
)
