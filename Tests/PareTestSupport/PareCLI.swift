import Foundation
import XCTest

/// Runs the `pare` binary that the test build made (swift build --build-tests), as a user would.
public enum PareCLI {
    public struct Result {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public let seconds: Double
        public var output: String { stdout + stderr }
    }

    public static var binary: String {
        get throws {
            let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("pare").path
            if FileManager.default.isExecutableFile(atPath: bin) { return bin }
            let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../.build-release/release/pare").standardized.path
            guard FileManager.default.isExecutableFile(atPath: fallback) else {
                XCTFail("no pare binary at \(bin): build with --build-tests")
                throw XCTSkip("no pare binary")
            }
            return fallback
        }
    }

    /// `pare ARGS`; stdout and stderr are read concurrently so neither pipe can fill and block.
    /// `stdin` is written to the process's standard input.
    public static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = inp
        let t0 = Date()
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? inp.fileHandleForWriting.close()
        final class Box: @unchecked Sendable { var data = Data() }   // written before group.wait() returns
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), seconds: Date().timeIntervalSince(t0))
    }
}
