//! Grammars that constrain what the model may write, as llama.cpp's GBNF.
//!
//! A [`Grammar`] is built as a small tree of [`Expr`]s (literals, character
//! classes, sequences, alternatives, repetitions and references to named
//! rules) and rendered to GBNF text with [`Grammar::to_gbnf`] for
//! `LlamaSampler::grammar`. Building a tree rather than text keeps escaping
//! in one place and lets tests generate the strings a grammar accepts.
//!
//! [`schema`] turns a JSON Schema into one; the JSON primitives it needs are
//! named rules defined here ([`Primitive`]). Every grammar writes compact JSON:
//! no whitespace outside strings, so the text ends exactly where the value does.

#[cfg(test)]
mod accepted;
pub mod schema;

use std::fmt::Write as _;

/// One piece of a grammar rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Exactly this text.
    Literal(String),
    /// One character of a class.
    Chars(CharClass),
    /// Whatever the named rule matches.
    Rule(&'static str),
    /// Each part, one after the other.
    Seq(Vec<Expr>),
    /// Any one of the parts.
    Alt(Vec<Expr>),
    /// The part repeated `min` to `max` times (`None`: no upper bound).
    Repeat {
        /// What repeats.
        expr: Box<Expr>,
        /// Fewest repetitions.
        min: u32,
        /// Most repetitions, if bounded.
        max: Option<u32>,
    },
}

/// A set of characters: inclusive ranges, or everything outside them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharClass {
    /// Everything except the ranges.
    pub negated: bool,
    /// Inclusive ranges.
    pub ranges: Vec<(char, char)>,
}

impl CharClass {
    /// The characters in `ranges`.
    pub fn of(ranges: &[(char, char)]) -> Self {
        Self {
            negated: false,
            ranges: ranges.to_vec(),
        }
    }

    /// Every character outside `ranges`.
    pub fn except(ranges: &[(char, char)]) -> Self {
        Self {
            negated: true,
            ranges: ranges.to_vec(),
        }
    }

    /// Whether `c` is in the class.
    #[cfg(test)]
    pub fn contains(&self, c: char) -> bool {
        let listed = self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
        listed != self.negated
    }
}

impl Expr {
    /// Exactly `text`.
    pub fn literal(text: impl Into<String>) -> Self {
        Expr::Literal(text.into())
    }

    /// `self` or nothing.
    pub fn optional(self) -> Self {
        self.repeat(0, Some(1))
    }

    /// `self` repeated `min` to `max` times.
    pub fn repeat(self, min: u32, max: Option<u32>) -> Self {
        Expr::Repeat {
            expr: Box::new(self),
            min,
            max,
        }
    }

    /// The parts in order; a single part stands for itself.
    pub fn seq(mut parts: Vec<Expr>) -> Self {
        if parts.len() == 1 {
            return parts.remove(0);
        }
        Expr::Seq(parts)
    }

    /// Any one of the parts; a single part stands for itself.
    pub fn alt(mut parts: Vec<Expr>) -> Self {
        if parts.len() == 1 {
            return parts.remove(0);
        }
        Expr::Alt(parts)
    }
}

/// The JSON building blocks, each a named rule defined once per grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Primitive {
    /// A JSON string.
    String,
    /// One character inside a JSON string (escapes included).
    StringChar,
    /// An integer of at most 16 digits (exact in an `i64` and an `f64`).
    Integer,
    /// An integer that is zero or more.
    NonNegativeInteger,
    /// A number: an integer part, then optionally a fraction (no exponent).
    Number,
    /// A number that is zero or more.
    NonNegativeNumber,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// Any JSON value.
    Value,
    /// Any JSON object.
    Object,
    /// Any JSON array.
    Array,
}

/// Most digits an integer (or a fraction) may have: 16 keep every integer
/// exact in an `f64` and inside an `i64`.
const MAX_DIGITS: u32 = 16;

