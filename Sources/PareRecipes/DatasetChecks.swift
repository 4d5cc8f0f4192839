import Foundation
import PareFormats

/// Refuses training, calibration or evaluation data tokenized with another tokenizer than
/// `model`'s (its record beside the .idx, written by `pare data tokenize`); data from before
/// the record was kept is used with a warning. `key` names the setting in the message.
func checkDataTokenizer(_ spec: String, key: String, tokenizer: Tokenizer, model: String, _ progress: Progress) throws {
    let prefix: DataPrefix
    do { prefix = try DataPrefix(spec) } catch let e as DataPrefixError { throw RecipeError.invalid(key, e.rawMessage) }
    let hash = tokenizer.contentHash
    for part in prefix.parts {
        let resolved = DataPrefix.resolve(part.prefix)
        guard let record = try DatasetTokenizer.read(prefix: resolved) else {
            progress.say("warning: \(resolved) does not record its tokenizer (tokenized before pare kept the record); make sure it was tokenized for \(model)")
            continue
        }
        guard record.hash == hash else {
            let sizes = record.vocabularySize == tokenizer.vocabularySize ? "both have \(tokenizer.vocabularySize) tokens, but they differ"
                : "\(record.vocabularySize) tokens vs \(tokenizer.vocabularySize)"
            throw RecipeError.invalid(key, "\(resolved) was tokenized with \(record.source)'s tokenizer, not \(model)'s (\(sizes)); re-run pare data tokenize --tokenizer \(model)")
        }
    }
}

/// The indexed dataset at `prefix` (as given to `key`), or an error naming the setting when
/// there is none, instead of a bare "PREFIX_text_document.idx: cannot open".
func openDataset(_ prefix: String, key: String) throws -> IndexedDataset {
    guard !prefix.isEmpty else { throw RecipeError.invalid(key, "is empty; give the output prefix of pare data tokenize") }
    let resolved = DataPrefix.resolve(prefix)
    guard FileManager.default.fileExists(atPath: resolved + ".idx") else {
        throw RecipeError.invalid(key, "names \(prefix), but there is no \(resolved).idx; give the output prefix of pare data tokenize (PREFIX for PREFIX_text_document.bin/.idx)")
    }
    return try IndexedDataset(prefix: resolved)
}
