import Foundation

/// Foundation's file errors as a user reads them. On Linux their own descriptions are
/// "The operation could not be completed. (NSCocoaErrorDomain error 512.)" or the whole
/// `Error Domain=… UserInfo={…}` dump; the POSIX reason underneath ("Not a directory",
/// "No space left on device") is what says what to fix.
public enum SystemErrorText {
    /// The reason alone, e.g. "not a directory" or "a file of that name already exists".
    public static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return posix(Int32(ns.code)) }
        if let under = ns.userInfo[NSUnderlyingErrorKey] as? NSError, under.domain == NSPOSIXErrorDomain { return posix(Int32(under.code)) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileWriteFileExists: return "a file of that name already exists"
            case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
            case .fileWriteOutOfSpace: return "the disk is full"
            case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
            case .fileWriteVolumeReadOnly: return "the file system is read-only"
            case .fileReadCorruptFile: return "the file is damaged"
            case .fileReadTooLarge: return "the file is too large"
            default: return "file error \(ns.code)"
            }
        }
        // Not a Foundation error: the library's own errors describe themselves.
        return String(describing: error)
    }

    /// The reason with the file it concerns, when Foundation names one: "PATH: reason".
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return String(describing: error) }
        let path = ns.userInfo["NSDestinationFilePath"] as? String ?? ns.userInfo[NSFilePathErrorKey] as? String
        return (path.map { $0 + ": " } ?? "") + reason(error)
    }

    static func posix(_ code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
