import Foundation

/// Fitting a training run to a wall-time budget (`time_budget`): the run times its first
/// steps, then fixes its step count so that steps, validations and the rest fill the budget,
/// and decays the learning rate over exactly those steps. Every CPU then spends the time it
/// was given, whatever its speed, and the schedule still ends at `min_lr`.
///
/// The count is fixed once, after the probe (`probeDone`), and saved with every checkpoint; a
/// resumed run keeps it (on another machine too) rather than measuring again.
public enum TimeBudget {
    /// Steps taken before the count is fixed, at the least. The first step carries one-off
    /// costs (allocation, page faults) and is not timed; the mean of the next ones is used.
    /// With the default warm-up of 2 steps, two probe steps run before the cosine decay starts;
    /// later probe steps run at its start, within 1e-4 of the peak rate for any count over 100.
    public static let probeSteps = 2

    /// Whether the probe is long enough: `timed` steps after the first, taking `seconds` in
    /// all. One step's time is noisy when steps are short, so the probe runs on until it has
    /// taken 1% of the budget (or 50 steps).
    public static func probeDone(timed: Int, seconds: Double, budget: Double) -> Bool {
        timed >= probeSteps - 1 && (seconds >= 0.01 * budget || timed >= 50)
    }

    /// `steps` of a run whose count is not fixed yet (large enough never to be reached).
    public static let undecided = 1 << 40

    /// The step count that fills the budget: `done` steps taken in `elapsed` seconds (from
    /// the run's start, validation at step 0 included), each further step `stepSeconds`, a
    /// validation of `validationSeconds` every `valInterval` steps (0: only the final one).
    /// At least `done`: a budget already spent ends the run at once.
    public static func steps(budget: Double, elapsed: Double, done: Int, stepSeconds: Double,
                             validationSeconds: Double, valInterval: Int) -> Int {
        let perStep = stepSeconds + (valInterval > 0 ? validationSeconds / Double(valInterval) : 0)
        let remaining = budget - elapsed - validationSeconds   // the final validation
        guard perStep > 0, remaining > 0 else { return done }
        return done + Int((remaining / perStep).rounded(.down))
    }

    /// "45m", "1h30m", "90s", "1h", "2700" (seconds) → seconds; nil for anything else.
    public static func parse(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        if let plain = Double(s) { return plain.isFinite && plain > 0 ? plain : nil }
        var total = 0.0, number = "", units: Set<Character> = []
        for ch in s {
            if ch.isNumber || ch == "." { number.append(ch); continue }
            let scale: Double
            switch ch { case "h": scale = 3600; case "m": scale = 60; case "s": scale = 1; default: return nil }
            guard let v = Double(number), !units.contains(ch) else { return nil }
            total += v * scale; number = ""; units.insert(ch)
        }
        guard number.isEmpty, !units.isEmpty, total > 0, total.isFinite else { return nil }
        return total
    }
}
