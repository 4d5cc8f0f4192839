#if canImport(CBLAS)
import CBLAS
#endif

/// Whether OpenBLAS runs kernels for the vector units this CPU has. OpenBLAS picks its kernel
/// once, when the library loads, from a table of CPUs it knows: Debian's 0.3.21 takes a CPU
/// newer than its table (e.g. Intel's Emerald Rapids, family 6 model 207) for "Prescott" and
/// runs SSE3 code on an AVX-512 machine, 2–5× slower (`pare bench sgemm` there: 86–89 GFLOP/s
/// against oneDNN's 420–456). `OPENBLAS_CORETYPE`, read at load time, overrides the choice.
public enum BLASKernelCheck: Equatable, Sendable {
    /// The kernel fits the CPU (or this is not OpenBLAS on x86-64).
    case fits
    /// OpenBLAS detected `core`, below this CPU's `cpuLevel`; `OPENBLAS_CORETYPE=suggested` fixes it.
    case misdetected(core: String, cpuLevel: VectorLevel, suggested: String)
    /// OPENBLAS_CORETYPE in the environment forces `core`, below this CPU's `cpuLevel`.
    case forced(core: String, cpuLevel: VectorLevel, suggested: String)

    public enum VectorLevel: Int, Comparable, Sendable {
        case sse = 0, avx = 1, avx2 = 2, avx512 = 3
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
        public var name: String { ["SSE", "AVX", "AVX2", "AVX-512"][rawValue] }
        /// The OpenBLAS core (OPENBLAS_CORETYPE value) whose kernels use this level.
        public var openBLASCore: String { ["PRESCOTT", "SANDYBRIDGE", "HASWELL", "SKYLAKEX"][rawValue] }
    }

    /// The vector level OpenBLAS's x86-64 kernels for `core` use (names as
    /// `openblas_get_corename` returns them, any case). Unknown names count as SSE.
    public static func level(ofCore core: String) -> VectorLevel {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return .avx512
        case "haswell", "zen", "skylake", "excavator": return .avx2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": return .avx
        default: return .sse
        }
    }

    /// The verdict for OpenBLAS core `core` on a CPU of level `cpu`, with `forcedByEnvironment`
    /// when OPENBLAS_CORETYPE is set.
    public static func judge(core: String, cpu: VectorLevel, forcedByEnvironment: Bool) -> BLASKernelCheck {
        guard level(ofCore: core) < cpu else { return .fits }
        return forcedByEnvironment ? .forced(core: core, cpuLevel: cpu, suggested: cpu.openBLASCore)
                                   : .misdetected(core: core, cpuLevel: cpu, suggested: cpu.openBLASCore)
    }

    /// This process's verdict.
    public static var current: BLASKernelCheck {
        #if canImport(CBLAS) && arch(x86_64)
        guard let cpu = VectorLevel(rawValue: Int(pare_cpu_vector_level())) else { return .fits }
        return judge(core: String(cString: openblas_get_corename()), cpu: cpu, forcedByEnvironment: getenvString("OPENBLAS_CORETYPE") != nil)
        #else
        return .fits
        #endif
    }

    /// What a user is told, or nil when the kernel fits.
    public var message: String? {
        switch self {
        case .fits: return nil
        case let .misdetected(core, cpu, suggested):
            return "OpenBLAS took this \(cpu.name) CPU for \(core) and would run its slower kernels; set OPENBLAS_CORETYPE=\(suggested)"
        case let .forced(core, cpu, suggested):
            return "note: OPENBLAS_CORETYPE=\(getenvString("OPENBLAS_CORETYPE") ?? core) runs OpenBLAS's \(core) kernels on this \(cpu.name) CPU, "
                + "several times slower where Pare uses OpenBLAS (attention's per-head products; every f32 product in a build without oneDNN); "
                + "unset it, or set OPENBLAS_CORETYPE=\(suggested), unless it is there on purpose"
        }
    }
}
