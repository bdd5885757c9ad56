//! The fake model's arguments for a tool it must call: a minimal valid
//! instance of the tool's JSON Schema — every required property present with
//! a value of its type, strings non-empty, numbers at their minimum, the first
//! of an `enum`, `anyOf` or `oneOf`.

use serde_json::{Map, Value, json};

/// What a string argument says when nothing constrains it.
const EXAMPLE: &str = "example";

/// A minimal instance of `schema`.
pub(crate) fn minimal_instance(schema: &Value) -> Value {
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema[key].as_array().and_then(|schemas| schemas.first()) {
            return minimal_instance(first);
        }
    }
    match type_of(schema) {
        "object" => object(schema),
        "array" => {
            let count = schema["minItems"].as_u64().unwrap_or(0) as usize;
            Value::Array(vec![minimal_instance(&schema["items"]); count])
        }
        "integer" => json!(number(schema).ceil() as i64),
        "number" => json!(number(schema)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => {
            let length = schema["minLength"].as_u64().unwrap_or(1) as usize;
            json!(EXAMPLE.repeat(length.div_ceil(EXAMPLE.len()).max(1)))
        }
    }
}

/// The schema's type: the first that is not `null` when it lists several.
fn type_of(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(kind) => kind,
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    }
}

/// The object with every required property.
fn object(schema: &Value) -> Value {
    let mut object = Map::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        if let Some(name) = name.as_str() {
            object.insert(
                name.to_owned(),
                minimal_instance(&schema["properties"][name]),
            );
        }
    }
    Value::Object(object)
}

/// The schema's minimum, or just above its exclusive minimum, or 0.
fn number(schema: &Value) -> f64 {
    schema["minimum"]
        .as_f64()
        .or_else(|| schema["exclusiveMinimum"].as_f64().map(|m| m + 1.0))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_required_property_has_a_value_of_its_type() {
        let schema = json!({
            "type": "object",
            "properties": {
                "when": {"type": "string", "description": "when"},
                "count": {"type": "integer", "minimum": 2},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "mode": {"enum": ["fast", "slow"]},
                "note": {"type": ["string", "null"]},
                "optional": {"type": "string"},
            },
            "required": ["when", "count", "tags", "mode", "note"],
        });
        assert_eq!(
            minimal_instance(&schema),
            json!({
                "when": "example",
                "count": 2,
                "tags": ["example"],
                "mode": "fast",
                "note": "example",
            })
        );
    }
}
