import ArgumentParser
import Foundation
import PareCore
import PareRecipes
import PareTrain
import Synchronization

/// A job command's flags: `--threads`, and every other flag read against the job's settings
/// table (`JobSettings`), which also writes the command's help (`jobConfiguration`).
struct JobOptions: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .hidden)) var arguments: [String] = []
    @OptionGroup var threads: ThreadOptions

    /// Reads the job from the flags (an unknown flag or a bad value exits naming it) and runs it.
    func run<J: JobSettings, R>(_ type: J.Type, _ body: (J) throws -> R) throws {
        try threads.apply()
        let job: J
        do { job = try J(arguments: arguments) } catch { throw fail(RecipeError.message(error, naming: SettingName.flag)) }
        try runJob { _ = try body(job) }
    }

    /// The same for a training job: data parallel under mpirun, stoppable with Ctrl-C.
    func runTraining<J: JobSettings, R>(_ type: J.Type, _ body: (J, PareRecipes.Progress, Communicator) throws -> R) throws {
        try run(J.self) { job in
            let comm = try DataParallel.communicator()   // before any work: an MPI misconfiguration fails first
            _ = try body(job, interruptibleConsole(), comm)
        }
    }
}

/// A job command's configuration: its help is the discussion, then the job's settings as the
/// table lists them (`--threads`, an option group, is listed by ArgumentParser under OPTIONS).
func jobConfiguration<J: JobSettings>(_ type: J.Type, abstract: String, usage: String, discussion: String = "") -> CommandConfiguration {
    jobConfiguration(nil, type, abstract: abstract, usage: usage, discussion: discussion)
}

func jobConfiguration<J: JobSettings>(_ name: String?, _ type: J.Type, abstract: String, usage: String, discussion: String = "") -> CommandConfiguration {
    CommandConfiguration(commandName: name, abstract: abstract, usage: usage,
                         discussion: (discussion.isEmpty ? "" : discussion + "\n\n") + J.helpText())
}

/// Runs a job's body; its errors become CLI exits whose messages name flags. A training
/// interruption (checkpoint saved) exits 130 like Ctrl-C, which also tells an MPI job that
/// every rank stopped on purpose, together.
@discardableResult
func runJob<T>(_ body: () throws -> T) throws -> T {
    do { return try body() }
    catch let e as ExitCode { throw e }
    catch {
        let code = fail(RecipeError.message(error, naming: SettingName.flag))
        if case TrainingError.interrupted = error { throw ExitCode(130) }
        throw code
    }
}

/// Set by the signal handlers below, read by training jobs through `Progress.shouldStop`.
let interruptRequested = Atomic<Bool>(false)

/// The console, stoppable: Ctrl-C (SIGINT) saves a checkpoint after the current step and
/// stops; a second one quits at once. SIGUSR1 does the same once: mpirun forwards it to every
/// rank (it does not forward SIGINT, on which it kills the job), so `kill -USR1 <mpirun pid>`
/// stops an MPI job cleanly.
func interruptibleConsole() -> PareRecipes.Progress {
    signal(SIGINT) { _ in
        if interruptRequested.exchange(true, ordering: .relaxed) { _exit(130) }
        let msg = "\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit now)\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
    }
    signal(SIGUSR1) { _ in
        interruptRequested.store(true, ordering: .relaxed)
        let msg = "\nSIGUSR1: saving a checkpoint after this step, then stopping\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
    }
    return PareRecipes.Progress.console.stopping { interruptRequested.load(ordering: .relaxed) }
}
