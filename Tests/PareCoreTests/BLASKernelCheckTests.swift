import XCTest
import PareCore

/// OpenBLAS's kernel choice checked against the CPU (`BLASKernelCheck`): a core below the CPU's
/// vector units is found, whether OpenBLAS detected it or the environment forced it.
final class BLASKernelCheckTests: XCTestCase {
    func testCoreLevels() {
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "Prescott"), .sse)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "Nehalem"), .sse)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "Sandybridge"), .avx)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "Haswell"), .avx2)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "Zen"), .avx2)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "SkylakeX"), .avx512)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "COOPERLAKE"), .avx512)
        XCTAssertEqual(BLASKernelCheck.level(ofCore: "SapphireRapids"), .avx512)
    }

    func testVerdicts() {
        // Emerald Rapids under Debian's OpenBLAS 0.3.21: SSE3 kernels on an AVX-512 CPU.
        XCTAssertEqual(BLASKernelCheck.judge(core: "Prescott", cpu: .avx512, forcedByEnvironment: false),
                       .misdetected(core: "Prescott", cpuLevel: .avx512, suggested: "SKYLAKEX"))
        XCTAssertEqual(BLASKernelCheck.judge(core: "Prescott", cpu: .avx2, forcedByEnvironment: true),
                       .forced(core: "Prescott", cpuLevel: .avx2, suggested: "HASWELL"))
        XCTAssertEqual(BLASKernelCheck.judge(core: "Cooperlake", cpu: .avx512, forcedByEnvironment: false), .fits)
        XCTAssertEqual(BLASKernelCheck.judge(core: "Haswell", cpu: .avx2, forcedByEnvironment: true), .fits)
        // A core above the CPU's level is OpenBLAS's business (it would not run at all).
        XCTAssertEqual(BLASKernelCheck.judge(core: "SkylakeX", cpu: .avx2, forcedByEnvironment: false), .fits)
        XCTAssertNil(BLASKernelCheck.fits.message)
        let m = BLASKernelCheck.misdetected(core: "Prescott", cpuLevel: .avx512, suggested: "SKYLAKEX").message ?? ""
        XCTAssertTrue(m.contains("Prescott") && m.contains("AVX-512") && m.contains("OPENBLAS_CORETYPE=SKYLAKEX"), m)
    }
}
