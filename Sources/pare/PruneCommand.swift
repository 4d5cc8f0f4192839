import ArgumentParser
import PareRecipes

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a smaller model: drop layers (depth) or slice neurons, heads, groups and channels (width).",
        subcommands: [PruneDepth.self, PruneWidth.self])
}

/// Calibration flags both prune commands share (the keys of CalibrationSettings).
struct CalibrationOptions: ParsableArguments {
    static let d = CalibrationSettings()
    @Option(help: "Calibration data: an indexed-dataset prefix (pare data tokenize).") var calibrationData: String?
    @Option(parsing: .unconditional, help: "Calibration sequences; the paper uses 1024 (default \(d.calibrationSamples)).") var calibrationSamples: Int?
    @Option(parsing: .unconditional, help: "Tokens per calibration sequence (default \(d.seqLength)).") var seqLength: Int?
    @Option(parsing: .unconditional, help: "Sequences per forward pass (default \(d.calibrationBatch)).") var calibrationBatch: Int?
    @Option(help: "Seed for the calibration sample order (default \(d.seed)).") var seed: UInt64?

    var settings: CalibrationSettings {
        var c = CalibrationSettings()
        c.calibrationData = calibrationData
        if let v = calibrationSamples { c.calibrationSamples = v }; if let v = seqLength { c.seqLength = v }
        if let v = calibrationBatch { c.calibrationBatch = v }; if let v = seed { c.seed = v }
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
