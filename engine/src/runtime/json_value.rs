//! JSON values handed to JavaScript without going through JSON text: the value
//! `JSON.parse` would make of `serde_json::to_string(value)`, built directly (no
//! serializing in Rust, no parsing in QuickJS).
//!
//! Equivalence with `JSON.parse`, property by property: objects are plain objects whose
//! keys are defined in the map's order as own data properties (writable, enumerable,
//! configurable; `__proto__` is an own key, not the prototype setter), arrays are dense
//! arrays, integers within the 32-bit range are integers and every other number the
//! nearest double (a negative zero stays negative), strings are the same code points.
//! Nesting is at most what `serde_json` parses (128 levels), so the recursion is bounded.

use std::collections::BTreeMap;

use rquickjs::{qjs, Array, Ctx, Object, Value};
use serde_json::Value as Json;

use super::contract::{HandlerRequest, Upload};

/// The `request` global for `request`: what `JSON.parse` makes of its serialization
/// (fields in declaration order: method, path, query, headers, body), except that the
/// headers also answer to their canonical names and uploads are `ArrayBuffer`s.
pub fn request_to_js<'js>(
    ctx: &Ctx<'js>,
    request: &HandlerRequest,
) -> rquickjs::Result<Value<'js>> {
    let object = Object::new(ctx.clone())?;
    define(
        ctx,
        &object,
        Key::Name("method"),
        string(ctx, &request.method)?,
    )?;
    define(ctx, &object, Key::Name("path"), string(ctx, &request.path)?)?;
    define(
        ctx,
        &object,
        Key::Name("query"),
        strings(ctx, &request.query)?,
    )?;
    define(
        ctx,
        &object,
        Key::Name("headers"),
        headers(ctx, &request.headers)?,
    )?;
    define(ctx, &object, Key::Name("body"), to_js(ctx, &request.body)?)?;
    if !request.files.is_empty() {
        let files = Object::new(ctx.clone())?;
        for (field, upload) in &request.files {
            define(ctx, &files, Key::Name(field), upload_to_js(ctx, upload)?)?;
        }
        define(ctx, &object, Key::Name("files"), files.into_value())?;
    }
    Ok(object.into_value())
}

/// The lowercase header names (enumerable: what listing and `JSON.stringify` show), and
/// the canonical ones upstream fazt passes (Go's `Content-Type`, `X-Fazt-Test`) as
/// non-enumerable aliases, so that an app reading either spelling gets the value.
fn headers<'js>(ctx: &Ctx<'js>, map: &BTreeMap<String, String>) -> rquickjs::Result<Value<'js>> {
    let object = strings(ctx, map)?;
    let target = object.as_object().expect("strings makes an object");
    for (name, value) in map {
        let canonical = canonical_header(name);
        if canonical != *name && !map.contains_key(&canonical) {
            let flags = (qjs::JS_PROP_WRITABLE | qjs::JS_PROP_CONFIGURABLE) as i32;
            define_with(
                ctx,
                target,
                Key::Name(&canonical),
                string(ctx, value)?,
                flags,
            )?;
        }
    }
    Ok(object)
}

/// Go's `CanonicalMIMEHeaderKey`: the first letter and each letter after a `-` upper
/// case, the rest lower case.
fn canonical_header(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

fn upload_to_js<'js>(ctx: &Ctx<'js>, upload: &Upload) -> rquickjs::Result<Value<'js>> {
    let object = Object::new(ctx.clone())?;
    define(ctx, &object, Key::Name("name"), string(ctx, &upload.name)?)?;
    define(
        ctx,
        &object,
        Key::Name("type"),
        string(ctx, &upload.content_type)?,
    )?;
    let size = to_js(ctx, &Json::from(upload.data.len()))?;
    define(ctx, &object, Key::Name("size"), size)?;
    let data = rquickjs::ArrayBuffer::new_copy(ctx.clone(), &upload.data)?;
    define(ctx, &object, Key::Name("data"), data.into_value())?;
    Ok(object.into_value())
}

fn string<'js>(ctx: &Ctx<'js>, text: &str) -> rquickjs::Result<Value<'js>> {
    Ok(rquickjs::String::from_str(ctx.clone(), text)?.into_value())
}

fn strings<'js>(ctx: &Ctx<'js>, map: &BTreeMap<String, String>) -> rquickjs::Result<Value<'js>> {
    let object = Object::new(ctx.clone())?;
    for (key, value) in map {
        define(ctx, &object, Key::Name(key), string(ctx, value)?)?;
    }
    Ok(object.into_value())
}

