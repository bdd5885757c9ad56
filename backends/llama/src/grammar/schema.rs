//! JSON Schema → grammar, for the subset schemars emits for tool arguments
//! (natter makes tool schemas self-contained: no `$ref`).
//!
//! Enforced: `type` (one or a list, so `["string","null"]` is nullable),
//! objects' `properties` in the order the schema lists them with `required`
//! ones always present and the others optional, `additionalProperties` as a
//! map's values when an object declares no properties, arrays' `items` with
//! `minItems`/`maxItems`, strings' `minLength`/`maxLength`, `enum`, `const`,
//! `anyOf`/`oneOf` (as alternatives: `oneOf`'s "exactly one" is not
//! checked), a one-element `allOf`, and `minimum ≥ 0` (no minus sign).
//!
//! Ignored, because a grammar cannot check them and the tool's own parsing
//! does: descriptions and other annotations, `format`, `pattern`, other
//! numeric bounds, `uniqueItems`, `minProperties`/`maxProperties`.
//!
//! Refused with a [`SchemaError`]: references, `not`, conditionals, several
//! `allOf` parts, tuples (`prefixItems`), `patternProperties`, `contains`,
//! dependent schemas, `false`, and unknown types.

use serde_json::{Map, Value};

use super::{Expr, Primitive, list};

/// Most repetitions llama.cpp's grammar parser takes as a bound.
const MAX_REPETITIONS: u64 = 2000;

/// Keywords whose meaning a grammar cannot express.
const REFUSED: &[&str] = &[
    "$ref",
    "$dynamicRef",
    "not",
    "if",
    "then",
    "else",
    "prefixItems",
    "patternProperties",
    "contains",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
];

/// Why a schema cannot become a grammar. `at` is a JSON pointer into the
/// schema (`#/properties/when`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The schema uses a keyword a grammar cannot express.
    #[error("{at}: `{keyword}` cannot be enforced by a grammar")]
    Unsupported {
        /// Where.
        at: String,
        /// The keyword.
        keyword: String,
    },
    /// `type` names something that is not a JSON type.
    #[error("{at}: unknown type {name:?}")]
    UnknownType {
        /// Where.
        at: String,
        /// The name given.
        name: String,
    },
    /// The schema is malformed or accepts nothing.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where.
        at: String,
        /// What is wrong.
        reason: String,
    },
}

/// The JSON values a schema accepts: an expression and the primitives it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonValues {
    /// Matches exactly the accepted values, written compactly.
    pub expr: Expr,
    /// The named rules `expr` refers to.
    pub primitives: Vec<Primitive>,
}

/// The values `schema` accepts, or why they cannot be described by a grammar.
pub fn values_of(schema: &Value) -> Result<JsonValues, SchemaError> {
    let mut converter = Converter::default();
    let expr = converter.schema(schema, "#")?;
    Ok(JsonValues {
        expr,
        primitives: converter.primitives,
    })
}

#[derive(Default)]
struct Converter {
    primitives: Vec<Primitive>,
}

impl Converter {
    fn primitive(&mut self, primitive: Primitive) -> Expr {
        if !self.primitives.contains(&primitive) {
            self.primitives.push(primitive);
        }
        Expr::Rule(primitive.name())
    }

    fn schema(&mut self, schema: &Value, at: &str) -> Result<Expr, SchemaError> {
        match schema {
            Value::Bool(true) => Ok(self.primitive(Primitive::Value)),
            Value::Bool(false) => Err(invalid(at, "the schema `false` accepts nothing")),
            Value::Object(map) => self.object_schema(map, at),
            _ => Err(invalid(at, "a schema must be an object or a boolean")),
        }
    }

