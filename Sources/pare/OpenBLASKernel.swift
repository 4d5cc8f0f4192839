import PareCore

/// A user whose OpenBLAS runs kernels below this CPU's vector units (OPENBLAS_CORETYPE set to
/// an older core, or a failed restart) is told so on standard error, once per command.
enum OpenBLASKernel {
    static func warnIfSlow() {
        guard let message = BLASKernelCheck.current.message else { return }
        var err = StandardError()
        print(message, to: &err)
    }
}
