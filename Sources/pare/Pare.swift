import ArgumentParser
import PareCore
import PareModel
import Foundation

@main
struct Pare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pare",
        abstract: "Prune and distill Llama models on the CPU (the Minitron recipe).",
        discussion: ModelFamily.helpText,
        version: "0.1.0",
        subcommands: [PipelineCommand.self, Report.self, DataGroup.self, Finetune.self, Prune.self, Distill.self, Export.self, Convert.self, Generate.self, Eval.self, Bench.self])

    /// ArgumentParser's main, plus the data-parallel ending: MPI is finalised after success,
    /// and a failure on one rank stops the whole job.
    static func main() {
        LoadTimeVariables.adopt()
        OpenBLASKernel.warnIfSlow()
        do {
            var command = try parseAsRoot()
            try command.run()
            DataParallel.finish()
        } catch {
            // A Foundation file error that reached here unnamed: its reason, never its raw dump.
            let ns = error as NSError
            if !(error is ExitCode), ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
                exit(withError: fail(SystemErrorText.describe(error)))
            }
            if let e = error as? ExitCode, e.rawValue == 130 {   // interrupted on every rank, state saved
                DataParallel.finish()
                exit(withError: error)
            }
            if DataParallel.isParallel {
                let message = fullMessage(for: error)
                if !message.isEmpty { var err = StandardError(); print(message, to: &err) }
                let code = exitCode(for: error).rawValue
                DataParallel.abortJob(code: code == 0 ? 1 : code)
            }
            exit(withError: error)
        }
    }
}
