import Foundation
import XCTest
import PareCore
import PareFormats
import PareModel
import PareTestSupport

/// The permanent bad-input suite: hostile or careless inputs to the `pare` binary, as a user
/// types them. Each case asserts the exit status, the key words of the message (which name
/// the flag or file and what to do), that it ends within 10 s, and that nothing is left behind.
/// The model is a 2-layer random one with the bundled teacher's tokenizer (512 positions).
final class BadInputTests: XCTestCase {
    static let root = NSTemporaryDirectory() + "pare-bad-input-\(getpid())"
    var root: String { BadInputTests.root }
    var model: String { root + "/model" }
    var data: String { root + "/data/train" }
    var small: String { root + "/data/val" }   // a few documents: ~100 tokens

    override class func setUp() {
        super.setUp()
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.createDirectory(atPath: root + "/data", withIntermediateDirectories: true)
    }
    override class func tearDown() { if ProcessInfo.processInfo.environment["PARE_KEEP"] == nil { try? FileManager.default.removeItem(atPath: root) }; super.tearDown() }

    /// The tiny model and a tokenized corpus, made once.
    override func setUpWithError() throws {
        guard !FileManager.default.fileExists(atPath: data + "_text_document.idx") else { return }
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        let m = try LlamaModel(config: BadInputTests.tinyConfig)
        m.initializeRandom(seed: 7)
        try HFCheckpoint.save(m, tokenizer: tok, to: model)
        let lines = (0..<200).map { i in TextSources.jsonLine("Document \(i) is about \(i * 7).") }
        try lines.joined(separator: "\n").write(toFile: root + "/corpus.jsonl", atomically: true, encoding: .utf8)
        try expect(["data", "prepare", "--source", root + "/corpus.jsonl", "--output", root + "/data"], status: 0)
        try expect(["data", "tokenize", "--input", root + "/data/train.jsonl", "--tokenizer", model, "--output-prefix", data], status: 0)
        try expect(["data", "tokenize", "--input", root + "/data/val.jsonl", "--tokenizer", model, "--output-prefix", small], status: 0)
    }

    /// Text no message may hold: Foundation's raw error dumps, Int.max standing in for a
    /// number, and an empty path (a quoted empty name, or a path-less "cannot open").
    static let neverShown = ["NSCocoaErrorDomain", "Error Domain=", "9223372036854775807", "\"\"", "pare: error: :", " : cannot", "(null)"]

    static var tinyConfig: LlamaConfig {
        var c = LlamaConfig(vocabSize: 49152, hiddenSize: 64, intermediateSize: 128, numHiddenLayers: 2,
                            numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512)
        c.tieWordEmbeddings = true; c.bosTokenId = .one(1); c.eosTokenId = .one(2)
        return c
    }

    /// Runs pare; asserts the status, that stderr+stdout hold every word, and the 10 s bound.
    @discardableResult
    func expect(_ args: [String], status: Int32, _ words: [String] = [], environment: [String: String] = [:],
                file: StaticString = #filePath, line: UInt = #line) throws -> PareCLI.Result {
        let r = try PareCLI.run(args, environment: environment)
        let shown = "pare \(args.joined(separator: " ")) → exit \(r.status):\n\(r.output.suffix(1500))"
        // PARE_SHOW_MESSAGES=1 prints each case and what pare said (the catalogue of messages).
        if ProcessInfo.processInfo.environment["PARE_SHOW_MESSAGES"] == "1" {
            let said = r.output.split(separator: "\n").filter { $0.contains("error") || $0.contains("warning") || $0.contains("moved") || $0.contains("removed") }
            print("CASE pare \(args.map { $0.replacingOccurrences(of: root, with: "$R") }.joined(separator: " ")) → exit \(r.status): \(said.joined(separator: " / ").replacingOccurrences(of: root, with: "$R"))")
        }
        XCTAssertEqual(r.status, status, shown, file: file, line: line)
        for w in words { XCTAssertTrue(r.output.contains(w), "missing \"\(w)\" in: \(shown)", file: file, line: line) }
        XCTAssertFalse(r.output.contains("Fatal error"), shown, file: file, line: line)
        for raw in BadInputTests.neverShown where r.output.contains(raw) { XCTFail("pare printed \"\(raw)\": \(shown)", file: file, line: line) }
        XCTAssertLessThan(r.seconds, 10, "took \(r.seconds) s: \(shown)", file: file, line: line)
        return r
    }

