/// (left id, right id) → (rank, merged id) for the BPE merge loops. Open addressing with linear
/// probing over one flat array, at most half full: the merge loop looks a pair up after every
/// merge, and Swift's Dictionary would hash each key with a seeded SipHash — the largest single
/// cost of encoding text that misses the piece cache (a profile of Gemma's vocabulary put
/// dictionary lookups at a tenth of the time).
struct MergeTable: Sendable {
    private struct Slot { var key: UInt64; var rank: Int32; var id: Int32 }
    private static let empty = UInt64.max   // no pair of non-negative Int32 ids packs to it
    private var slots: [Slot]
    private let shift: UInt64
    private(set) var count = 0

    /// Room for `capacity` pairs without growing (the table never grows).
    init(capacity: Int) {
        var bits: UInt64 = 4
        while (1 << bits) < 2 * max(capacity, 1) { bits += 1 }
        slots = Array(repeating: Slot(key: Self.empty, rank: 0, id: 0), count: 1 << Int(bits))
        shift = 64 - bits
    }

    @inline(__always) private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Fibonacci hashing: the top bits of key × 2⁶⁴/φ.
    @inline(__always) private func home(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    @inline(__always) subscript(left: Int32, right: Int32) -> (rank: Int32, id: Int32)? {
        let k = Self.key(left, right), mask = slots.count - 1
        return slots.withUnsafeBufferPointer { s in
            var i = home(k)
            while true {
                let slot = s[i]
                if slot.key == k { return (slot.rank, slot.id) }
                if slot.key == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Stores the pair's merge; an existing entry is kept unless `replace` (the first merge of
    /// a pair wins in a merges list, as tokenizers builds its table).
    mutating func insert(left: Int32, right: Int32, rank: Int32, id: Int32, replace: Bool = false) {
        precondition(left >= 0 && right >= 0, "token ids are non-negative")
        let k = Self.key(left, right), mask = slots.count - 1
        var i = home(k)
        while slots[i].key != Self.empty && slots[i].key != k { i = (i + 1) & mask }
        if slots[i].key == k {
            if replace { slots[i].rank = rank; slots[i].id = id }
            return
        }
        // Only a new pair needs room (replacing in a full table is fine).
        precondition(2 * (count + 1) <= slots.count, "MergeTable sized for fewer pairs")
        slots[i] = Slot(key: k, rank: rank, id: id)
        count += 1
    }
}

extension MergeTable {
    /// Merges `ids` in place: the adjacent pair of lowest rank first, leftmost on ties, until
    /// no adjacent pair is ranked. Short sequences (pre-tokenized pieces, SentencePiece words)
    /// scan for the best pair; long ones (a SentencePiece document that is one word) keep
    /// candidate pairs in a heap, O(n log n). Both give the same merges.
    func merge(_ ids: inout [Int32]) {
        if ids.count <= 48 { mergeByScan(&ids) } else { mergeByHeap(&ids) }
    }

    private func mergeByScan(_ ids: inout [Int32]) {
        let n = ids.count
        guard n > 1 else { return }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 2 * (n - 1)) { scratch in
            // ranks[k], merged[k]: the pair (ids[k], ids[k+1]); rank Int32.max when not ranked.
            let ranks = scratch.baseAddress!, merged = ranks + (n - 1)
            var pairs = n - 1
            @inline(__always) func look(_ k: Int) {
                if let m = self[ids[k], ids[k + 1]] { ranks[k] = m.rank; merged[k] = m.id } else { ranks[k] = .max }
            }
            for k in 0..<pairs { look(k) }
            while true {
                var best = -1, bestRank = Int32.max
                for k in 0..<pairs where ranks[k] < bestRank { bestRank = ranks[k]; best = k }
                if best < 0 { break }
                ids[best] = merged[best]
                ids.remove(at: best + 1)
                pairs -= 1
                if best < pairs {
                    (ranks + best).update(from: ranks + best + 1, count: pairs - best)
                    (merged + best).update(from: merged + best + 1, count: pairs - best)
                    look(best)
                }
                if best > 0 { look(best - 1) }
            }
        }
    }

    private func mergeByHeap(_ ids: inout [Int32]) {
        let n = ids.count
        var next = Array(1...n), prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        @inline(__always) func push(_ i: Int) {
            let j = next[i]
            guard j < n, let m = self[ids[i], ids[j]] else { return }
            heap.push(.init(rank: m.rank, pos: Int32(i), left: ids[i], right: ids[j], merged: m.id))
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.pop() {
            let i = Int(top.pos)
            guard alive[i], next[i] < n else { continue }
            let j = next[i]
            // A stale entry: one side has merged since it was pushed. A pair that is unchanged
            // has the rank and merged id it was pushed with: the table is fixed.
            guard ids[i] == top.left, ids[j] == top.right else { continue }
            ids[i] = top.merged
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0 { push(prev[i]) }
            push(i)
        }
        var kept: [Int32] = []
        kept.reserveCapacity(n)
        var i = 0
        while i < n { kept.append(ids[i]); i = next[i] }
        ids = kept
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct MergeHeap {
    struct Entry { var rank: Int32, pos: Int32, left: Int32, right: Int32, merged: Int32 }
    var items: [Entry] = []

    @inline(__always) static func less(_ a: Entry, _ b: Entry) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos }

    mutating func push(_ e: Entry) {
        items.append(e)
        var k = items.count - 1
        while k > 0 {
            let p = (k - 1) / 2
            guard Self.less(items[k], items[p]) else { break }
            items.swapAt(k, p); k = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && Self.less(items[l], items[m]) { m = l }
                if r < items.count && Self.less(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m); k = m
            }
        }
        return top
    }
}
