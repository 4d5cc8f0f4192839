import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PareCore
import PareFormats
import PareModel

/// A teacher's top-k logits over a token stream, computed once and read by every student that
/// is distilled on the same data in the same order, instead of running the teacher each step.
///
/// Files in the cache folder, per key (`NAME` = split and a hash of the key):
///   NAME.ids     Int32 (samples, T, k): each row's top-k token ids, in `topIndices` order
///   NAME.logits  Float32 (samples, T, k): the teacher's raw logits at those ids
///   NAME.json    the key and the sample count; written last, so its presence means complete
/// The rows are the ones live top-k distillation computes, bit for bit: the builder runs the
/// teacher on the same micro-batches (so the same matmul shapes and logit chunks) and picks
/// the top k the same way. Temperature is applied when reading, so one cache serves any τ.
public final class TeacherCache {
    public struct Key: Codable, Equatable, Sendable {
        public var split: String          // train | val
        public var teacher: String        // the teacher's content hash
        public var data: String           // the stream: data fingerprint and shuffle seed
        public var seqLength: Int, microBatch: Int, topK: Int
        public var vocab: Int             // the distilled vocabulary (the top k are chosen among its ids)
        /// The teacher's matmul precision; nil for fp32 (so fp32 caches keep their names).
        public var precision: String?
        public init(split: String, teacher: String, data: String, seqLength: Int, microBatch: Int, topK: Int, vocab: Int,
                    precision: Precision = .fp32) {
            self.split = split; self.teacher = teacher; self.data = data
            self.seqLength = seqLength; self.microBatch = microBatch; self.topK = topK; self.vocab = vocab
            self.precision = precision == .fp32 ? nil : precision.rawValue
        }

        /// The file stem: the split and an FNV-1a hash of the key's JSON.
        public var name: String {
            let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
            return split + "-" + String(FNV1a.hash((try? enc.encode(self)) ?? Data()), radix: 16)
        }
    }
    struct Manifest: Codable { var key: Key; var samples: Int }

    public let key: Key
    public let samples: Int
    public let folder: String
    let ids: MappedFile, logits: MappedFile

    var rowBytes: Int { key.topK * 4 }
    static func stem(_ folder: String, _ key: Key) -> String { folder + "/" + key.name }

    /// Bytes on disk per token: k ids and k logits of 4 bytes each.
    public static func bytesPerToken(topK k: Int) -> Int { 8 * k }

    init(folder: String, key: Key, samples: Int) throws {
        self.folder = folder; self.key = key; self.samples = samples
        let stem = TeacherCache.stem(folder, key)
        ids = try MappedFile(path: stem + ".ids"); logits = try MappedFile(path: stem + ".logits")
        let expected = samples * key.seqLength * key.topK * 4
        for f in [ids, logits] where f.count != expected {
            throw FormatError.corrupt(path: f.path, message: "holds \(f.count) bytes, not the \(expected) its .json promises; delete the cache folder's \(key.name).* files to rebuild it")
        }
        // Every id indexes a student logit row: one outside the vocabulary (a damaged or
        // foreign file of the right size) would read out of bounds, so all are checked once.
        let n = ids.count / 4, V = Int32(key.vocab)
        let bad = ids.base.withMemoryRebound(to: Int32.self, capacity: n) { p in
            (0..<n).first { p[$0] < 0 || p[$0] >= V }
        }
        if let bad {
            let id = ids.base.load(fromByteOffset: bad * 4, as: Int32.self)
            throw FormatError.corrupt(path: ids.path, message: "holds token id \(id) at entry \(bad), outside the \(key.vocab)-token vocabulary: the file is damaged or not this cache's; delete the cache folder's \(key.name).* files to rebuild it")
        }
    }

    /// The complete cache for `key` with at least `samples` samples, or nil.
    public static func open(folder: String, key: Key, samples: Int) throws -> TeacherCache? {
        let json = stem(folder, key) + ".json"
        guard let d = FileManager.default.contents(atPath: json) else { return nil }
        guard let m = try? JSONDecoder().decode(Manifest.self, from: d) else {
            throw FormatError.corrupt(path: json, message: "is not a teacher-cache description; delete it to rebuild the cache")
        }
        guard m.key == key, m.samples >= samples else { return nil }
        return try TeacherCache(folder: folder, key: key, samples: m.samples)
    }

