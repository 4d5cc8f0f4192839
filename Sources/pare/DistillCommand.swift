import ArgumentParser
import Foundation
import PareCore
import PareDistill
import PareFormats
import PareModel
import PareTrain

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a (pruned) student to match a teacher's output distribution.",
        discussion: "The teacher runs forward only in the same process. Logs kd_loss and lm_loss (train and validation), writes checkpoints/, tensorboard/, metrics.jsonl and OUTPUT/model.")

    @Option(help: "Teacher: a .gguf file or a Hugging Face directory.") var teacher: String
    @Option(help: "Student: a .gguf file or a Hugging Face directory (e.g. from pare prune).") var student: String
    @Option(help: "forward-kl (default), reverse-kl, symmetric-kl or jsd.") var loss = "forward-kl"
    @Option(help: "Softmax temperature for both models.") var temperature: Float = 1
    @Option(help: "β of the generalised JSD (0 < β < 1).") var jsdBeta: Float = 0.5
    @Option(help: "Weight of the KD loss; 1 − it weights cross-entropy on the labels (1 = KD only, 0 = plain training).") var kdRatio: Float = 1
    @Option(help: "Distil against the teacher's K most likely tokens only (its distribution truncated and renormalised); forward-kl and jsd.") var topKLogits: Int?
    @Option(help: "Also match hidden states at mapped layers: cosine or mse (after the norm; through a learned projection when hidden sizes differ; weighted by L_logits / L_is).") var intermediateLoss: String?
    @Option(help: "Layer pairs for --intermediate-loss, STUDENT:TEACHER, 0-based, comma-separated (default: last:last).") var layerMap: String?
    @OptionGroup var training: TrainingOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        threads.apply()
        let comm = try DataParallel.communicator()   // first: an MPI misconfiguration fails before any work
        installInterruptHandler()
        guard let kind = KDLoss(rawValue: loss) else { throw fail("--loss must be forward-kl, reverse-kl, symmetric-kl or jsd") }
        let config = try training.trainerConfig()
        let t: PretrainedModel, s: PretrainedModel
        do { t = try PretrainedModel.load(teacher); s = try PretrainedModel.load(student) } catch let e as FormatError { throw fail("\(e)") }
        // Same tokenizer: the common vocabulary must spell the same tokens.
        let common = min(t.tokenizer.vocabularySize, s.tokenizer.vocabularySize)
        guard t.tokenizer.model.tokens.prefix(common) == s.tokenizer.model.tokens.prefix(common) else {
            throw fail("the teacher and student tokenizers differ; distillation needs a shared tokenizer")
        }
        let distiller: Distiller
        var inter: IntermediateLoss? = nil
        do {
            if layerMap != nil && intermediateLoss == nil { throw DistillError.invalid("--layer-map needs --intermediate-loss cosine|mse") }
            if let name = intermediateLoss {
                guard let k = IntermediateLossKind(rawValue: name) else { throw DistillError.invalid("--intermediate-loss must be cosine or mse") }
                let map = try layerMap.map(IntermediateLoss.parseLayerMap)
                    ?? [(s.model.config.numHiddenLayers - 1, t.model.config.numHiddenLayers - 1)]
                inter = try IntermediateLoss(kind: k, layerMap: map, student: s.model.config, teacher: t.model.config,
                                             rows: config.microBatchSize * config.seqLength, seed: config.seed)
            }
            distiller = try Distiller(teacher: t.model, student: s.model,
                                      settings: KDSettings(loss: kind, temperature: temperature, jsdBeta: jsdBeta, topK: topKLogits),
                                      kdRatio: kdRatio, microBatch: config.microBatchSize, seqLength: config.seqLength, intermediate: inter)
        } catch let e as DistillError { throw fail("\(e)") }
        let train = try training.stream(training.dataTrain, vocabulary: s.model.config.vocabSize)
        let val = try training.dataVal.map { try training.stream($0, vocabulary: s.model.config.vocabSize) }
        let log = try training.openLog(comm, config)
        if let note = distiller.vocabularyNote { log.say("note: \(note)") }
        log.say("distill \(teacher) (\(t.model.parameterCount) parameters) → \(student) (\(s.model.parameterCount)); \(kind.rawValue), τ \(temperature), kd-ratio \(kdRatio); \(config.steps) steps × \(config.globalBatchSize) × \(config.seqLength) tokens; \(Parallel.threads) threads")
        if let inter {
            let pairs = inter.layerMap.map { "\($0.student):\($0.teacher)" }.joined(separator: ",")
            log.say("intermediate-state loss: \(inter.kind.rawValue) at student:teacher layers \(pairs)" + (inter.projection.map { p in ", through a learned \(p.shape[0])×\(p.shape[1]) projection" } ?? ""))
        }
        if let k = topKLogits { log.say("KD against the teacher's top \(k) tokens (renormalised)") }
        let trainer = try Trainer(model: s.model, tokenizer: s.tokenizer, config: config, train: train, val: val,
                                  output: training.output, log: log, microStep: distiller.microStep())
        if let p = inter?.projection { trainer.auxiliary = [p] }
        trainer.communicator = comm
        if let val { trainer.validationExtras = { [("kd_loss", try distiller.validationKD(val, batches: config.valBatches, microBatch: config.microBatchSize, communicator: comm))] } }
        let t0 = ProcessInfoLite.now()
        let final = try training.run(trainer)
        log.say(String(format: "done in %@; final student: %@", formatDuration(ProcessInfoLite.now() - t0), final))
    }
}
