import ArgumentParser
import PareRecipes

struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a (pruned) student to match a teacher's output distribution.",
        discussion: "The teacher runs forward only in the same process. Logs kd_loss and lm_loss (train and validation), writes checkpoints/, tensorboard/, metrics.jsonl and OUTPUT/model.")
    static let d = DistillJob()

    @Option(help: "Teacher: a .gguf file or a Hugging Face directory.") var teacher: String
    @Option(help: "Student: a .gguf file or a Hugging Face directory (e.g. from pare prune).") var student: String
    @Option(help: "forward-kl, reverse-kl, symmetric-kl or jsd (default \(d.loss)).") var loss: String?
    @Option(parsing: .unconditional, help: "Softmax temperature for both models (default \(d.temperature)).") var temperature: Float?
    @Option(parsing: .unconditional, help: "β of the generalised JSD, 0 < β < 1 (default \(d.jsdBeta)).") var jsdBeta: Float?
    @Option(parsing: .unconditional, help: "Weight of the KD loss; 1 − it weights cross-entropy on the labels; 1 = KD only, 0 = plain training (default \(d.kdRatio)).") var kdRatio: Float?
    @Option(parsing: .unconditional, help: "Distil against the teacher's K most likely tokens only (its distribution truncated and renormalised); forward-kl and jsd.") var topKLogits: Int?
    @Option(help: "A folder for the teacher's top-k logits (needs --top-k-logits): the first run with this teacher, data and batch layout writes them, later students read them instead of running the teacher.") var teacherCache: String?
    @Option(help: "Also match hidden states at mapped layers: cosine or mse (after the norm; through a learned projection when hidden sizes differ; weighted by L_logits / L_is).") var intermediateLoss: String?
    @Option(help: "Layer pairs for --intermediate-loss, STUDENT:TEACHER, 0-based, comma-separated (default: last:last).") var layerMap: String?
    @OptionGroup var training: TrainingOptions
    @OptionGroup var threads: ThreadOptions

    func run() throws {
        try threads.apply()
        let comm = try DataParallel.communicator()   // first: an MPI misconfiguration fails before any work
        installInterruptHandler()
        var job = DistillJob()
        job.teacher = teacher; job.student = student
        if let v = loss { job.loss = v }; if let v = temperature { job.temperature = v }
        if let v = jsdBeta { job.jsdBeta = v }; if let v = kdRatio { job.kdRatio = v }
        job.topKLogits = topKLogits; job.intermediateLoss = intermediateLoss; job.layerMap = layerMap; job.teacherCache = teacherCache
        job.train = training.settings
        try runJob { try job.run(progress: .console, communicator: comm) }
    }
}
