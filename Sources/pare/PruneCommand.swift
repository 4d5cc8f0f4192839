import ArgumentParser
import PareRecipes

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a smaller model: drop layers (depth) or slice neurons, heads, groups and channels (width).",
        subcommands: [PruneDepth.self, PruneWidth.self, PruneSearch.self])
}

/// Calibration flags both prune commands share (the keys of CalibrationSettings).
struct CalibrationOptions: ParsableArguments {
    static let d = CalibrationSettings()
    @Option(help: "Calibration data: an indexed-dataset prefix (pare data tokenize).") var calibrationData: String?
    @Option(parsing: .unconditional, help: "Calibration sequences; the paper uses 1024 (default \(d.calibrationSamples)).") var calibrationSamples: Int?
    @Option(parsing: .unconditional, help: "Tokens per calibration sequence (default \(d.seqLength)).") var seqLength: Int?
    @Option(parsing: .unconditional, help: "Sequences per forward pass (default \(d.calibrationBatch)).") var calibrationBatch: Int?
    @Option(help: "Seed for the calibration sample order (default \(d.seed)).") var seed: UInt64?
    @Option(help: "Matmul precision of the calibration passes: \(precisionHelp) (default \(d.precision)).") var precision: String?

    var settings: CalibrationSettings {
        var c = CalibrationSettings()
        c.calibrationData = calibrationData
        if let v = calibrationSamples { c.calibrationSamples = v }; if let v = seqLength { c.seqLength = v }
        if let v = calibrationBatch { c.calibrationBatch = v }; if let v = seed { c.seed = v }
        if let v = precision { c.precision = v }
        return c
    }
}

struct PruneDepth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "depth",
        abstract: "Drop whole layers: named ones, or the least important by a calibration metric.")
    static let d = DepthPruneJob()

    @Option(help: "The model: a .gguf file or a Hugging Face directory.") var model: String
    @Option(help: "Output Hugging Face directory.") var output: String
    @Option(help: "Layers to drop, 0-based as in model.layers.N: e.g. 15-29 or 3,5,7-9.") var dropLayers: String?
    @Option(parsing: .unconditional, help: "Layers to keep; the others are chosen by --metric.") var numLayers: Int?
    @Option(help: "cosine (1 − cos between a layer's input and output), loss (LM loss with it removed) or task:NAME (accuracy lost on a zero-shot task with it removed, e.g. task:winogrande, the paper's choice) (default \(d.metric)).") var metric: String?
    @Option(parsing: .unconditional, help: "With --metric task:NAME, documents of the task scored per candidate (default \(d.taskLimit)).") var taskLimit: Int?
    @Flag(help: "Drop one contiguous block of layers (the best block) instead of the individually least important.") var contiguous = false
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        var job = DepthPruneJob()
        job.model = model; job.output = output; job.dropLayers = dropLayers; job.numLayers = numLayers
        if let v = metric { job.metric = v }; job.contiguous = contiguous; if let v = taskLimit { job.taskLimit = v }
        job.calibration = calibration.settings
        try runJob { try job.run(progress: .console) }
    }
}

struct PruneWidth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "width",
        abstract: "Slice MLP neurons, attention heads, query groups and hidden channels by activation importance.")
    static let d = WidthPruneJob()

    @Option(help: "The model: a .gguf file or a Hugging Face directory.") var model: String
    @Option(help: "Output Hugging Face directory.") var output: String
    @Option(parsing: .unconditional, help: "Target MLP size (intermediate_size).") var ffnHiddenSize: Int?
    @Option(parsing: .unconditional, help: "Target hidden size (embedding channels).") var hiddenSize: Int?
    @Option(parsing: .unconditional, help: "Target number of query heads.") var numAttentionHeads: Int?
    @Option(parsing: .unconditional, help: "Target number of KV groups (num_key_value_heads).") var numQueryGroups: Int?
    @Option(parsing: .unconditional, help: "Hidden and MLP sizes must be multiples of this (default \(d.sizeMultiple)).") var sizeMultiple: Int?
    @Option(help: "The GGUF type the student must export as: f32, f16, q8_0 or q4_0 (quantized rows need multiples of 32), or none to check only transformers' rules (default \(d.exportType)).") var exportType: String?
    @Option(help: "Reuse scores from an importance.json instead of calibrating.") var scores: String?
    @Option(help: "Aggregation over the batch: l2, mean, variance (default \(d.aggregation)).") var aggregation: String?
    @Option(help: "MLP importance from down-input (silu(gate)·up) or gate (pre-activation, the paper's) (default \(d.mlpActivation)).") var mlpActivation: String?
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        var job = WidthPruneJob()
        job.model = model; job.output = output
        job.ffnHiddenSize = ffnHiddenSize; job.hiddenSize = hiddenSize; job.numAttentionHeads = numAttentionHeads; job.numQueryGroups = numQueryGroups
        if let v = sizeMultiple { job.sizeMultiple = v }; if let v = exportType { job.exportType = v }; job.scores = scores
        if let v = aggregation { job.aggregation = v }; if let v = mlpActivation { job.mlpActivation = v }
        job.calibration = calibration.settings
        try runJob { try job.run(progress: .console) }
    }
}

