import ArgumentParser
import Foundation
import PareCore
import PareRecipes
import PareTrain
import Synchronization

/// A job's settings on the command line: every flag ArgumentParser does not know itself is
/// read against the job's settings table (`JobSettings`), which also writes the help.
struct SettingArguments: ParsableArguments {
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .hidden)) var arguments: [String] = []

    /// The job the flags describe; an unknown flag or a bad value exits with a message naming it.
    func job<J: JobSettings>(_ type: J.Type) throws -> J {
        do { return try J(arguments: arguments) } catch { throw fail(RecipeError.message(error, naming: SettingName.flag)) }
    }
}

/// A command's help: what it does, then its settings as the table lists them.
func settingsHelp<J: JobSettings>(_ discussion: String, _ type: J.Type) -> String {
    (discussion.isEmpty ? "" : discussion + "\n\n") + J.helpText() + "\n\nThreads: --threads N (default: all cores, or PARE_THREADS)."
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