/// `value` as a JavaScript value of `ctx`.
pub fn to_js<'js>(ctx: &Ctx<'js>, value: &Json) -> rquickjs::Result<Value<'js>> {
    Ok(match value {
        Json::Null => Value::new_null(ctx.clone()),
        Json::Bool(flag) => Value::new_bool(ctx.clone(), *flag),
        Json::Number(number) => match number.as_i64().and_then(|n| i32::try_from(n).ok()) {
            Some(small) => Value::new_int(ctx.clone(), small),
            None => Value::new_float(ctx.clone(), number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => string(ctx, text)?,
        Json::Array(items) => {
            let array = Array::new(ctx.clone())?;
            for (index, item) in items.iter().enumerate() {
                let index = u32::try_from(index).map_err(|_| rquickjs::Error::Unknown)?;
                define(ctx, array.as_object(), Key::Index(index), to_js(ctx, item)?)?;
            }
            array.into_value()
        }
        Json::Object(map) => {
            let object = Object::new(ctx.clone())?;
            for (key, item) in map {
                define(ctx, &object, Key::Name(key), to_js(ctx, item)?)?;
            }
            object.into_value()
        }
    })
}

/// A property key: an array index or a name.
enum Key<'a> {
    Index(u32),
    Name(&'a str),
}

/// Defines `key` on `object` as `JSON.parse` does (CreateDataProperty): an own data
/// property, writable, enumerable and configurable, whatever the prototype chain holds.
fn define<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    key: Key<'_>,
    value: Value<'js>,
) -> rquickjs::Result<()> {
    define_with(ctx, object, key, value, qjs::JS_PROP_C_W_E as i32)
}

/// Defines `key` on `object` as an own data property with `flags` (`JS_PROP_*`).
fn define_with<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    key: Key<'_>,
    value: Value<'js>,
    flags: i32,
) -> rquickjs::Result<()> {
    let context = ctx.as_raw().as_ptr();
    // SAFETY: `object` and `value` belong to `ctx`; `JS_DefinePropertyValue*` takes
    // ownership of the reference duplicated here (`value` drops its own), and the atom
    // made from the name is freed after use.
    let defined = unsafe {
        let value = qjs::JS_DupValue(context, value.as_raw());
        match key {
            Key::Index(index) => {
                qjs::JS_DefinePropertyValueUint32(context, object.as_raw(), index, value, flags)
            }
            Key::Name(name) => {
                let atom = qjs::JS_NewAtomLen(context, name.as_ptr().cast(), name.len() as _);
                if atom == qjs::JS_ATOM_NULL {
                    qjs::JS_FreeValue(context, value);
                    -1
                } else {
                    let defined =
                        qjs::JS_DefinePropertyValue(context, object.as_raw(), atom, value, flags);
                    qjs::JS_FreeAtom(context, atom);
                    defined
                }
            }
        }
    };
    if defined < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Runtime};
    use serde_json::json;

    /// Runs `check(built, parsed)` in JavaScript, `built` from `to_js`, `parsed` from
    /// `JSON.parse` of the same value's text; `check` returns a string to compare.
    fn both(value: &Json, check: &str) -> (String, String) {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let check: rquickjs::Function = ctx.eval(check).unwrap();
            let built = to_js(&ctx, value).unwrap();
            let parsed = ctx
                .json_parse(serde_json::to_string(value).unwrap())
                .unwrap();
            (
                check.call::<_, String>((built,)).unwrap(),
                check.call::<_, String>((parsed,)).unwrap(),
            )
        })
    }

    #[test]
    fn values_are_what_json_parse_makes() {
        let value = json!({
            "z": [1, -2147483649_i64, 2.5, -0.0, u64::MAX, null, true, "é\u{1F600}"],
            "a": {"__proto__": {"x": 1}, "0": "index", "": []},
        });
        let describe = r#"(function (v) {
            const seen = [];
            (function walk(x, path) {
                const own = x !== null && typeof x === 'object';
                seen.push(path + ':' + typeof x + ':' + (Object.is(x, -0) ? '-0' : own ? Object.getPrototypeOf(x) === Array.prototype : String(x)));
                if (own) for (const key of Reflect.ownKeys(x)) {
                    const d = Object.getOwnPropertyDescriptor(x, key);
                    seen.push(path + '.' + key + ':' + d.writable + d.enumerable + d.configurable);
                    walk(x[key], path + '.' + key);
                }
            })(v, '');
            return seen.join('\n');
        })"#;
        let (built, parsed) = both(&value, describe);
        assert_eq!(built, parsed);
        assert!(built.contains(".a.__proto__:object:false"), "{built}");
    }

    #[test]
    fn the_request_global_keeps_the_field_order() {
        let request = HandlerRequest {
            method: "POST".into(),
            path: "/api/x".into(),
            query: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
            headers: BTreeMap::from([("x-request-id".into(), "r".into())]),
            body: json!({"text": "hi"}),
            files: BTreeMap::new(),
        };
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let stringify: rquickjs::Function = ctx.eval("JSON.stringify").unwrap();
            let built = request_to_js(&ctx, &request).unwrap();
            let text: String = stringify.call((built,)).unwrap();
            assert_eq!(text, serde_json::to_string(&request).unwrap());
        });
    }
}