impl Primitive {
    /// The rule's name in the GBNF text.
    pub fn name(self) -> &'static str {
        match self {
            Primitive::String => "string",
            Primitive::StringChar => "char",
            Primitive::Integer => "integer",
            Primitive::NonNegativeInteger => "nonneg-integer",
            Primitive::Number => "number",
            Primitive::NonNegativeNumber => "nonneg-number",
            Primitive::Boolean => "boolean",
            Primitive::Null => "null",
            Primitive::Value => "value",
            Primitive::Object => "object",
            Primitive::Array => "array",
        }
    }

    /// What the rule matches, and the primitives that refers to.
    fn definition(self) -> (Expr, Vec<Primitive>) {
        let digits =
            |min: u32, max: u32| Expr::Chars(CharClass::of(&[('0', '9')])).repeat(min, Some(max));
        let positive = || {
            Expr::seq(vec![
                Expr::Chars(CharClass::of(&[('1', '9')])),
                digits(0, MAX_DIGITS - 1),
            ])
        };
        let unsigned_integer = Expr::alt(vec![Expr::literal("0"), positive()]);
        let minus = || Expr::literal("-").optional();
        let fraction = || Expr::seq(vec![Expr::literal("."), digits(1, MAX_DIGITS)]).optional();
        let rule = |p: Primitive| Expr::Rule(p.name());
        match self {
            Primitive::String => (
                Expr::seq(vec![
                    Expr::literal("\""),
                    rule(Primitive::StringChar).repeat(0, None),
                    Expr::literal("\""),
                ]),
                vec![Primitive::StringChar],
            ),
            Primitive::StringChar => {
                let hex = || Expr::Chars(CharClass::of(&[('0', '9'), ('a', 'f'), ('A', 'F')]));
                let escape = Expr::seq(vec![
                    Expr::literal("\\"),
                    Expr::alt(vec![
                        Expr::Chars(CharClass::of(&[
                            ('"', '"'),
                            ('\\', '\\'),
                            ('/', '/'),
                            ('b', 'b'),
                            ('f', 'f'),
                            ('n', 'n'),
                            ('r', 'r'),
                            ('t', 't'),
                        ])),
                        Expr::seq(vec![Expr::literal("u"), hex(), hex(), hex(), hex()]),
                    ]),
                ]);
                let plain = Expr::Chars(CharClass::except(&[
                    ('"', '"'),
                    ('\\', '\\'),
                    ('\u{7f}', '\u{7f}'),
                    ('\u{0}', '\u{1f}'),
                ]));
                (Expr::alt(vec![plain, escape]), Vec::new())
            }
            // No "-0": JSON parsers read it as a float.
            Primitive::Integer => (
                Expr::alt(vec![
                    Expr::literal("0"),
                    Expr::seq(vec![minus(), positive()]),
                ]),
                Vec::new(),
            ),
            Primitive::NonNegativeInteger => (unsigned_integer, Vec::new()),
            Primitive::Number => (
                Expr::seq(vec![minus(), unsigned_integer, fraction()]),
                Vec::new(),
            ),
            Primitive::NonNegativeNumber => {
                (Expr::seq(vec![unsigned_integer, fraction()]), Vec::new())
            }
            Primitive::Boolean => (
                Expr::alt(vec![Expr::literal("true"), Expr::literal("false")]),
                Vec::new(),
            ),
            Primitive::Null => (Expr::literal("null"), Vec::new()),
            Primitive::Value => (
                Expr::alt(
                    [
                        Primitive::Object,
                        Primitive::Array,
                        Primitive::String,
                        Primitive::Number,
                        Primitive::Boolean,
                        Primitive::Null,
                    ]
                    .map(rule)
                    .to_vec(),
                ),
                vec![
                    Primitive::Object,
                    Primitive::Array,
                    Primitive::String,
                    Primitive::Number,
                    Primitive::Boolean,
                    Primitive::Null,
                ],
            ),
            Primitive::Object => {
                let member = || {
                    Expr::seq(vec![
                        rule(Primitive::String),
                        Expr::literal(":"),
                        rule(Primitive::Value),
                    ])
                };
                (
                    Expr::seq(vec![
                        Expr::literal("{"),
                        Expr::seq(vec![
                            member(),
                            Expr::seq(vec![Expr::literal(","), member()]).repeat(0, None),
                        ])
                        .optional(),
                        Expr::literal("}"),
                    ]),
                    vec![Primitive::String, Primitive::Value],
                )
            }
            Primitive::Array => (
                list("[", rule(Primitive::Value), 0, None, "]"),
                vec![Primitive::Value],
            ),
        }
    }
}

