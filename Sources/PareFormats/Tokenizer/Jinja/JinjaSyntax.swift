/// A parsed template: statements and the expressions inside them.
indirect enum JinjaNode {
    case text(String)
    case output(JinjaExpr)
    case conditional(branches: [(JinjaExpr, [JinjaNode])], otherwise: [JinjaNode])
    case loop(targets: [String], iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode])
    case assign(name: String, attribute: String?, value: JinjaExpr)
    case breakLoop, continueLoop
}

indirect enum JinjaExpr {
    case literal(JinjaValue)
    case name(String)
    case list([JinjaExpr])
    case dict([(JinjaExpr, JinjaExpr)])
    case attribute(JinjaExpr, String)
    case index(JinjaExpr, JinjaExpr)
    case slice(JinjaExpr, JinjaExpr?, JinjaExpr?, JinjaExpr?)
    case call(JinjaExpr, Arguments)
    case filter(JinjaExpr, String, Arguments)
    case test(JinjaExpr, String, Arguments, negated: Bool)
    case not(JinjaExpr)
    case negate(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr)
    case choice(JinjaExpr, condition: JinjaExpr, otherwise: JinjaExpr?)

    struct Arguments { var positional: [JinjaExpr] = []; var named: [(String, JinjaExpr)] = [] }
}
