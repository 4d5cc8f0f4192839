// swift-tools-version:5.9
import PackageDescription
import Foundation

// Kernels are the hot path: optimise them even in debug builds, where unoptimised SIMD code
// runs hundreds of times slower and would make the test suite crawl. On x86-64 they target
// `haswell` (AVX2 + FMA + F16C) by default, so a binary runs on any x86-64 CPU from 2013 on.
// `PARE_TARGET_CPU=<LLVM cpu name>` (e.g. `znver4`, `sapphirerapids`, `skylake-avx512`) tunes
// them for a newer CPU instead (AVX-512 where it has it): such a binary stops with an illegal
// instruction on a CPU without those instructions, so build it on (or for) the machine it runs
// on. Matmuls reach AVX-512 / AVX512_BF16 / AMX either way, through oneDNN's runtime dispatch.
var kernelFlags: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]
#if arch(x86_64)
let targetCPU = ProcessInfo.processInfo.environment["PARE_TARGET_CPU"].flatMap { $0.isEmpty ? nil : $0 } ?? "haswell"
kernelFlags.append(.unsafeFlags(["-target-cpu", targetCPU]))
#endif

// MPI data parallelism is a build option: `PARE_MPI=1 swift build …` adds Open MPI
// (libopenmpi-dev) and lets `mpirun -np N pare finetune|distill …` run data parallel. The
// default build and tests need no MPI.
let withMPI = ProcessInfo.processInfo.environment["PARE_MPI"] == "1"
var pareDependencies: [Target.Dependency] = [
    "PareCore", "PareFormats", "PareModel", "PareTrain", "PareDistill", "PareRecipes",
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]
var mpiTargets: [Target] = []
if withMPI {
    pareDependencies.append("PareMPI")
    mpiTargets = [
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "PareMPI", dependencies: ["CMPI", "PareCore", "PareTrain"], path: "Sources/PareMPI"),
    ]
}

// oneDNN (Debian: libdnnl-dev, which scripts/setup installs) serves the matmuls in f32 and
// bf16 when its header is on this machine; without it (macOS, or `PARE_ONEDNN=0`) GEMMs run
// on CBLAS (OpenBLAS / Accelerate) in f32 and `--precision bf16` is refused.
let withOneDNN = ProcessInfo.processInfo.environment["PARE_ONEDNN"] != "0"
    && FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.h")
var coreDependencies: [Target.Dependency] = [.target(name: "CBLAS", condition: .when(platforms: [.linux]))]
var oneDNNTargets: [Target] = []
if withOneDNN {
    coreDependencies.append("COneDNN")
    oneDNNTargets = [
        .target(name: "COneDNN", path: "Sources/COneDNN", cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("dnnl")]),
    ]
}

let package = Package(
    name: "Pare",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pare", targets: ["pare"]),
        .library(name: "PareCore", targets: ["PareCore"]),
        .library(name: "PareFormats", targets: ["PareFormats"]),
        .library(name: "PareModel", targets: ["PareModel"]),
        .library(name: "PareTrain", targets: ["PareTrain"]),
        .library(name: "ParePrune", targets: ["ParePrune"]),
        .library(name: "PareDistill", targets: ["PareDistill"]),
        .library(name: "PareRecipes", targets: ["PareRecipes"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // OpenBLAS on Linux; on macOS the BLAS wrapper uses Accelerate instead.
        .systemLibrary(
            name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .target(
            name: "PareCore",
            dependencies: coreDependencies,
            swiftSettings: kernelFlags),
        // Dependencies point one way: Core ← Formats ← Model ← Train / Prune ← Distill ← Recipes ← pare
        // (Distill builds on Train's loop; Tests/PareRecipesTests/DependencyGraphTests checks it).
        // zlib reads the zero-shot task files (requests.jsonl.gz).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "PareFormats", dependencies: ["PareCore", "CZlib"]),
        .target(name: "PareModel", dependencies: ["PareCore", "PareFormats"], swiftSettings: kernelFlags),
        .target(name: "PareTrain", dependencies: ["PareCore", "PareFormats", "PareModel"], swiftSettings: kernelFlags),
        .target(name: "ParePrune", dependencies: ["PareCore", "PareFormats", "PareModel"], swiftSettings: kernelFlags),
        .target(name: "PareDistill", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain"], swiftSettings: kernelFlags),
        .target(
            name: "PareRecipes",
            dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain", "ParePrune", "PareDistill", .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "pare", dependencies: pareDependencies,
            swiftSettings: withMPI ? [.define("PARE_MPI")] : []),
        // Helpers the test targets share (assets, tolerance checks, the PyTorch fixtures); not part of any product.
        .target(
            name: "PareTestSupport", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain"], path: "Tests/PareTestSupport",
            resources: [.copy("Fixtures")]),
        // One test target per library.
        .testTarget(name: "PareCoreTests", dependencies: ["PareCore", "PareTestSupport"], swiftSettings: kernelFlags),
        .testTarget(
            name: "PareFormatsTests", dependencies: ["PareCore", "PareFormats", "PareTestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: kernelFlags),
        .testTarget(name: "PareModelTests", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain", "PareTestSupport"], swiftSettings: kernelFlags),
        .testTarget(name: "PareTrainTests", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain", "PareTestSupport"], swiftSettings: kernelFlags),
        .testTarget(name: "ParePruneTests", dependencies: ["PareCore", "PareFormats", "PareModel", "ParePrune", "PareTestSupport"], swiftSettings: kernelFlags),
        .testTarget(name: "PareDistillTests", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain", "PareDistill", "PareTestSupport"], swiftSettings: kernelFlags),
        .testTarget(name: "PareCLITests", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTestSupport"]),
        .testTarget(name: "PareRecipesTests", dependencies: ["PareCore", "PareFormats", "PareModel", "PareTrain", "ParePrune", "PareRecipes", "PareTestSupport"]),
    ] + mpiTargets + oneDNNTargets
)