/// `open`, `min` to `max` items separated by commas, `close`.
pub fn list(open: &str, item: Expr, min: u32, max: Option<u32>, close: &str) -> Expr {
    let comma_item = || Expr::seq(vec![Expr::literal(","), item.clone()]);
    let items = match (min, max) {
        (_, Some(0)) => None,
        (0, max) => Some(
            Expr::seq(vec![
                item.clone(),
                comma_item().repeat(0, max.map(|m| m - 1)),
            ])
            .optional(),
        ),
        (min, max) => Some(Expr::seq(vec![
            item.clone(),
            comma_item().repeat(min - 1, max.map(|m| m - 1)),
        ])),
    };
    let mut parts = vec![Expr::literal(open)];
    parts.extend(items);
    parts.push(Expr::literal(close));
    Expr::seq(parts)
}

/// A grammar: a root expression and the named rules it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grammar {
    root: Expr,
    primitives: Vec<Primitive>,
}

impl Grammar {
    /// A grammar matching `root`, which may refer to `primitives` (and they
    /// to further primitives, which are added).
    pub fn new(root: Expr, primitives: impl IntoIterator<Item = Primitive>) -> Self {
        let mut all: Vec<Primitive> = Vec::new();
        let mut todo: Vec<Primitive> = primitives.into_iter().collect();
        while let Some(p) = todo.pop() {
            if !all.contains(&p) {
                all.push(p);
                todo.extend(p.definition().1);
            }
        }
        all.sort();
        Self {
            root,
            primitives: all,
        }
    }

    /// The root expression.
    #[cfg(test)]
    pub fn root(&self) -> &Expr {
        &self.root
    }

    /// The expression a named rule stands for.
    #[cfg(test)]
    pub fn rule(&self, name: &str) -> Option<Expr> {
        self.primitives
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.definition().0)
    }

    /// The grammar as GBNF text, rooted at `root`.
    pub fn to_gbnf(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "root ::= {}", gbnf(&self.root));
        for primitive in &self.primitives {
            let _ = writeln!(
                out,
                "{} ::= {}",
                primitive.name(),
                gbnf(&primitive.definition().0)
            );
        }
        out
    }
}

/// One expression in GBNF syntax.
fn gbnf(expr: &Expr) -> String {
    match expr {
        Expr::Literal(text) => {
            let mut out = String::from("\"");
            for c in text.chars() {
                escape_into(&mut out, c, '"');
            }
            out.push('"');
            out
        }
        Expr::Chars(class) => {
            let mut out = String::from(if class.negated { "[^" } else { "[" });
            for &(lo, hi) in &class.ranges {
                escape_into(&mut out, lo, ']');
                if hi != lo {
                    out.push('-');
                    escape_into(&mut out, hi, ']');
                }
            }
            out.push(']');
            out
        }
        Expr::Rule(name) => (*name).to_owned(),
        Expr::Seq(parts) => parts
            .iter()
            .map(|part| match part {
                Expr::Alt(_) => format!("({})", gbnf(part)),
                _ => gbnf(part),
            })
            .collect::<Vec<_>>()
            .join(" "),
        Expr::Alt(parts) => parts.iter().map(gbnf).collect::<Vec<_>>().join(" | "),
        Expr::Repeat { expr, min, max } => {
            let inner = match **expr {
                Expr::Seq(_) | Expr::Alt(_) | Expr::Repeat { .. } => format!("({})", gbnf(expr)),
                _ => gbnf(expr),
            };
            match (min, max) {
                (0, Some(1)) => format!("{inner}?"),
                (0, None) => format!("{inner}*"),
                (1, None) => format!("{inner}+"),
                (min, None) => format!("{inner}{{{min},}}"),
                (min, Some(max)) if min == max => format!("{inner}{{{min}}}"),
                (min, Some(max)) => format!("{inner}{{{min},{max}}}"),
            }
        }
    }
}

