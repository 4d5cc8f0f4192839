import ArgumentParser
import PareCore
import PareRecipes

struct PipelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "Run the whole recipe from a YAML config: data, teacher fine-tune, depth and width pruning, distillation, evaluation, report.",
        discussion: """
        Each step is skipped when its outputs exist and its inputs and settings are unchanged (a hash recorded in \
        RUN_DIR/.pipeline/), so an interrupted pipeline resumes where it stopped; training steps also resume from \
        their last checkpoint. A section takes the keys of its command (finetune: those of pare finetune, \
        snake_cased); see configs/smollm2-wiki.yaml.
        """)

    @Argument(help: "The pipeline config (YAML).") var config: String
    @Flag(help: "Print the steps and whether each would run, then stop.") var dryRun = false

    func run() throws {
        if DataParallel.launcherSize > 1 {
            throw fail("run the pipeline as one process; under mpirun, run its training steps (pare finetune, pare distill) one by one")
        }
        let pipeline = try runJob { try Pipeline(try PipelineConfig.load(config)) }
        Parallel.configure(threads: try checkedThreads(pipeline.config.threads, name: "threads"))
        let precision = pipeline.config.precision ?? "fp32"
        print("pare pipeline: \(Parallel.threads) threads, precision \(precision)"
              + (precision == "bf16" ? " (bf16 matmuls, f32 accumulation and master weights)" : GEMM.bf16Unavailability.map { " (bf16 unavailable: \($0))" } ?? ""))
        let progress = interruptibleConsole()
        try runJob { try pipeline.run(progress: progress, dryRun: dryRun) }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write RUN_DIR/report.md: the comparison table and SVG plots of a pipeline run.")

    @Argument(help: "A pipeline run folder (run_dir of the config).") var runDir: String

    func run() throws { try runJob { try ReportJob(runDir: runDir).run(progress: .console) } }
}
