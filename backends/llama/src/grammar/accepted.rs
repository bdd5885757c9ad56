//! Tests: strings a grammar accepts, generated at random, must be valid for
//! the schema the grammar came from — checked by deserializing them into the
//! Rust type the schema was derived from (unknown fields denied).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::schema::values_of;
use super::{Expr, Grammar};

/// Characters string contents are drawn from (each class filters them).
const PALETTE: &[char] = &[
    'a', 'Z', '0', '9', ' ', '"', '\\', '/', '-', '.', ':', '{', '}', '\n', '\t', '\u{1}',
    '\u{7f}', 'é', '❤', '😀',
];

/// Deeper than this, recursive rules (any JSON value) stop at a leaf.
const MAX_DEPTH: u32 = 4;

/// Strings `grammar` accepts.
fn accepted(grammar: &Grammar) -> BoxedStrategy<String> {
    strategy(grammar, grammar.root(), 0)
}

fn strategy(grammar: &Grammar, expr: &Expr, depth: u32) -> BoxedStrategy<String> {
    match expr {
        Expr::Literal(text) => Just(text.clone()).boxed(),
        Expr::Chars(class) => {
            let chars: Vec<char> = PALETTE
                .iter()
                .copied()
                .filter(|c| class.contains(*c))
                .collect();
            prop::sample::select(chars).prop_map(String::from).boxed()
        }
        Expr::Rule(name) => {
            if depth > MAX_DEPTH {
                let leaf = match *name {
                    "object" => "{}",
                    "array" => "[]",
                    _ => "null",
                };
                if matches!(*name, "value" | "object" | "array") {
                    return Just(leaf.to_owned()).boxed();
                }
            }
            let definition = grammar.rule(name).unwrap();
            strategy(grammar, &definition, depth + 1)
        }
        Expr::Seq(parts) => {
            let parts: Vec<_> = parts.iter().map(|p| strategy(grammar, p, depth)).collect();
            parts.prop_map(|pieces| pieces.concat()).boxed()
        }
        Expr::Alt(options) => {
            let options: Vec<_> = options
                .iter()
                .map(|o| strategy(grammar, o, depth))
                .collect();
            prop::strategy::Union::new(options).boxed()
        }
        Expr::Repeat { expr, min, max } => {
            let max = max.unwrap_or(min + 3).min(min + 3);
            prop::collection::vec(strategy(grammar, expr, depth), *min as usize..=max as usize)
                .prop_map(|pieces| pieces.concat())
                .boxed()
        }
    }
}

fn grammar_for<T: JsonSchema>() -> Grammar {
    let schema = natter_core::ToolSpec::new::<T>("t", "")
        .definition
        .parameters;
    let values = values_of(&schema).unwrap_or_else(|e| panic!("{e}: {schema:#}"));
    Grammar::new(values.expr, values.primitives)
}

fn assert_valid<T: DeserializeOwned>(text: &str) {
    assert!(!text.contains('\n'), "a raw line break in {text:?}");
    if let Err(error) = serde_json::from_str::<T>(text) {
        panic!("{text:?} is not valid: {error}");
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Reminder {
    /// When.
    when: String,
    repeat: Repeat,
    /// How many times.
    times: u32,
    offset: i64,
    note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Repeat {
    Never,
    /// Every day.
    Daily,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Everything {
    flag: bool,
    ratio: f64,
    tags: Vec<String>,
    place: Option<Place>,
    shape: Shape,
    unit: Unit,
    scores: std::collections::BTreeMap<String, u64>,
    maybe_repeat: Option<Repeat>,
    extra: serde_json::Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Place {
    city: String,
    floor: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[allow(dead_code)]
enum Shape {
    Circle { radius: f32 },
    Square { side: f32 },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[allow(dead_code)]
enum Unit {
    Minutes(u64),
    Named(String),
    Forever,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn accepted_reminders_are_valid(text in accepted(&grammar_for::<Reminder>())) {
        assert_valid::<Reminder>(&text);
    }

    #[test]
    fn accepted_nested_values_are_valid(text in accepted(&grammar_for::<Everything>())) {
        assert_valid::<Everything>(&text);
    }
}