/// `c` as it must be written inside a GBNF literal or class closed by `close`.
fn escape_into(out: &mut String, c: char, close: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '-' | '[' if close == ']' => {
            out.push('\\');
            out.push(c);
        }
        // llama.cpp knows no `\^`; a caret is only special first in a class.
        '^' if close == ']' => out.push_str("\\x5E"),
        c if c == close => {
            out.push('\\');
            out.push(c);
        }
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02X}", u32::from(c));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_classes_are_escaped() {
        let grammar = Grammar::new(
            Expr::seq(vec![
                Expr::literal("say \"hi\"\\\n"),
                Expr::Chars(CharClass::except(&[
                    ('"', '"'),
                    ('\u{0}', '\u{1f}'),
                    ('-', '-'),
                ])),
                Expr::Chars(CharClass::of(&[(']', ']'), ('a', 'z')])),
            ]),
            [],
        );
        assert_eq!(
            grammar.to_gbnf(),
            "root ::= \"say \\\"hi\\\"\\\\\\n\" [^\"\\x00-\\x1F\\-] [\\]a-z]\n"
        );
    }

    #[test]
    fn repetitions_use_the_shortest_form() {
        let x = || Expr::literal("x");
        let cases = [
            (x().optional(), "\"x\"?"),
            (x().repeat(0, None), "\"x\"*"),
            (x().repeat(1, None), "\"x\"+"),
            (x().repeat(2, None), "\"x\"{2,}"),
            (x().repeat(3, Some(3)), "\"x\"{3}"),
            (x().repeat(1, Some(4)), "\"x\"{1,4}"),
            (Expr::seq(vec![x(), x()]).optional(), "(\"x\" \"x\")?"),
        ];
        for (expr, text) in cases {
            assert_eq!(gbnf(&expr), text);
        }
    }

    #[test]
    fn primitives_bring_the_rules_they_use() {
        let grammar = Grammar::new(Expr::Rule("string"), [Primitive::String]);
        let text = grammar.to_gbnf();
        assert_eq!(
            text,
            "root ::= string\n\
             string ::= \"\\\"\" char* \"\\\"\"\n\
             char ::= [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])\n"
        );
        let any = Grammar::new(Expr::Rule("value"), [Primitive::Value]).to_gbnf();
        for rule in [
            "value ::=",
            "object ::=",
            "array ::=",
            "string ::=",
            "char ::=",
            "number ::=",
            "boolean ::=",
            "null ::=",
        ] {
            assert!(any.contains(rule), "{rule} missing from\n{any}");
        }
    }

    #[test]
    fn lists_separate_items_with_commas_within_their_bounds() {
        let item = || Expr::literal("x");
        assert_eq!(
            gbnf(&list("[", item(), 0, None, "]")),
            "\"[\" (\"x\" (\",\" \"x\")*)? \"]\""
        );
        assert_eq!(
            gbnf(&list("[", item(), 2, Some(3), "]")),
            "\"[\" \"x\" (\",\" \"x\"){1,2} \"]\""
        );
        assert_eq!(gbnf(&list("[", item(), 0, Some(0), "]")), "\"[\" \"]\"");
    }
}
