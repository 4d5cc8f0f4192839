import Foundation
import XCTest
import PareFormats

/// Pare's chat-template renderer against transformers' (scripts/chat_template_reference.py):
/// the templates of SmolLM2 and Qwen2.5 (from the bundled GGUFs), Llama 3.2, Mistral v0.3 and
/// Gemma 3, each over the same conversations, with and without the generation prompt, equal
/// character for character, and refused where the template refuses (roles that don't alternate).
final class ChatTemplateTests: XCTestCase {
    struct Case: Decodable {
        let template: String, conversation: String
        let messages: [[String: String]]
        let add_generation_prompt: Bool
        let bos_token: String?, eos_token: String?
        let extra: [String: String]
        let expected: String?, error: String?
    }
    struct Expected: Decodable { let cases: [Case] }

    func fixture(_ name: String, _ ext: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures/chat-templates"))
    }

    func testEveryTemplateRendersAsTransformersDoes() throws {
        let cases = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: try fixture("expected", "json"))).cases
        XCTAssertEqual(Set(cases.map(\.template)), ["gemma3", "llama3.2", "mistral-v0.3", "qwen2.5", "smollm2"])
        var templates: [String: JinjaTemplate] = [:]
        for c in cases {
            if templates[c.template] == nil { templates[c.template] = try JinjaTemplate(String(contentsOf: try fixture(c.template, "jinja"), encoding: .utf8)) }
            var context: [String: JinjaValue] = [
                "messages": .list(c.messages.map { m in .dict(JinjaDict([("role", .string(m["role"]!)), ("content", .string(m["content"]!))])) }),
                "add_generation_prompt": .bool(c.add_generation_prompt)]
            if let b = c.bos_token { context["bos_token"] = .string(b) }
            if let e = c.eos_token { context["eos_token"] = .string(e) }
            for (k, v) in c.extra { context[k] = .string(v) }
            let label = "\(c.template) \(c.conversation) generation=\(c.add_generation_prompt)"
            do {
                let got = try templates[c.template]!.render(context)
                XCTAssertEqual(got, c.expected, label)
                XCTAssertNil(c.error, "\(label): transformers refused it: \(c.error ?? "")")
            } catch let e as JinjaError {
                XCTAssertEqual(e.message, c.error, label)
                XCTAssertTrue(e.raisedByTemplate, label)
            }
        }
        print("chat templates: \(cases.count) renderings equal transformers' (\(cases.filter { $0.error != nil }.count) refused by their template)")
    }

    /// Llama 3's template writes today's date when none is given, as transformers does.
    func testStrftimeNowIsToday() throws {
        let t = try JinjaTemplate(#"{{ strftime_now("%d %b %Y") }}|{% if strftime_now is defined %}yes{% endif %}"#)
        let day = Date(timeIntervalSince1970: 1_721_952_000)   // 26 Jul 2024, 00:00 UTC
        let out = try t.render([:], now: day.addingTimeInterval(12 * 3600))
        XCTAssertEqual(out, "26 Jul 2024|yes")
    }

    /// Jinja's whitespace control and the constructs around it, beside the real templates.
    func testWhitespaceControlAndExpressions() throws {
        func render(_ s: String, _ ctx: [String: JinjaValue] = [:]) throws -> String { try JinjaTemplate(s).render(ctx) }
        XCTAssertEqual(try render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc", "trim_blocks and lstrip_blocks")
        XCTAssertEqual(try render("a  {{- 'b' -}}  c"), "abc")
        XCTAssertEqual(try render("{% for x in [1, 2, 3] if x != 2 %}{{ x }}{{ ',' if not loop.last }}{% endfor %}"), "1,3")
        XCTAssertEqual(try render("{% set ns = namespace(n=0) %}{% for x in 'ab' %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"), "2")
        XCTAssertEqual(try render("{% set n = 1 %}{% for x in [1] %}{% set n = 5 %}{% endfor %}{{ n }}"), "1", "set in a loop stays in it")
        XCTAssertEqual(try render("{{ {'b': [1, 2.5, none, true]} | tojson }}"), #"{"b": [1, 2.5, null, true]}"#)
        XCTAssertEqual(try render("{{ 'x' ~ 3 }}{{ [1, 'a'] }}{{ 7 // 2 }}{{ -7 % 3 }}{{ 'abc'[1:] }}{{ 'abc'[-1] }}"), "x3[1, 'a']32bcc")
        XCTAssertEqual(try render("{{ undefined_thing }}|{{ x is defined }}|{{ none }}"), "|False|None")
        XCTAssertThrowsError(try render("{% macro m() %}{% endmacro %}")) { XCTAssert("\($0)".contains("macro"), "\($0)") }
        XCTAssertThrowsError(try render("{{ 'a' | wordwrap }}")) { XCTAssert("\($0)".contains("wordwrap"), "\($0)") }
        XCTAssertThrowsError(try render("{{ 'a' + missing }}")) { XCTAssert("\($0)".contains("missing is undefined"), "\($0)") }
    }
}