    fn object_schema(&mut self, map: &Map<String, Value>, at: &str) -> Result<Expr, SchemaError> {
        if let Some(keyword) = REFUSED.iter().find(|k| map.contains_key(**k)) {
            return Err(SchemaError::Unsupported {
                at: at.to_owned(),
                keyword: (*keyword).to_owned(),
            });
        }
        if let Some(all_of) = map.get("allOf") {
            return self.all_of(map, all_of, at);
        }
        if let Some(value) = map.get("const") {
            return Ok(Expr::literal(compact(value)));
        }
        if let Some(values) = map.get("enum") {
            let values = values
                .as_array()
                .ok_or_else(|| invalid(at, "`enum` must be an array"))?;
            if values.is_empty() {
                return Err(invalid(at, "an empty `enum` accepts nothing"));
            }
            return Ok(Expr::alt(
                values.iter().map(|v| Expr::literal(compact(v))).collect(),
            ));
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(options) = map.get(keyword) {
                return self.alternatives(map, keyword, options, at);
            }
        }
        match map.get("type") {
            None => {
                if map.contains_key("properties") || map.contains_key("additionalProperties") {
                    self.object(map, at)
                } else if map.contains_key("items") {
                    self.array(map, at)
                } else {
                    Ok(self.primitive(Primitive::Value))
                }
            }
            Some(Value::String(name)) => self.typed(map, name, at),
            Some(Value::Array(names)) => {
                let mut options = Vec::with_capacity(names.len());
                for name in names {
                    let name = name
                        .as_str()
                        .ok_or_else(|| invalid(at, "`type` must list type names"))?;
                    options.push(self.typed(map, name, at)?);
                }
                if options.is_empty() {
                    return Err(invalid(at, "an empty `type` list accepts nothing"));
                }
                Ok(Expr::alt(options))
            }
            Some(_) => Err(invalid(at, "`type` must be a name or a list of names")),
        }
    }

    /// A one-part `allOf` is its part (schemars wraps a described reference
    /// that way); more parts would need an intersection.
    fn all_of(
        &mut self,
        map: &Map<String, Value>,
        all_of: &Value,
        at: &str,
    ) -> Result<Expr, SchemaError> {
        match all_of.as_array().map(Vec::as_slice) {
            Some([only]) if !has_constraints(map, "allOf") => {
                self.schema(only, &format!("{at}/allOf/0"))
            }
            _ => Err(SchemaError::Unsupported {
                at: at.to_owned(),
                keyword: "allOf".to_owned(),
            }),
        }
    }

    fn alternatives(
        &mut self,
        map: &Map<String, Value>,
        keyword: &str,
        options: &Value,
        at: &str,
    ) -> Result<Expr, SchemaError> {
        if has_constraints(map, keyword) {
            return Err(SchemaError::Unsupported {
                at: at.to_owned(),
                keyword: format!("{keyword} beside other constraints"),
            });
        }
        let options = options
            .as_array()
            .ok_or_else(|| invalid(at, &format!("`{keyword}` must be an array")))?;
        if options.is_empty() {
            return Err(invalid(
                at,
                &format!("an empty `{keyword}` accepts nothing"),
            ));
        }
        let mut exprs = Vec::with_capacity(options.len());
        for (i, option) in options.iter().enumerate() {
            exprs.push(self.schema(option, &format!("{at}/{keyword}/{i}"))?);
        }
        Ok(Expr::alt(exprs))
    }

    fn typed(
        &mut self,
        map: &Map<String, Value>,
        name: &str,
        at: &str,
    ) -> Result<Expr, SchemaError> {
        let non_negative = map
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| m >= 0.0);
        Ok(match name {
            "string" => self.string(map, at)?,
            "integer" if non_negative => self.primitive(Primitive::NonNegativeInteger),
            "integer" => self.primitive(Primitive::Integer),
            "number" if non_negative => self.primitive(Primitive::NonNegativeNumber),
            "number" => self.primitive(Primitive::Number),
            "boolean" => self.primitive(Primitive::Boolean),
            "null" => self.primitive(Primitive::Null),
            "object" => self.object(map, at)?,
            "array" => self.array(map, at)?,
            other => {
                return Err(SchemaError::UnknownType {
                    at: at.to_owned(),
                    name: other.to_owned(),
                });
            }
        })
    }

    fn string(&mut self, map: &Map<String, Value>, at: &str) -> Result<Expr, SchemaError> {
        let (min, max) = bounds(map, "minLength", "maxLength", at)?;
        if (min, max) == (0, None) {
            return Ok(self.primitive(Primitive::String));
        }
        let char = self.primitive(Primitive::StringChar);
        Ok(Expr::seq(vec![
            Expr::literal("\""),
            char.repeat(min, max),
            Expr::literal("\""),
        ]))
    }

    fn array(&mut self, map: &Map<String, Value>, at: &str) -> Result<Expr, SchemaError> {
        let (min, max) = bounds(map, "minItems", "maxItems", at)?;
        let item = match map.get("items") {
            None | Some(Value::Bool(true)) => self.primitive(Primitive::Value),
            Some(Value::Bool(false)) => return Ok(Expr::literal("[]")),
            Some(items) => self.schema(items, &format!("{at}/items"))?,
        };
        Ok(list("[", item, min, max, "]"))
    }

    fn object(&mut self, map: &Map<String, Value>, at: &str) -> Result<Expr, SchemaError> {
        let properties = match map.get("properties") {
            None => Map::new(),
            Some(Value::Object(properties)) => properties.clone(),
            Some(_) => return Err(invalid(at, "`properties` must be an object")),
        };
        let required: Vec<&str> = match map.get("required") {
            None => Vec::new(),
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(invalid(at, "`required` must be an array of names")),
        };
        let mut members = Vec::with_capacity(properties.len() + required.len());
        for (name, schema) in &properties {
            let value =
                self.schema(schema, &format!("{at}/properties/{}", pointer_escape(name)))?;
            members.push(Member {
                expr: member(name, value),
                required: required.contains(&name.as_str()),
            });
        }
        // A required name without a schema may hold any value.
        for name in required.iter().filter(|n| !properties.contains_key(**n)) {
            let value = self.primitive(Primitive::Value);
            members.push(Member {
                expr: member(name, value),
                required: true,
            });
        }
        if members.is_empty() {
            // Declared properties, even none, are all a tool's arguments
            // are: a tiny model need not invent others.
            let declared = map.contains_key("properties");
            return match map.get("additionalProperties") {
                None | Some(Value::Bool(true)) if !declared => {
                    Ok(self.primitive(Primitive::Object))
                }
                None | Some(Value::Bool(_)) => Ok(Expr::literal("{}")),
                Some(values) => {
                    let key = self.primitive(Primitive::String);
                    let value = self.schema(values, &format!("{at}/additionalProperties"))?;
                    let entry = Expr::seq(vec![key, Expr::literal(":"), value]);
                    Ok(list("{", entry, 0, None, "}"))
                }
            };
        }
        let mut parts = vec![Expr::literal("{")];
        parts.extend(first_members(&members));
        parts.push(Expr::literal("}"));
        Ok(Expr::seq(parts))
    }
}