struct PruneSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find the student shape for a target: rank loadable shapes by a proxy, distill the best K briefly, keep the winner.",
        discussion: "Exactly one target: --target-params (e.g. 80M), --target-decode-tps or --target-prefill-tps (batch 1, measured on this machine). The short distillations share a teacher cache in OUTPUT/teacher-cache; rerunning continues a stopped search.")
    static let d = PruneSearchJob()

    @Option(help: "The teacher: a .gguf file or a Hugging Face directory.") var model: String
    @Option(help: "The search folder (candidates/, winner/, search.json).") var output: String
    @Option(help: "The most parameters a student may hold: 80M, 1.2B or a count.") var targetParams: String?
    @Option(parsing: .unconditional, help: "Batch-1 decode tokens/s a student must reach on this machine.") var targetDecodeTps: Double?
    @Option(parsing: .unconditional, help: "Tokens/s of a 128-token prefill a student must reach on this machine.") var targetPrefillTps: Double?
    @Option(parsing: .unconditional, help: "Candidates hold at least band × the parameter target (or run at most target / band tokens/s) (default \(d.band)).") var band: Double?
    @Option(parsing: .unconditional, help: "Shapes ranked by the proxy loss (default \(d.maxCandidates)).") var maxCandidates: Int?
    @Option(parsing: .unconditional, help: "K: the best shapes by the proxy, each distilled briefly (default \(d.topK)).") var topK: Int?
    @Option(parsing: .unconditional, help: "M: training tokens of each short distillation (default \(d.shortTokens)).") var shortTokens: Int?
    @Option(parsing: .unconditional, help: "Validation sequences of the proxy loss (default \(d.proxySamples)).") var proxySamples: Int?
    @Option(help: "How each depth's dropped block is chosen: cosine or loss (default \(d.depthMetric)).") var depthMetric: String?
    @Option(help: "Shapes must export as this GGUF type: f32, f16, q8_0, q4_0, or none (default \(d.exportType)).") var exportType: String?
    @Option(parsing: .unconditional, help: "Hidden and MLP sizes are multiples of this (default \(d.sizeMultiple)).") var sizeMultiple: Int?
    @Option(help: "Training data of the short distillations (an indexed-dataset prefix).") var dataTrain: String
    @Option(help: "Validation data: the proxy and the short distillations are ranked on it.") var dataVal: String
    @Option(parsing: .unconditional, help: "Short distillations: learning rate (default \(d.distill.train.lr)).") var lr: Double?
    @Option(parsing: .unconditional, help: "Short distillations: sequences per step (default \(d.distill.train.globalBatchSize)).") var globalBatchSize: Int?
    @Option(parsing: .unconditional, help: "Short distillations: sequences per forward pass (default \(d.distill.train.microBatchSize)).") var microBatchSize: Int?
    @Option(parsing: .unconditional, help: "Short distillations: the teacher's top K logits (default \(d.distill.topKLogits ?? 0)).") var topKLogits: Int?
    @OptionGroup var calibration: CalibrationOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        var job = PruneSearchJob()
        job.model = model; job.output = output
        job.targetParams = targetParams; job.targetDecodeTps = targetDecodeTps; job.targetPrefillTps = targetPrefillTps
        if let v = band { job.band = v }; if let v = maxCandidates { job.maxCandidates = v }; if let v = topK { job.topK = v }
        if let v = shortTokens { job.shortTokens = v }; if let v = proxySamples { job.proxySamples = v }; if let v = depthMetric { job.depthMetric = v }
        if let v = exportType { job.exportType = v }; if let v = sizeMultiple { job.sizeMultiple = v }
        job.calibration = calibration.settings
        if job.calibration.calibrationData == nil { job.calibration.calibrationData = dataTrain }
        job.distill.train.dataTrain = dataTrain; job.distill.train.dataVal = dataVal
        job.distill.train.seqLength = job.calibration.seqLength
        if let v = lr { job.distill.train.lr = v; job.distill.train.minLr = v / 10 }
        if let v = globalBatchSize { job.distill.train.globalBatchSize = v }; if let v = microBatchSize { job.distill.train.microBatchSize = v }
        if let v = topKLogits { job.distill.topKLogits = v }
        try runJob { try job.run(progress: .console) }
    }
}
