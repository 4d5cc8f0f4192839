/// Whether two tokenizers mean the same by the ids they share: what distilling between models
/// whose vocabularies differ in size needs (Qwen2.5-7B's 152,064 embedding rows against the
/// 0.5B's 151,936, padding included), checked on the tokenizers themselves, not only the sizes.
extension Tokenizer {
    /// nil when every id below both vocabularies' sizes is the same token, special in both or
    /// in neither; otherwise what differs, naming the two sides `mine` and `theirs`.
    public func disagreement(with other: Tokenizer, mine: String, theirs: String) -> String? {
        let common = min(vocabularySize, other.vocabularySize)
        func isSpecial(_ t: Tokenizer, _ id: Int) -> Bool { t.addedById[Int32(id)]?.special ?? false }
        var specialRuns: [(first: Int, last: Int, mineSpecial: Bool)] = []
        var firstText: Int? = nil, textCount = 0
        for id in 0..<common {
            let a = isSpecial(self, id), b = isSpecial(other, id)
            if a != b {
                if let last = specialRuns.last, last.last == id - 1, last.mineSpecial == a { specialRuns[specialRuns.count - 1].last = id }
                else { specialRuns.append((id, id, a)) }
            } else if model.tokens[id] != other.model.tokens[id] {
                if firstText == nil { firstText = id }
                textCount += 1
            }
        }
        var problems = specialRuns.prefix(3).map { r in
            let ids = r.first == r.last ? "id \(r.first) is a special token" : "ids \(r.first)–\(r.last) are special tokens"
            return "\(ids) in the \(r.mineSpecial ? mine : theirs) and text in the \(r.mineSpecial ? theirs : mine)"
        }
        if specialRuns.count > 3 { problems.append("\(specialRuns.count - 3) more such runs") }
        if let id = firstText {
            problems.append("id \(id) is \"\(model.tokens[id])\" in the \(mine) and \"\(other.model.tokens[id])\" in the \(theirs)"
                            + (textCount > 1 ? " (\(textCount - 1) more ids differ)" : ""))
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}