/// One property of an object, ready to write: `"name":value`.
struct Member {
    expr: Expr,
    required: bool,
}

fn member(name: &str, value: Expr) -> Expr {
    Expr::seq(vec![
        Expr::literal(format!("{}:", compact(&Value::from(name)))),
        value,
    ])
}

/// `members`, in order, when none has been written yet: each required one
/// present, each optional one present or not, commas only between.
fn first_members(members: &[Member]) -> Option<Expr> {
    let (head, rest) = members.split_first()?;
    let with_head = Expr::seq(
        std::iter::once(head.expr.clone())
            .chain(later_members(rest))
            .collect(),
    );
    if head.required {
        return Some(with_head);
    }
    Some(match first_members(rest) {
        None => with_head.optional(),
        Some(without_head) => Expr::alt(vec![with_head, without_head]),
    })
}

/// `members` after one has been written: each preceded by a comma.
fn later_members(members: &[Member]) -> impl Iterator<Item = Expr> + '_ {
    members.iter().map(|m| {
        let with_comma = Expr::seq(vec![Expr::literal(","), m.expr.clone()]);
        if m.required {
            with_comma
        } else {
            with_comma.optional()
        }
    })
}

/// Whether `map` constrains values with anything besides `keyword` and annotations.
fn has_constraints(map: &Map<String, Value>, keyword: &str) -> bool {
    const ANNOTATIONS: &[&str] = &[
        "description",
        "title",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
        "$schema",
        "$id",
        "$defs",
        "definitions",
        "format",
    ];
    map.keys()
        .any(|k| k != keyword && !ANNOTATIONS.contains(&k.as_str()))
}

/// A `min`/`max` pair of counts (`minItems`, `maxLength`, …), as repetition bounds.
fn bounds(
    map: &Map<String, Value>,
    min_key: &str,
    max_key: &str,
    at: &str,
) -> Result<(u32, Option<u32>), SchemaError> {
    let count = |key: &str| match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| invalid(at, &format!("`{key}` must be a whole number"))),
    };
    let min = count(min_key)?.unwrap_or(0);
    let max = count(max_key)?;
    if max.is_some_and(|max| max < min) {
        return Err(invalid(at, &format!("`{max_key}` is below `{min_key}`")));
    }
    if min > MAX_REPETITIONS {
        return Err(invalid(
            at,
            &format!("`{min_key}` above {MAX_REPETITIONS} is more than a grammar can count"),
        ));
    }
    let max = max.filter(|&max| max <= MAX_REPETITIONS);
    let to_u32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    Ok((to_u32(min), max.map(to_u32)))
}

/// `value` as compact JSON text.
fn compact(value: &Value) -> String {
    value.to_string()
}

