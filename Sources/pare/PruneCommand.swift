import ArgumentParser
import PareRecipes

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a smaller model: drop layers (depth) or slice neurons, heads, groups and channels (width).",
        subcommands: [PruneDepth.self, PruneWidth.self, PruneSearch.self])
}

struct PruneDepth: ParsableCommand {
    static let configuration = jobConfiguration("depth", DepthPruneJob.self, abstract: "Drop whole layers: named ones, or the least important by a calibration metric.",
                                                usage: "pare prune depth --model <path> --output <dir> (--drop-layers <list> | --num-layers <n>) [<setting> ...]")
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(DepthPruneJob.self) { try $0.run(progress: .console) } }
}

struct PruneWidth: ParsableCommand {
    static let configuration = jobConfiguration("width", WidthPruneJob.self, abstract: "Slice MLP neurons, attention heads, query groups and hidden channels by activation importance.",
                                                usage: "pare prune width --model <path> --output <dir> [--ffn-hidden-size <n>] [--hidden-size <n>] [--num-attention-heads <n>] [--num-query-groups <n>] [<setting> ...]")
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(WidthPruneJob.self) { try $0.run(progress: .console) } }
}

struct PruneSearch: ParsableCommand {
    static let configuration = jobConfiguration(
        "search", PruneSearchJob.self, abstract: "Find the student shape for a target: rank loadable shapes by a proxy, distill the best K briefly, keep the winner.",
        usage: "pare prune search --model <path> --output <dir> (--target-params <count> | --target-decode-tps <x> | --target-prefill-tps <x>) --data-train <prefix> --data-val <prefix> [<setting> ...]",
        discussion: "Exactly one target: --target-params (e.g. 80M), --target-decode-tps or --target-prefill-tps (batch 1, measured on this machine). The short distillations share a teacher cache in OUTPUT/teacher-cache; Ctrl-C stops after a checkpoint and rerunning continues a stopped search.")
    @OptionGroup var options: JobOptions
    // Its short distillations stop after a checkpoint on Ctrl-C; rerunning continues.
    func run() throws { try options.run(PruneSearchJob.self) { try $0.run(progress: interruptibleConsole()) } }
}
