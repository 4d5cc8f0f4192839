import Foundation
import PareFormats

enum AtomicFileWriterBridge {
    static func write(_ data: Data, _ path: String) throws { try AtomicFileWriter.write(data, to: path) }
}