/// A property name as a JSON-pointer segment.
fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn invalid(at: &str, reason: &str) -> SchemaError {
    SchemaError::Invalid {
        at: at.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::json;

    use super::*;
    use crate::grammar::Grammar;

    /// The GBNF of the values `schema` accepts (root = the value itself).
    fn gbnf(schema: Value) -> String {
        let values = values_of(&schema).unwrap();
        Grammar::new(values.expr, values.primitives).to_gbnf()
    }

    fn root(schema: Value) -> String {
        gbnf(schema).lines().next().unwrap().to_owned()
    }

    #[test]
    fn required_properties_always_appear_in_order() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
            "required": ["a", "b"]
        });
        assert_eq!(
            root(schema),
            r#"root ::= "{" "\"a\":" string "," "\"b\":" integer "}""#
        );
    }

    #[test]
    fn optional_properties_may_be_left_out_with_commas_only_between() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "boolean"}, "b": {"type": "null"}, "c": {"type": "boolean"}},
            "required": ["b"]
        });
        assert_eq!(
            root(schema),
            r#"root ::= "{" ("\"a\":" boolean "," "\"b\":" null ("," "\"c\":" boolean)? | "\"b\":" null ("," "\"c\":" boolean)?) "}""#
        );
        let all_optional = json!({
            "type": "object",
            "properties": {"a": {"type": "boolean"}, "b": {"type": "boolean"}}
        });
        assert_eq!(
            root(all_optional),
            r#"root ::= "{" ("\"a\":" boolean ("," "\"b\":" boolean)? | ("\"b\":" boolean)?) "}""#
        );
    }

    #[test]
    fn enums_consts_and_nullable_types_become_alternatives() {
        assert_eq!(
            root(json!({"type": "string", "enum": ["never", "daily", "a\"b"]})),
            r#"root ::= "\"never\"" | "\"daily\"" | "\"a\\\"b\"""#
        );
        assert_eq!(root(json!({"const": 3})), r#"root ::= "3""#);
        assert_eq!(
            root(json!({"type": ["string", "null"], "description": "ignored"})),
            "root ::= string | null"
        );
        assert_eq!(
            root(json!({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]})),
            "root ::= nonneg-integer | null"
        );
        assert_eq!(
            root(
                json!({"oneOf": [{"const": "a"}, {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}]})
            ),
            r#"root ::= "\"a\"" | "{" "\"n\":" number "}""#
        );
    }

    #[test]
    fn arrays_and_strings_keep_their_bounds() {
        assert_eq!(
            root(
                json!({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3})
            ),
            r#"root ::= "[" string ("," string){0,2} "]""#
        );
        assert_eq!(
            root(json!({"type": "string", "minLength": 2, "maxLength": 5})),
            r#"root ::= "\"" char{2,5} "\"""#
        );
        assert_eq!(
            root(json!({"type": "array", "items": false})),
            r#"root ::= "[]""#
        );
    }

    #[test]
    fn open_schemas_accept_any_json_of_their_kind() {
        assert_eq!(root(json!({})), "root ::= value");
        assert_eq!(root(json!(true)), "root ::= value");
        assert_eq!(root(json!({"type": "object"})), "root ::= object");
        assert_eq!(
            root(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
            r#"root ::= "{" (string ":" integer ("," string ":" integer)*)? "}""#
        );
        assert_eq!(
            root(json!({"type": "object", "additionalProperties": false})),
            r#"root ::= "{}""#
        );
        assert_eq!(
            root(json!({"type": "object", "properties": {}})),
            r#"root ::= "{}""#
        );
    }

    #[test]
    fn what_a_grammar_cannot_express_is_refused_with_its_place() {
        let refused = |schema: Value| values_of(&schema).unwrap_err().to_string();
        assert_eq!(
            refused(json!({"type": "object", "properties": {"when": {"$ref": "#/$defs/When"}}})),
            "#/properties/when: `$ref` cannot be enforced by a grammar"
        );
        assert_eq!(
            refused(json!({"allOf": [{"type": "string"}, {"maxLength": 3}]})),
            "#: `allOf` cannot be enforced by a grammar"
        );
        assert_eq!(
            refused(json!({"type": "array", "items": {"type": "date"}})),
            "#/items: unknown type \"date\""
        );
        assert_eq!(
            refused(json!({"type": "object", "properties": {"a/b": false}})),
            "#/properties/a~1b: the schema `false` accepts nothing"
        );
        assert_eq!(
            refused(json!({"type": "string", "minLength": 4, "maxLength": 2})),
            "#: `maxLength` is below `minLength`"
        );
        assert_eq!(
            refused(json!({"type": "string", "anyOf": [{"maxLength": 2}]})),
            "#: `anyOf beside other constraints` cannot be enforced by a grammar"
        );
    }
}
