//! Generators in a request template: a JSON object with a single `$` key stands for a
//! value made when the request is sent, from the request's own seed (so a case replays
//! to the same values), the run's sequences, and the values its client captured.
//!
//! | generator | value |
//! | --- | --- |
//! | `{"$seq": "name"}` | 1, 2, 3, ... per name, across the run's clients |
//! | `{"$choice": [a, b, ...]}` | one of the values |
//! | `{"$int": [min, max]}` | an integer in `min..=max` |
//! | `{"$string": n}` or `{"$string": [min, max]}` | lowercase letters and digits |
//! | `{"$captured": "name"}` | what this client captured as `name` (`null` before) |

use std::collections::BTreeMap;

use fazt_engine::env::Rng;
use serde_json::{Map, Value};

/// Characters of generated strings: safe in paths, keys and JSON alike.
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// What a request's values are made from.
pub struct Source<'a> {
    pub rng: &'a Rng,
    /// The run's sequences.
    pub sequences: &'a mut BTreeMap<String, u64>,
    /// This client's captured values.
    pub captured: &'a BTreeMap<String, Value>,
}

/// The generator a JSON object stands for, if it is one.
fn generator(value: &Value) -> Option<(&str, &Value)> {
    let object = value.as_object()?;
    let (key, argument) = object.iter().next()?;
    (object.len() == 1 && key.starts_with('$')).then_some((key.as_str(), argument))
}

/// Checks every generator within `value`.
pub fn check(value: &Value) -> Result<(), String> {
    if let Some((name, argument)) = generator(value) {
        let fine = match name {
            "$seq" | "$captured" => argument.is_string(),
            "$choice" => argument.as_array().is_some_and(|a| !a.is_empty()),
            "$int" => bounds(argument).is_some_and(|(lo, hi)| lo <= hi),
            "$string" => argument.is_u64() || bounds(argument).is_some_and(|(lo, hi)| lo <= hi),
            _ => return Err(format!("unknown generator {name}")),
        };
        return if fine {
            Ok(())
        } else {
            Err(format!("bad argument to {name}: {argument}"))
        };
    }
    match value {
        Value::Array(items) => items.iter().try_for_each(check),
        Value::Object(fields) => fields.values().try_for_each(check),
        _ => Ok(()),
    }
}

fn bounds(argument: &Value) -> Option<(i64, i64)> {
    match argument.as_array()?.as_slice() {
        [lo, hi] => Some((lo.as_i64()?, hi.as_i64()?)),
        _ => None,
    }
}

/// `value` with every generator replaced by a value made from `source`.
pub fn fill(value: &Value, source: &mut Source) -> Value {
    if let Some((name, argument)) = generator(value) {
        return make(name, argument, source);
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, source)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), fill(v, source)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

fn make(name: &str, argument: &Value, source: &mut Source) -> Value {
    let in_range = |(lo, hi): (i64, i64)| lo + source.rng.below(hi.abs_diff(lo) + 1) as i64;
    match name {
        "$seq" => {
            let counter = source
                .sequences
                .entry(argument.as_str().unwrap_or_default().to_owned())
                .or_insert(0);
            *counter += 1;
            Value::from(*counter)
        }
        "$choice" => {
            let choices = argument.as_array().map(Vec::as_slice).unwrap_or_default();
            let index = source.rng.below(choices.len().max(1) as u64) as usize;
            choices.get(index).cloned().unwrap_or(Value::Null)
        }
        "$int" => Value::from(bounds(argument).map_or(0, in_range)),
        "$string" => {
            let length = match argument.as_u64() {
                Some(n) => n,
                None => bounds(argument).map_or(0, in_range).max(0) as u64,
            };
            let text: String = (0..length)
                .map(|_| ALPHABET[source.rng.below(ALPHABET.len() as u64) as usize] as char)
                .collect();
            Value::from(text)
        }
        "$captured" => source
            .captured
            .get(argument.as_str().unwrap_or_default())
            .cloned()
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// `text` with each `{var}` replaced by the variable's value (a string as is, anything
/// else as JSON).
pub fn substitute(text: &str, vars: &BTreeMap<String, Value>) -> String {
    let mut out = text.to_owned();
    for (name, value) in vars {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &shown);
    }
    out
}

/// The value at a dotted `path` of `body` (`"order.id"`).
pub fn at_path<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(body, |value, field| value.get(field))
        .filter(|value| !value.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filled(value: Value, seed: u64, sequences: &mut BTreeMap<String, u64>) -> Value {
        let rng = Rng::seeded(seed);
        let captured = BTreeMap::from([("id".to_owned(), json!("x7"))]);
        let mut source = Source {
            rng: &rng,
            sequences,
            captured: &captured,
        };
        fill(&value, &mut source)
    }

    #[test]
    fn generators_are_filled_from_the_seed_the_sequences_and_the_captures() {
        let template = json!({"n": {"$seq": "a"}, "k": {"$int": [3, 5]}, "s": {"$string": 4},
            "c": {"$choice": ["x", "y"]}, "id": {"$captured": "id"}, "nested": [{"$seq": "a"}]});
        let mut sequences = BTreeMap::new();
        let value = filled(template.clone(), 9, &mut sequences);
        assert_eq!(value["n"], 1);
        assert_eq!(value["nested"][0], 2);
        assert!((3..=5).contains(&value["k"].as_i64().unwrap()));
        assert_eq!(value["s"].as_str().unwrap().len(), 4);
        assert_eq!(value["id"], "x7");
        let again = filled(template, 9, &mut BTreeMap::new());
        assert_eq!(value, again, "the same seed makes the same values");
    }

    #[test]
    fn placeholders_and_paths() {
        let vars = BTreeMap::from([("id".to_owned(), json!("a1")), ("n".to_owned(), json!(3))]);
        assert_eq!(substitute("/api/x/{id}/{n}", &vars), "/api/x/a1/3");
        assert_eq!(at_path(&json!({"o": {"id": 5}}), "o.id"), Some(&json!(5)));
        assert_eq!(at_path(&json!({"o": null}), "o"), None);
    }
}