    func leftovers(_ dir: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: dir)
        var out: [String] = []
        while let n = e?.nextObject() as? String { if n.contains(".tmp-") { out.append(n) } }
        return out
    }

    /// A 2-step finetune of the tiny model into ROOT/OUTPUT; `set` replaces or adds flags.
    func finetune(_ output: String, _ set: [String: String] = [:], flags: [String] = []) -> [String] {
        var o: [(String, String)] = [("--model", model), ("--data-train", data), ("--output", root + "/" + output), ("--steps", "2"),
                                     ("--global-batch-size", "2"), ("--micro-batch-size", "2"), ("--seq-length", "32"),
                                     ("--warmup-steps", "1"), ("--threads", "2")]
        for (k, v) in set.sorted(by: { $0.key < $1.key }) {
            if let i = o.firstIndex(where: { $0.0 == k }) { o[i].1 = v } else { o.append((k, v)) }
        }
        return ["finetune"] + o.flatMap { ["\($0.0)=\($0.1)"] } + flags
    }

    // MARK: options out of range

    func testSequenceLongerThanThePositionsIsRefused() throws {
        try expect(finetune("long", ["--seq-length": "100000"]), status: 1, ["--seq-length", "exceeds the 512 positions"])
        try expect(["eval", "--model", model, "--data", data, "--seq-length", "20000"], status: 1, ["--seq-length", "exceeds the 512 positions"])
        try expect(["prune", "depth", "--model", model, "--output", root + "/p", "--num-layers", "1", "--calibration-data", data, "--seq-length", "4096"],
                   status: 1, ["--seq-length", "exceeds"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/long"))
    }

    func testZeroAndNegativeSizesAreRefused() throws {
        try expect(["prune", "width", "--model", model, "--output", root + "/w", "--hidden-size", "32", "--size-multiple", "0"], status: 1, ["--size-multiple", "at least 1"])
        try expect(["data", "inspect", data, "--seq-length", "0"], status: 1, ["--seq-length", "at least 1"])
        try expect(["data", "inspect", data, "--seq-length=-5"], status: 1, ["--seq-length", "at least 1"])
        try expect(["eval", "--model", model, "--data", data, "--max-windows", "0"], status: 1, ["--max-windows", "at least 1"])
        try expect(["generate", "--model", model, "--prompt", "Hi", "--max-new-tokens=-5"], status: 1, ["--max-new-tokens", "at least 1"])
        try expect(finetune("s1", ["--steps": "1", "--warmup-steps": "2"]), status: 1, ["--warmup-steps", "at most 1"])
        // A warm-up the user never set adapts to a short run instead of being an error.
        try expect(finetune("s1", ["--steps": "1"]).filter { !$0.hasPrefix("--warmup-steps") }, status: 0, ["step 1/1"])
        // A negative number after a space is the option's value, not an unknown flag.
        try expect(["finetune", "--model", model, "--data-train", data, "--output", root + "/neg", "--lr", "-1"], status: 1, ["--lr", "positive", "-1"])
        try expect(["generate", "--model", model, "--prompt", "Hi", "--top-p", "-0.5"], status: 1, ["--top-p", "(0, 1]"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/neg"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/w"))
    }

    func testSamplingParametersAreRangeChecked() throws {
        for t in ["-1", "nan", "inf"] {
            try expect(["generate", "--model", model, "--prompt", "Hi", "--temperature=\(t)"], status: 1, ["--temperature", "finite number"])
        }
        try expect(["generate", "--model", model, "--prompt", "Hi", "--top-p", "2"], status: 1, ["--top-p", "(0, 1]"])
    }

    func testTooManyThreadsAreCappedWithAWarning() throws {
        try expect(["generate", "--model", model, "--prompt", "Hi", "--max-new-tokens", "2", "--threads", "1000"], status: 0, ["more than twice", "using"])
        try expect(["generate", "--model", model, "--prompt", "Hi", "--threads", "0"], status: 1, ["--threads", "at least 1"])
    }

    func testLayerListsWithNegativesOrOpenRangesAreRefused() throws {
        for spec in ["-1", "5-", "1--2", "x"] {
            try expect(["prune", "depth", "--model", model, "--output", root + "/d", "--drop-layers=\(spec)"], status: 1, ["cannot read"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/d"))
    }

    func testAPromptLongerThanTheContextIsRefusedBeforeEchoing() throws {
        let r = try expect(["generate", "--model", model, "--prompt", String(repeating: "word ", count: 2000)], status: 1, ["shorten the prompt", "512 positions"])
        XCTAssertTrue(r.stdout.isEmpty, "the prompt was echoed before the error")
    }

    func testEvalLongerThanItsDataIsAnErrorNotPerplexityOne() throws {
        try expect(["eval", "--model", model, "--data", small, "--seq-length", "511"], status: 1, ["--seq-length", "tokens for one window"])
    }

    /// Task files in a cache of their own (PARE_CACHE): a good one, one whose request is longer
    /// than the model's 512 positions, and one whose .gz is cut short.
    func testTaskMistakesNameTheTaskOrFile() throws {
        let cache = root + "/cache"
        func task(_ name: String, _ lines: [(Int, Int, String, String)]) throws {
            let dir = "\(cache)/tasks/\(name)/rc_0shot"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try #"{"task_config": {"primary_metric": "acc_per_char", "num_shots": 0}}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
            let rows = lines.map { d, i, c, k in
                String(decoding: try! JSONSerialization.data(withJSONObject: ["doc_id": d, "idx": i, "label": 0, "request": ["context": c, "continuation": k]]), as: UTF8.self)
            }
            try rows.joined(separator: "\n").write(toFile: dir + "/requests.jsonl", atomically: true, encoding: .utf8)
            let gz = Process()
            gz.executableURL = URL(fileURLWithPath: "/usr/bin/env"); gz.arguments = ["gzip", "-f", dir + "/requests.jsonl"]
            try gz.run(); gz.waitUntilExit()
        }
        try task("tiny", [(0, 0, "The sky is", " blue"), (0, 1, "The sky is", " green"), (1, 0, "Two and two make", " four"), (1, 1, "Two and two make", " five")])
        try task("long", [(0, 0, String(repeating: "word ", count: 600), "end"), (0, 1, "short", " end")])
        try task("cut", [(0, 0, "a", " b")])
        let gz = cache + "/tasks/cut/rc_0shot/requests.jsonl.gz"
        let packed = try Data(contentsOf: URL(fileURLWithPath: gz))
        try packed.prefix(packed.count - 12).write(to: URL(fileURLWithPath: gz))
        let env = ["PARE_CACHE": cache]
        let base = ["eval", "--model", model, "--no-perplexity", "--tasks"]
        let first = try expect(base + ["tiny"], status: 0, ["tiny | 2 |", "acc_norm"], environment: env)
        XCTAssertFalse(first.output.contains("cached"))
        let again = try expect(base + ["tiny"], status: 0, ["tiny | 2 |", "| cached"], environment: env)
        XCTAssertEqual(first.output.split(separator: "\n").first { $0.contains("tiny | 2") }?.split(separator: "|").prefix(4),
                       again.output.split(separator: "\n").first { $0.contains("tiny | 2") }?.split(separator: "|").prefix(4), "the cached result is the measured one")
        try expect(base + ["tiny,hellaswagg"], status: 1, ["no task named \"hellaswagg\"", "cut, long, tiny"], environment: env)
        try expect(base + ["TINY"], status: 1, ["no task named \"TINY\" (did you mean tiny?)"], environment: env)
        try expect(base + ["tiny", "--shots", "5"], status: 1, ["tiny has no 5-shot variant"], environment: env)
        try expect(base + ["cut"], status: 1, ["cut/rc_0shot/requests.jsonl.gz", "ends early"], environment: env)
        try expect(base + ["long"], status: 1, ["task long", "document 0 needs", "512 positions"], environment: env)
        try expect(base + ["tiny"], status: 1, ["no zero-shot task files", "scripts/setup"], environment: ["PARE_CACHE": root + "/nocache"])
        try expect(base + ["tiny", "--limit", "0"], status: 1, ["--limit must be at least 1"], environment: env)
        // A choice written twice (as in csqa) scores exactly the same both times.
        try task("dup", [(0, 0, "The sky is", " blue"), (0, 1, "The sky is", " green"), (0, 2, "The sky is", " blue")])
        try expect(base + ["dup", "--json", root + "/dup.json"], status: 0, ["dup | 1 |"], environment: env)
        let dup = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/dup.json"))) as? [[String: Any]])
        let ll = try XCTUnwrap((dup.first?["tasks"] as? [[String: Any]])?.first?["loglikelihoods"] as? [Double])
        XCTAssertEqual(ll.count, 3); XCTAssertEqual(ll[0], ll[2], "identical requests, identical scores")
        // Named twice, a task would weigh twice in the average.
        try expect(base + ["tiny,long,tiny"], status: 1, ["--tasks", "names tiny twice"], environment: env)
        try expect(base + ["tiny", "--tasks", "tiny"], status: 1, ["names tiny twice"], environment: env)
        // An edited task file is scored again, not answered from the results cache.
        try task("tiny", [(0, 0, "The sky is", " green"), (0, 1, "The sky is", " blue"), (1, 0, "Two and two make", " four"), (1, 1, "Two and two make", " five")])
        let edited = try expect(base + ["tiny"], status: 0, ["tiny | 2 |"], environment: env)
        XCTAssertFalse(edited.output.contains("| cached"), edited.output)
        try expect(base + ["tiny"], status: 0, ["tiny | 2 |", "| cached"], environment: env)
    }

    /// MMLU in a cache of its own: two real subjects scored (per subject and in aggregate),
    /// then a misspelt subject, --shots 7, a truncated Arrow file and a missing MMLU folder,
    /// each named.
    func testMMLUMistakesNameTheSubjectOptionOrFile() throws {
        let cache = root + "/mmlu-cache", real = try Assets.mmlu
        for subject in ["abstract_algebra", "anatomy"] {
            for split in ["dev", "test"] {
                let dir = "\(cache)/mmlu/\(subject)/\(split)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try? FileManager.default.removeItem(atPath: dir + "/data-00000-of-00001.arrow")
                try FileManager.default.copyItem(atPath: "\(real)/\(subject)/\(split)/data-00000-of-00001.arrow", toPath: dir + "/data-00000-of-00001.arrow")
            }
        }
        let env = ["PARE_CACHE": cache]
        let base = ["eval", "--model", model, "--no-perplexity", "--tasks"]
        try expect(base + ["mmlu", "--shots", "0", "--limit", "3", "--json", root + "/mmlu.json"], status: 0,
                   ["mmlu | 6 |", "abstract_algebra | 3 |", "anatomy | 3 |", "unweighted mean over 2 subjects"], environment: env)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/mmlu.json"))) as? [[String: Any]])
        let score = try XCTUnwrap((rows.first?["tasks"] as? [[String: Any]])?.first)
        let subjects = try XCTUnwrap(score["subtasks"] as? [[String: Any]])
        XCTAssertEqual(subjects.compactMap { $0["name"] as? String }, ["abstract_algebra", "anatomy"])
        let accs = subjects.compactMap { $0["acc"] as? Double }
        XCTAssertEqual(score["acc"] as? Double ?? -1, (accs[0] + accs[1]) / 2, accuracy: 1e-12, "equal sizes: the weighted mean is the plain one")
        XCTAssertEqual(score["acc_macro"] as? Double ?? -1, (accs[0] + accs[1]) / 2, accuracy: 1e-12)
        XCTAssertNil(score["acc_norm"], "one-letter choices: no per-character accuracy")
        XCTAssertEqual((score["loglikelihoods"] as? [Double])?.count, 24)
        try expect(base + ["mmlu_anatomy", "--shots", "0", "--limit", "2"], status: 0, ["mmlu_anatomy | 2 |"], environment: env)
        try expect(base + ["mmlu_anatomyy"], status: 1, ["no MMLU subject \"anatomyy\" (did you mean mmlu_anatomy?)", "abstract_algebra, anatomy"], environment: env)
        try expect(base + ["mmlu", "--shots", "7"], status: 1, ["--shots must be 0 or 5", "not 7"], environment: env)
        let test = cache + "/mmlu/anatomy/test/data-00000-of-00001.arrow"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: test))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: test))
        try expect(base + ["mmlu_anatomy", "--shots", "0"], status: 1, [test, "truncated"], environment: env)
        try expect(base + ["mmlu"], status: 1, ["no MMLU files", "scripts/setup"], environment: ["PARE_CACHE": root + "/nocache"])
    }

    // MARK: importance scores

    /// importance.json records the model it was measured on: scores of another model of the
    /// same shape are refused, scores of another shape name both shapes and the file.
    func testScoresOfAnotherModelAreRefusedByName() throws {
        let prune = ["prune", "width", "--hidden-size", "32", "--ffn-hidden-size", "64", "--calibration-data", data,
                     "--calibration-samples", "2", "--seq-length", "32", "--threads", "2"]
        try expect(prune + ["--model", model, "--output", root + "/wa"], status: 0)
        let scores = root + "/wa/importance.json"
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scores))) as? [String: Any])
        XCTAssertNotNil(json["model"] as? String, "importance.json records its model")
        // The same model's scores are used as they are.
        try expect(prune.prefix(6) + ["--model", model, "--output", root + "/wb", "--scores", scores], status: 0)
        // Another model of the same shape (as the base teacher is to the fine-tuned one).
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        let other = try LlamaModel(config: BadInputTests.tinyConfig)
        other.initializeRandom(seed: 8)
        try HFCheckpoint.save(other, tokenizer: tok, to: root + "/other")
        try expect(prune.prefix(6) + ["--model", root + "/other", "--output", root + "/wc", "--scores", scores], status: 1,
                   ["--scores", scores, "another model of the same shape", "leave out --scores"])
        // Another shape: the pruned student with its teacher's scores.
        try expect(["prune", "width", "--hidden-size", "32", "--model", root + "/wa", "--output", root + "/wd", "--scores", scores], status: 1,
                   ["--scores", scores, "2 layers, hidden 64, MLP 128, 4 heads", "hidden 32, MLP 64"])
        // A file from before the record: used, with a warning.
        var old = json; old["model"] = nil
        try JSONSerialization.data(withJSONObject: old).write(to: URL(fileURLWithPath: root + "/old-importance.json"))
        try expect(prune.prefix(6) + ["--model", model, "--output", root + "/we", "--scores", root + "/old-importance.json"], status: 0,
                   ["does not record the model"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/wc"))
    }

    /// Repairing the cut needs more calibration tokens than the widest refit input (the
    /// student's MLP, 64 here): 2 × 32 is refused by name; 4 × 32 refits every linear layer
    /// and says the calibration loss before and after.
    func testRepairNeedsMoreCalibrationTokensThanItsWidestInput() throws {
        func prune(_ samples: String, _ out: String) -> [String] {
            ["prune", "width", "--hidden-size", "32", "--ffn-hidden-size", "64", "--calibration-data", data, "--calibration-samples", samples,
             "--seq-length", "32", "--threads", "2", "--model", model, "--output", root + "/" + out, "--repair"]
        }
        try expect(prune("2", "ra"), status: 1, ["--calibration-samples 2 × --seq-length 32 gives 64", "at least 66", "turn --repair off"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/ra/config.json"), "no student is written")
        try expect(prune("4", "rb"), status: 0, ["repair: 2 layers, 14 linear layers refit on 128 calibration tokens in "])
    }

    // MARK: teacher cache

    /// A 1-step distillation of the tiny model into itself, with ROOT/tc as its teacher cache.
    func distill(_ output: String, _ extra: [String]) -> [String] {
        ["distill", "--teacher", model, "--student", model, "--data-train", data, "--output", root + "/" + output, "--steps", "1",
         "--global-batch-size", "2", "--micro-batch-size", "2", "--seq-length", "32", "--warmup-steps", "1", "--threads", "2"] + extra
    }

    func testATimeBudgetIsADurationAndFitsTheSteps() throws {
        try expect(distill("tb-bad", ["--time-budget", "45x"]), status: 1, ["--time-budget", "expected a duration such as 45m, 1h30m or 2700 (seconds), not \"45x\""])
        try expect(distill("tb-cache", ["--time-budget", "5s", "--top-k-logits", "8", "--teacher-cache", root + "/tc-tb"]), status: 1,
                   ["--teacher-cache needs a fixed --steps", "remove one of them"])
        try expect(distill("tb-decay", ["--time-budget", "5s", "--lr-decay-steps", "3"]), status: 1, ["--lr-decay-steps cannot be set with --time-budget"])
        try expect(distill("tb", ["--time-budget", "4s"]), status: 0, ["steps fitted to a 4s time budget", "time budget 4s: ", "the learning rate decays over them", "time budget 4s: the run took"])
    }

    func testTopKOfTheWholeVocabularyWithACacheIsRefused() throws {
        try expect(distill("kd-all", ["--top-k-logits", "49152", "--teacher-cache", root + "/tc-all"]), status: 1,
                   ["--teacher-cache", "--top-k-logits 49152 keeps the whole 49152-token vocabulary", "choose fewer"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/kd-all/metrics.jsonl"))
        try expect(distill("kd-zero", ["--top-k-logits", "0"]), status: 1, ["--top-k-logits must be at least 1, not 0"])
        _ = FileManager.default.createFile(atPath: root + "/tc-file", contents: Data())
        try expect(distill("kd-file", ["--top-k-logits", "8", "--teacher-cache", root + "/tc-file"]), status: 1, ["--teacher-cache", "is a file"])
    }

    /// The rerun that once failed with a raw Cocoa error on `.ids.partial`: more steps extend the cache.
    func testARerunWithMoreStepsExtendsTheTeacherCache() throws {
        let cache = ["--top-k-logits", "8", "--teacher-cache", root + "/tc"]
        try expect(distill("kd1", cache), status: 0, ["teacher cache: train 2 sequences"])
        let r = try expect(distill("kd2", cache + ["--steps", "2"]), status: 0, ["teacher cache: train 4 sequences", "2 micro-batches read from it"])
        XCTAssertFalse(r.output.contains("Error Domain"), r.output)
        try expect(distill("kd3", cache), status: 0, ["teacher cache: reading train"])
        let partial = try FileManager.default.contentsOfDirectory(atPath: root + "/tc").filter { $0.contains("partial") }
        XCTAssertEqual(partial, [])
    }

    // MARK: models

    func testAConfigDeclaringFewerLayersThanTheWeightsIsRefused() throws {
        let dir = root + "/fewer"
        try FileManager.default.copyItem(atPath: model, toPath: dir)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
        config["num_hidden_layers"] = 1
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try expect(["generate", "--model", dir, "--prompt", "Hi"], status: 1, ["model.layers.1.", "num_hidden_layers"])
    }

    /// The tiny model's folder with config.json edited by `edit`, at ROOT/NAME.
    func editedModel(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = root + "/" + name
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: model, toPath: dir)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    func testUnsupportedFamiliesAreNamedWithTheFamiliesPareRuns() throws {
        for (type, why) in [("gemma2", "Gemma"), ("phi3", "qkv_proj"), ("mixtral", "mixture-of-experts"), ("qwen2_moe", "mixture-of-experts")] {
            let dir = try editedModel("family-\(type)") { $0["model_type"] = type }
            try expect(["generate", "--model", dir, "--prompt", "Hi"], status: 1, ["model_type", type, why, "llama, mistral, qwen2"])
        }
        // A Mistral window shorter than the sequence: Pare attends to every position, so it refuses.
        let windowed = try editedModel("mistral-window") { $0["model_type"] = "mistral"; $0["sliding_window"] = 64
            $0["architectures"] = ["MistralForCausalLM"]; $0["attention_bias"] = nil; $0["mlp_bias"] = nil }
        try expect(["eval", "--model", windowed, "--data", data, "--seq-length", "128"], status: 1, ["--seq-length", "exceeds the 64 positions", "sliding_window"])
        try expect(["eval", "--model", windowed, "--data", data, "--seq-length", "32"], status: 0, ["loss"])
    }

    /// Messages that once named the wrong thing: each says what is wrong with which file.
    func testModelMismatchesNameTheRealCause() throws {
        // q/k norm tensors and no model_type: a family Pare does not run, not a layer count.
        let m = try LlamaModel(config: BadInputTests.tinyConfig)
        m.initializeRandom(seed: 7)
        let qkDir = try editedModel("qk-norms") { $0["model_type"] = nil }
        let norm = [Float](repeating: 1, count: 16)
        try norm.withUnsafeBufferPointer { n in
            var entries = m.layout.entries.map { e in
                SafetensorsWriter.Entry(name: e.name, shape: e.shape, data: UnsafeBufferPointer(start: m.params.pointer + e.offset, count: e.count))
            }
            entries.append(.init(name: "model.layers.0.self_attn.q_norm.weight", shape: [16], data: n))
            try SafetensorsWriter.write(path: qkDir + "/model.safetensors", tensors: entries, dtype: .F32, metadata: ["format": "pt"])
        }
        let qk = try expect(["generate", "--model", qkDir, "--prompt", "Hi"], status: 1, ["q_norm", "per-head q/k norms", "model_type"])
        XCTAssertFalse(qk.output.contains("num_hidden_layers"), qk.output)
        // A tied model whose config lost tie_word_embeddings.
        let untied = try editedModel("no-tie") { $0["tie_word_embeddings"] = nil }
        try expect(["generate", "--model", untied, "--prompt", "Hi"], status: 1, ["no lm_head.weight", "has no \"tie_word_embeddings\"", "set \"tie_word_embeddings\": true"])
        // A tokenizer larger than the embedding: not a corrupt file.
        var small = BadInputTests.tinyConfig; small.vocabSize = 1000
        let sm = try LlamaModel(config: small)
        sm.initializeRandom(seed: 7)
        try HFCheckpoint.save(sm, tokenizer: try Tokenizer(path: model), to: root + "/small-vocab")
        let big = try expect(["generate", "--model", root + "/small-vocab", "--prompt", "Hi"], status: 1, ["49152 tokens", "1000 rows", "use the tokenizer that came with these weights"])
        XCTAssertFalse(big.output.contains("corrupt"), big.output)
        // --speed on a model with fewer than 160 positions: refused before the perplexity pass, by name.
        let short = try editedModel("short-context") { $0["max_position_embeddings"] = 100 }
        try expect(["eval", "--model", short, "--data", data, "--seq-length", "32", "--speed"], status: 1, ["--speed", "160 positions", "has 100"])
        // More new tokens than positions left: said before generating, and at the end.
        let r = try expect(["generate", "--model", model, "--prompt", "Hi", "--max-new-tokens", "600", "--ignore-eos"], status: 0,
                           ["--max-new-tokens 600 does not fit", "512 positions", "stopped at the last position"])
        XCTAssertTrue(r.stderr.contains("warning"), r.stderr)
    }

    /// `--chat` renders the model's own template; without one, or with one Pare cannot render,
    /// it is refused by name instead of falling back to ChatML.
    func testChatNeedsATemplatePareCanRender() throws {
        try expect(["generate", "--model", model, "--prompt", "Hi", "--chat", "--max-new-tokens", "2"], status: 0)
        func withTemplate(_ name: String, _ template: String?) throws -> String {
            let dir = root + "/" + name
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.copyItem(atPath: model, toPath: dir)
            let path = dir + "/tokenizer_config.json"
            var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            config["chat_template"] = template
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
            return dir
        }
        try expect(["generate", "--model", try withTemplate("no-template", nil), "--prompt", "Hi", "--chat"], status: 1,
                   ["--chat", "has no chat template", "without --chat"])
        try expect(["generate", "--model", try withTemplate("macro-template", "{% macro m() %}x{% endmacro %}{{ m() }}"), "--prompt", "Hi", "--chat"], status: 1,
                   ["--chat", "cannot render", "macro"])
        try expect(["generate", "--model", try withTemplate("strict-template", "{{ raise_exception('System role not supported') }}"), "--prompt", "Hi", "--chat"],
                   status: 1, ["refuses the conversation", "System role not supported"])
    }

    func testNonFiniteWeightsAreAnErrorNamingTheTensor() throws {
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        let m = try LlamaModel(config: BadInputTests.tinyConfig)
        m.initializeRandom(seed: 7)
        m.parameter("model.layers.1.mlp.down_proj.weight")![5] = .nan
        try HFCheckpoint.save(m, tokenizer: tok, to: root + "/nan")
        try expect(["generate", "--model", root + "/nan", "--prompt", "Hi"], status: 1, ["model.layers.1.mlp.down_proj.weight", "non-finite"])
        try expect(finetune("nanrun", ["--model": root + "/nan"]), status: 1, ["non-finite"])
    }

    /// Paths given to the wrong option or left empty are named by their option.
    func testMissingOrMisplacedPathsAreNamedByTheirOption() throws {
        try expect(["eval", "--model", model, "--data", ""], status: 1, ["--data is empty"])
        try expect(["eval", "--model", model, "--data", root + "/nodata"], status: 1, ["--data names", "nodata_text_document.idx", "pare data tokenize"])
        try expect(["prune", "depth", "--model", model, "--output", root + "/nd", "--num-layers", "1", "--calibration-data", root + "/nodata"],
                   status: 1, ["--calibration-data names", "nodata_text_document.idx"])
        try expect(["export", "gguf", "--model", model, "--output", root], status: 1, ["--output", "is a folder", "model.gguf"])
        try expect(["eval", "--model", model, "--data", data, "--seq-length", "16", "--max-windows", "1", "--json", "/proc/pare-x.json"], status: 1,
                   ["/proc/pare-x.json", "check the folder exists"])
        let r = try PareCLI.run(["pipeline", root, "--dry-run"])
        XCTAssertEqual(r.status, 1); XCTAssertTrue(r.output.contains("is a folder; give the pipeline's YAML config"), r.output)
    }

    func testAModelThatIsAFileOrMissingIsNamed() throws {
        try expect(["generate", "--model", root + "/nope", "--prompt", "Hi"], status: 1, [root + "/nope", "no such file"])
    }

    /// `convert` writes its folder whole: a folder holding another model (sharded, with an
    /// importance.json) is refused, or moved aside with --overwrite; a file or the input
    /// itself is named.
    func testConvertOntoAnotherModelIsRefusedOrMovedAside() throws {
        let target = root + "/conv"
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: model, toPath: target)
        try FileManager.default.moveItem(atPath: target + "/model.safetensors", toPath: target + "/model-00001-of-00001.safetensors")
        try #"{"weight_map": {}}"#.write(toFile: target + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: target + "/importance.json", contents: Data("{}".utf8))
        let tok = try Tokenizer(gguf: GGUFFile(path: try Assets.teacher))
        let source = try LlamaModel(config: BadInputTests.tinyConfig)
        source.initializeRandom(seed: 11)
        try HFCheckpoint.save(source, tokenizer: tok, to: root + "/conv-source")
        try expect(["convert", root + "/conv-source", target], status: 1, [target, "already holds another model", "--overwrite", "previous-N"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: target + "/model.safetensors.index.json"), "the refused convert touched the folder")
        try expect(["convert", root + "/conv-source", target, "--overwrite"], status: 0, ["moved what", "conv.previous-1"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target).filter { $0.contains("index") || $0.contains("importance") }, [])
        XCTAssertEqual(try HFCheckpoint.loadModel(target).contentHash, source.contentHash)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/conv.previous-1/importance.json"))
        _ = FileManager.default.createFile(atPath: root + "/conv-file", contents: Data())
        let onFile = try expect(["convert", model, root + "/conv-file"], status: 1, ["conv-file is a file", "give a folder"])
        XCTAssertFalse(onFile.output.contains("Error Domain"), onFile.output)
        try expect(["convert", model, model + "/"], status: 1, ["is the input folder"])
        try expect(["convert", model, ""], status: 1, ["the output is empty"])
        try expect(["convert", "", target], status: 1, ["the input is empty"])
        // eval --json onto a folder: the reason, not Foundation's dump.
        let json = try expect(["eval", "--model", model, "--data", data, "--seq-length", "16", "--max-windows", "1", "--json", root + "/"], status: 1, ["--json", "is a folder", "eval.json"])
        XCTAssertFalse(json.output.contains("Error Domain") || json.output.contains("NSCocoaErrorDomain"), json.output)
    }

    // MARK: data

    func testACorpusOfEmptyTextsIsRefusedAndWritesNothing() throws {
        try Array(repeating: TextSources.jsonLine(""), count: 5).joined(separator: "\n").write(toFile: root + "/empty.jsonl", atomically: true, encoding: .utf8)
        try expect(["data", "prepare", "--source", root + "/empty.jsonl", "--output", root + "/empty-data"], status: 1, ["no documents with text"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/empty-data/train.jsonl"))
        try expect(["data", "tokenize", "--input", root + "/empty.jsonl", "--tokenizer", model, "--output-prefix", root + "/empty-ds"], status: 1, ["no documents"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/empty-ds_text_document.bin"))
        XCTAssertEqual(leftovers(root), [])
    }

    func testAMalformedOrNonUTF8JSONLLineIsNamed() throws {
        var bytes = Data(TextSources.jsonLine("fine").utf8) + Data("\n".utf8)
        bytes += Data("{\"text\": \"caf".utf8) + Data([0xE9]) + Data("\"}\n".utf8)     // Latin-1 é
        try bytes.write(to: URL(fileURLWithPath: root + "/latin1.jsonl"))
        try expect(["data", "prepare", "--source", root + "/latin1.jsonl", "--output", root + "/l1"], status: 1, ["latin1.jsonl", "line 2", "not UTF-8"])
        try "\(TextSources.jsonLine("a"))\n{\"text\": \"cut off\n".write(toFile: root + "/cut.jsonl", atomically: true, encoding: .utf8)
        try expect(["data", "prepare", "--source", root + "/cut.jsonl", "--output", root + "/l2"], status: 1, ["cut.jsonl", "line 2", "not a JSON object", "cut off"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/l1/train.jsonl"))
    }

    /// Data tokenized for another tokenizer of the same size: its ids fit the vocabulary, so
    /// only the record beside the .idx tells. Two ids swapped make such a tokenizer.
    func testDataTokenizedForAnotherTokenizerIsRefused() throws {
        XCTAssertNotNil(try DatasetTokenizer.read(prefix: data + "_text_document"), "data tokenize records its tokenizer")
        // The same vocabulary read from the GGUF and from the folder saved from it: one hash, so
        // data tokenized with a teacher's GGUF trains its converted or pruned models.
        XCTAssertEqual(try Tokenizer(gguf: GGUFFile(path: try Assets.teacher)).contentHash, try Tokenizer(path: model).contentHash)
        let other = root + "/swapped"
        try? FileManager.default.removeItem(atPath: other)
        try FileManager.default.copyItem(atPath: model, toPath: other)
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: other + "/tokenizer.json"))) as? [String: Any])
        var m = json["model"] as! [String: Any]
        var vocab = m["vocab"] as! [String: Int]
        let a = vocab.first { $0.value == 1000 }!.key, b = vocab.first { $0.value == 1001 }!.key
        vocab[a] = 1001; vocab[b] = 1000
        m["vocab"] = vocab; json["model"] = m
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: other + "/tokenizer.json"))
        try expect(["data", "tokenize", "--input", root + "/data/val.jsonl", "--tokenizer", other, "--output-prefix", root + "/swapped-data"], status: 0)
        let expected = ["--data-train", root + "/swapped-data_text_document", "tokenized with \(other)'s tokenizer, not \(model)'s",
                        "both have 49152 tokens, but they differ", "pare data tokenize --tokenizer \(model)"]
        try expect(finetune("wrong-tok", ["--data-train": root + "/swapped-data"]), status: 1, expected)
        try expect(["eval", "--model", model, "--data", root + "/swapped-data", "--seq-length", "16"], status: 1, ["--data", "tokenized with"])
        try expect(["prune", "depth", "--model", model, "--output", root + "/wrong-cal", "--num-layers", "1", "--calibration-data", root + "/swapped-data",
                    "--seq-length", "16"], status: 1, ["--calibration-data", "tokenized with"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/wrong-tok"))
        // Data from before the record: a warning, and the run goes on.
        try FileManager.default.removeItem(atPath: root + "/swapped-data_text_document.tokenizer.json")
        try expect(finetune("old-data", ["--data-train": root + "/swapped-data"]), status: 0, ["does not record its tokenizer"])
    }

    func testABinWithAnotherDatasetsIdxIsRefused() throws {
        let mixed = root + "/mixed_text_document"
        try FileManager.default.copyItem(atPath: data + "_text_document.bin", toPath: mixed + ".bin")
        try FileManager.default.copyItem(atPath: small + "_text_document.idx", toPath: mixed + ".idx")
        try expect(["data", "inspect", root + "/mixed"], status: 1, ["do not belong together", "re-run pare data tokenize"])
    }

    func testStaleTokenizeTemporariesAreRemoved() throws {
        let stale = data + "_text_document.bin.tmp-999999"
        _ = FileManager.default.createFile(atPath: stale, contents: Data(count: 100))
        try expect(["data", "tokenize", "--input", root + "/data/train.jsonl", "--tokenizer", model, "--output-prefix", data], status: 0, ["removed"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
    }

    // MARK: runs own their folders

    func testARunFolderHoldingAnotherRunIsRefusedUnlessOverwrite() throws {
        try expect(finetune("own"), status: 0)
        let before = try String(contentsOfFile: root + "/own/metrics.jsonl", encoding: .utf8)
        try expect(finetune("own"), status: 1, ["holds another run", "--resume", "--overwrite"])
        XCTAssertEqual(try String(contentsOfFile: root + "/own/metrics.jsonl", encoding: .utf8), before, "the refused run touched the old one")
        try expect(finetune("own", flags: ["--overwrite"]), status: 0, ["moved the earlier run", "own.previous-1"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/own.previous-1/metrics.jsonl"))
        _ = FileManager.default.createFile(atPath: root + "/afile", contents: Data())
        try expect(finetune("afile"), status: 1, ["--output", "is a file"])
    }

    func testResumeOnOtherDataIsRefused() throws {
        try expect(finetune("data-run"), status: 0)
        try expect(finetune("data-run", ["--steps": "3", "--data-train": small], flags: ["--resume"]), status: 1, ["other data", "--data-train"])
    }

    /// A run stopped after a step but before its checkpoint (kill -9) redoes that step on
    /// resume; metrics.jsonl must still hold each step once, and stale checkpoint temporaries go.
    func testResumeLeavesEachStepOnceAndNoTemporaries() throws {
        let out = root + "/once"
        let settings = ["--steps": "4", "--checkpoint-interval": "2", "--save-top-k": "2"]
        try expect(finetune("once", settings), status: 0)
        // Back to the state of a kill after step 4 was logged but before its checkpoint landed.
        let fm = FileManager.default
        for c in try fm.contentsOfDirectory(atPath: out + "/checkpoints") where c.hasSuffix("4") { try fm.removeItem(atPath: out + "/checkpoints/" + c) }
        try? fm.removeItem(atPath: out + "/model")
        try fm.createDirectory(atPath: out + "/checkpoints/.tmp-step-4-999999", withIntermediateDirectories: true)
        // …and a metrics row cut mid-write (a full disk, a power cut).
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: out + "/metrics.jsonl"))
        h.seekToEndOfFile(); h.write(Data(#"{"lr":0.0001,"step":5,"tra"#.utf8)); try h.close()
        try expect(finetune("once", settings, flags: ["--resume"]), status: 0, ["resumed", "removed"])
        let rows = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let trainSteps = rows.filter { $0["train/loss"] != nil }.compactMap { $0["step"] as? Int }
        XCTAssertEqual(trainSteps, [1, 2, 3, 4], "each step once in metrics.jsonl")
        XCTAssertEqual(leftovers(out), [])
    }

    /// Killed before its first checkpoint: the resume starts over, and the steps the killed
    /// run logged are not left beside the redone ones (check_kill_resume found 1 2 1 2 3 …).
    func testResumeWithoutACheckpointStartsOverWithOneRowPerStep() throws {
        let out = root + "/nockpt"
        try expect(finetune("nockpt", ["--steps": "3", "--checkpoint-interval": "100"]), status: 0)
        try FileManager.default.removeItem(atPath: out + "/checkpoints")
        try? FileManager.default.removeItem(atPath: out + "/model")
        try expect(finetune("nockpt", ["--steps": "3", "--checkpoint-interval": "100"], flags: ["--resume"]), status: 0, ["no checkpoint", "starting from step 0"])
        let rows = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        XCTAssertEqual(rows.filter { $0["train/loss"] != nil }.compactMap { $0["step"] as? Int }, [1, 2, 3])
    }

    /// A second process on a run folder (a forgotten background job, a resume typed while the
    /// run still goes) is refused before it touches anything; the test process holds the claim.
    func testASecondProcessOnARunFolderIsRefused() throws {
        try expect(finetune("busy"), status: 0)
        let before = try String(contentsOfFile: root + "/busy/metrics.jsonl", encoding: .utf8)
        let claim = try RunLock(folder: root + "/busy")
        try expect(finetune("busy", flags: ["--resume"]), status: 1, ["PID \(getpid())", "is running in this folder", "busy"])
        try expect(finetune("busy", flags: ["--overwrite"]), status: 1, ["is running in this folder"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/busy.previous-1"), "the busy run was moved aside")
        XCTAssertEqual(try String(contentsOfFile: root + "/busy/metrics.jsonl", encoding: .utf8), before)
        claim.release()
        try expect(finetune("busy", flags: ["--resume"]), status: 0)
    }

    // MARK: pipeline YAML

    func pipeline(_ yaml: String, _ extra: [String] = []) throws -> PareCLI.Result {
        let path = root + "/p-\(abs(yaml.hashValue)).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return try PareCLI.run(["pipeline", path, "--dry-run"] + extra)
    }

    func expectPipeline(_ yaml: String, _ words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try pipeline(yaml)
        if ProcessInfo.processInfo.environment["PARE_SHOW_MESSAGES"] == "1" {
            print("CASE pipeline YAML \(yaml.split(separator: "\n").suffix(2).joined(separator: "⏎")) → exit \(r.status): \(r.output.split(separator: "\n").filter { $0.contains("error") }.joined(separator: " / ").replacingOccurrences(of: root, with: "$R"))")
        }
        XCTAssertEqual(r.status, 1, r.output, file: file, line: line)
        for w in words { XCTAssertTrue(r.output.contains(w), "missing \"\(w)\" in: \(r.output)", file: file, line: line) }
        XCTAssertFalse(r.output.contains("Fatal error"), r.output, file: file, line: line)
        for raw in BadInputTests.neverShown where r.output.contains(raw) { XCTFail("pare printed \"\(raw)\": \(r.output)", file: file, line: line) }
    }

    func testPipelineYAMLMistakesNameTheKeyAndLine() throws {
        let head = "run_dir: \(root)/run\nteacher: \(model)\nprune: {depth: {num_layers: 1}}\n"
        try expectPipeline(head + "distill:\n  steps: 3\n  steps: 4\n", ["distill.steps", "appears twice", "line 5", "line 6"])
        try expectPipeline("", ["empty"])
        try expectPipeline(head + "distill:\n  steps: \"two\"\n", ["distill.steps", "whole number", "two"])
        try expectPipeline(head + "distill:\n\tsteps: 3\n", ["line 5 is indented with a tab"])
        try expectPipeline(head + "distill:\n  stepz: 3\n", ["distill.stepz", "line 5", "did you mean steps"])
        let latin1 = root + "/latin1.yaml"
        try (Data("run_dir: x\n# caf".utf8) + Data([0xE9]) + Data("\n".utf8)).write(to: URL(fileURLWithPath: latin1))
        let r = try PareCLI.run(["pipeline", latin1, "--dry-run"])
        XCTAssertEqual(r.status, 1); XCTAssertTrue(r.output.contains("line 2 is not UTF-8"), r.output)
        let missing = try PareCLI.run(["pipeline", root + "/none.yaml", "--dry-run"])
        XCTAssertEqual(missing.status, 1); XCTAssertTrue(missing.output.contains("none.yaml not found"), missing.output)
        try expectPipeline(head + "distill: {steps: -5}\n", ["distill.steps", "positive"])
        // What a dry run can check without training: names and files the config gives.
        try expectPipeline(head + "eval: {tasks: [arc_easy, hellaswagg]}\n", ["eval.tasks", "no task named \"hellaswagg\"", "arc_challenge"])
        try expectPipeline(head.replacingOccurrences(of: "num_layers: 1}", with: "num_layers: 1, metric: \"task:wino\"}"), ["prune.depth.metric", "no task named \"wino\""])
        _ = FileManager.default.createFile(atPath: root + "/runfile", contents: Data())
        try expectPipeline(head.replacingOccurrences(of: "run_dir: \(root)/run", with: "run_dir: \(root)/runfile"), ["run_dir", "runfile is a file"])
        try expectPipeline(head.replacingOccurrences(of: "teacher: \(model)", with: "teacher: models/none.gguf"),
                           ["teacher: models/none.gguf not found", "resolved against the current folder"])
        try expectPipeline(head + "data: {source: \(root)/missing.jsonl}\n", ["data.source", "missing.jsonl not found"])
    }

    /// Editing a step's settings and rerunning re-runs that step, moving its old run aside
    /// (a pipeline user has no --output to change).
    func testAPipelineStepWhoseSettingsChangedIsRerun() throws {
        func yaml(distillSteps: Int) -> String {
            """
            run_dir: \(root)/pipe
            teacher: \(model)
            threads: 2
            data: {source: \(root)/corpus.jsonl, val_fraction: 0.1, test_fraction: 0.1}
            finetune: {steps: 1, global_batch_size: 2, micro_batch_size: 2, seq_length: 32}
            prune: {calibration_samples: 2, seq_length: 32, depth: {num_layers: 1}, width: {hidden_size: 32, ffn_hidden_size: 64}}
            distill: {steps: \(distillSteps), global_batch_size: 2, micro_batch_size: 2, seq_length: 32}
            eval: {seq_length: 32, max_windows: 2, speed: false, tasks: [arc_easy, lambada], limit: 3}
            """
        }
        let path = root + "/pipe.yaml"
        try yaml(distillSteps: 1).write(toFile: path, atomically: true, encoding: .utf8)
        let first = try PareCLI.run(["pipeline", path])
        XCTAssertEqual(first.status, 0, first.output)
        try yaml(distillSteps: 2).write(toFile: path, atomically: true, encoding: .utf8)
        let second = try PareCLI.run(["pipeline", path])
        XCTAssertEqual(second.status, 0, second.output)
        // Task accuracy reaches the report; models the edit did not touch reuse their scores.
        let report = try String(contentsOfFile: root + "/pipe/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| model | arc_easy | lambada | average |"), report)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/pipe/plots/task-accuracy.svg"))
        XCTAssertTrue(second.output.contains("| cached"), second.output)
        XCTAssertTrue(second.output.contains("settings or inputs changed"), second.output)
        XCTAssertTrue(second.output.contains("distill-depth.previous-1"), second.output)
        XCTAssertFalse(second.output.contains("new --output"), second.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/pipe/distill-depth/model/config.json"))
        XCTAssertEqual(leftovers(root + "/pipe"), [])
    }
}