    /// The cache for `key` over the first `samples` samples of `stream`: opened if complete,
    /// otherwise computed with `teacher`, continuing a build that was interrupted or extending a
    /// complete cache of fewer samples (a run with fewer steps) in place.
    /// One process builds a folder's caches at a time: another one waits (`waiting` is told
    /// who holds the folder), then opens what the first built.
    /// `progress(done, total)` counts samples.
    public static func build(teacher: LlamaModel, stream: BlendedSampleStream, samples: Int, key: Key, folder: String,
                             progress: (Int, Int) -> Void = { _, _ in }, waiting: (String) -> Void = { _ in }) throws -> TeacherCache {
        if let done = try open(folder: folder, key: key, samples: samples) { return done }
        let B = key.microBatch, T = key.seqLength, k = key.topK, V = key.vocab, VT = teacher.config.vocabSize
        precondition(samples % B == 0 && stream.seqLength == T && V <= VT && k < V)
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        catch { throw FormatError.io(path: folder, message: "cannot create the teacher-cache folder (\(SystemErrorText.reason(error))); check the path and its permissions") }
        let lock = try RunLock(waitingFor: folder + "/build.lock") { waiting("\($0) is building a teacher cache in \(folder); waiting for it to finish") }
        defer { lock.release() }
        if let done = try open(folder: folder, key: key, samples: samples) { return done }
        let stem = stem(folder, key)
        let idsPath = stem + ".ids.partial", logitsPath = stem + ".logits.partial", keyPath = stem + ".json.partial"
        try reopenShorterCache(stem, key: key, samples: samples)
        // A partial build of the same key continues from its last whole micro-batch.
        let sampleBytes = T * k * 4
        var done = 0
        if let d = FileManager.default.contents(atPath: keyPath), let m = try? JSONDecoder().decode(Manifest.self, from: d), m.key == key {
            func size(_ p: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
            done = min(min(size(idsPath), size(logitsPath)) / sampleBytes / B * B, samples)
        }
        if done == 0 { for p in [idsPath, logitsPath] { _ = FileManager.default.createFile(atPath: p, contents: nil) } }
        try AtomicFileWriter.write(try JSONEncoder().encode(Manifest(key: key, samples: samples)), to: keyPath)
        let files = try [idsPath, logitsPath].map { p -> FileHandle in
            guard let h = FileHandle(forWritingAtPath: p) else { throw FormatError.io(path: p, message: "cannot open for writing") }
            h.truncateFile(atOffset: UInt64(done * sampleBytes))
            return h
        }
        defer { for h in files { try? h.close() } }
        let acts = Activations(config: teacher.config, B: B, T: T, forTraining: false)
        let chunk = FloatBuffer(count: acts.lmChunk * VT)
        var batch = Batch(B: B, T: T)
        var rowIds = [Int32](repeating: 0, count: B * T * k), rowLogits = [Float](repeating: 0, count: B * T * k)
        progress(done, samples)
        for s in stride(from: done, to: samples, by: B) {
            batch.fill(from: stream, first: s)
            try batch.withPointers { tokens, _ in try teacher.forward(tokens: tokens, acts: acts) }
            rowIds.withUnsafeMutableBufferPointer { ip in rowLogits.withUnsafeMutableBufferPointer { lp in
                let out = UncheckedBox((ip.baseAddress!, lp.baseAddress!))
                teacher.forEachLogitChunk(acts: acts, into: chunk.pointer) { r0, R, z in
                    let zb = UncheckedBox(z)
                    Parallel.forRange(R, costPerItem: V * 2) { a, b in
                        let (ids, vals) = out.value
                        var top: [Int] = []
                        for r in a..<b {
                            let row = zb.value + r * VT, o = (r0 + r) * k
                            topIndices(row, V, k, &top)
                            for (i, j) in top.enumerated() { ids[o + i] = Int32(j); vals[o + i] = row[j] }
                        }
                    }
                }
            } }
            do {
                try files[0].write(contentsOf: rowIds.withUnsafeBytes { Data($0) })
                try files[1].write(contentsOf: rowLogits.withUnsafeBytes { Data($0) })
            } catch {
                throw FormatError.io(path: folder, message: "cannot write the teacher cache (\(SystemErrorText.reason(error))); free disk space (it needs \(samples * sampleBytes * 2 / 1_000_000) MB) and run again: the build continues where it stopped")
            }
            progress(s + B, samples)
        }
        for h in files { try h.synchronize() }
        // The manifest moves last: until it is in place the cache is incomplete, never torn.
        for ext in [".ids", ".logits", ".json"] { try move(stem + ext + ".partial", replacing: stem + ext) }
        return try TeacherCache(folder: folder, key: key, samples: samples)
    }

    /// A complete cache of this key with fewer samples becomes the partial files of this build,
    /// which then continues after its last sample. The manifest goes first, so a stop between
    /// the renames leaves an incomplete cache (rebuilt), never a manifest without its data.
    static func reopenShorterCache(_ stem: String, key: Key, samples: Int) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: stem + ".json.partial"), let d = fm.contents(atPath: stem + ".json"),
              let m = try? JSONDecoder().decode(Manifest.self, from: d), m.key == key, m.samples < samples else { return }
        for ext in [".json", ".ids", ".logits"] { try move(stem + ext, replacing: stem + ext + ".partial") }
    }

    /// rename(2): replaces `to` if it exists (FileManager.moveItem refuses to).
    static func move(_ from: String, replacing to: String) throws {
        guard rename(from, to) == 0 else {
            throw FormatError.io(path: to, message: "cannot move \(from) into place (\(String(cString: strerror(errno)))); check the teacher-cache folder is writable")
        }
    }

    /// The teacher rows of the micro-batch whose first sample is `sample` (B·T rows from row
    /// `row`), or nil when the cache does not reach it (the run needs a sample past the built
    /// range, e.g. after the divergence guard skipped batches).
    public func rows(sample: Int, row: Int = 0) -> TeacherLogits? {
        guard sample + key.microBatch <= samples else { return nil }
        let first = (sample * key.seqLength + row) * key.topK
        return .topK(ids: ids.base.assumingMemoryBound(to: Int32.self) + first,
                     logits: logits.base.assumingMemoryBound(to: Float.self) + first, k: key.topK)
    }
}
