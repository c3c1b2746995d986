//! JSON values out of JavaScript without JSON text: what `serde_json` would parse from
//! `JSON.stringify(value)`, for storage arguments and the handler's response.
//!
//! Plain data (primitives, and objects and arrays with the intrinsic prototypes, data
//! properties only, no own `toJSON`) is read directly, with no side effect: no getter
//! or `toJSON` runs, so giving up half-way changes nothing. Anything else (getters,
//! `toJSON`, class instances, dates, boxed primitives, proxies, functions, cycles, deep
//! nesting, lone surrogates) goes through `JSON.stringify` itself, which therefore
//! stays the reference for every case by construction.
//!
//! Holes of arrays read as `null`: the prelude freezes `Array.prototype` and
//! `Object.prototype` without index properties, so a hole reads `undefined` there.

use rquickjs::{qjs, Array, Ctx, Object, Value};
use serde_json::Value as Json;

/// Nesting read directly; deeper values go through `JSON.stringify`.
const DEPTH_MAX: usize = 64;
/// Longest array read directly (a sparse array may claim any length).
const ARRAY_LENGTH_MAX: i64 = 1 << 16;
/// QuickJS's class ids of plain objects and arrays (`JS_CLASS_OBJECT`, `JS_CLASS_ARRAY`
/// in quickjs.c; the bindings do not export that enum).
const CLASS_OBJECT: u32 = 1;
const CLASS_ARRAY: u32 = 2;

/// JSON from JavaScript: read directly, or the text `JSON.stringify` made of it.
pub enum FromJs {
    Value(Json),
    Text(String),
}

impl FromJs {
    /// The value; parses the text when there is one.
    pub fn into_value(self) -> serde_json::Result<Json> {
        match self {
            FromJs::Value(value) => Ok(value),
            FromJs::Text(text) => serde_json::from_str(&text),
        }
    }
}

/// The intrinsic `Object.prototype` and `Array.prototype` of a context, by address:
/// only compared, never dereferenced. They live as long as their context.
#[derive(Clone, Copy)]
pub struct Intrinsics {
    object_prototype: *mut std::ffi::c_void,
    array_prototype: *mut std::ffi::c_void,
    /// `toJSON`, one of QuickJS's built-in atoms: constant, never freed.
    to_json: qjs::JSAtom,
}

impl Intrinsics {
    /// Records the prototypes of `{}` and `[]` in `ctx`.
    pub fn capture(ctx: &Ctx<'_>) -> rquickjs::Result<Intrinsics> {
        let object = Object::new(ctx.clone())?.into_value();
        let array = Array::new(ctx.clone())?.into_value();
        let name = "toJSON";
        // SAFETY: a context's atom; `toJSON` is built in, so it needs no freeing.
        let to_json = unsafe {
            qjs::JS_NewAtomLen(ctx.as_raw().as_ptr(), name.as_ptr().cast(), name.len() as _)
        };
        if to_json == qjs::JS_ATOM_NULL {
            return Err(rquickjs::Error::Allocation);
        }
        Ok(Intrinsics {
            object_prototype: prototype_address(ctx, &object),
            array_prototype: prototype_address(ctx, &array),
            to_json,
        })
    }
}

/// What `serde_json` parses from `JSON.stringify(value)`; `None` when that is
/// `undefined`. Errors are `JSON.stringify`'s (a cycle, a BigInt, a throwing getter).
pub fn read<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    intrinsics: &Intrinsics,
) -> rquickjs::Result<Option<FromJs>> {
    if let Some(plain) = plain(ctx, &value, intrinsics, 0) {
        return Ok(plain.map(FromJs::Value));
    }
    match ctx.json_stringify(value)? {
        Some(text) => Ok(Some(FromJs::Text(text.to_string()?))),
        None => Ok(None),
    }
}

/// `value` read as plain data: `Some(None)` for what `JSON.stringify` leaves out
/// (undefined, a symbol), `None` when the value is not plain data.
fn plain<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
    intrinsics: &Intrinsics,
    depth: usize,
) -> Option<Option<Json>> {
    let raw = value.as_raw();
    // SAFETY: reading the tag of a live value.
    let tag = unsafe { qjs::JS_VALUE_GET_TAG(raw) };
    match tag {
        qjs::JS_TAG_UNDEFINED | qjs::JS_TAG_SYMBOL => Some(None),
        qjs::JS_TAG_NULL => Some(Some(Json::Null)),
        qjs::JS_TAG_BOOL => Some(Some(Json::Bool(value.as_bool()?))),
        qjs::JS_TAG_INT => Some(Some(Json::from(value.as_int()?))),
        qjs::JS_TAG_FLOAT64 => Some(Some(number(value.as_float()?)?)),
        qjs::JS_TAG_STRING | qjs::JS_TAG_STRING_ROPE => {
            // A lone surrogate fails the conversion (QuickJS keeps it as invalid UTF-8).
            let text = value.as_string()?.to_string().ok()?;
            (!text.contains('\u{FFFD}')).then_some(Some(Json::String(text)))
        }
        qjs::JS_TAG_OBJECT if depth < DEPTH_MAX => {
            // SAFETY: `raw` is a live object.
            let class = unsafe { qjs::JS_GetClassID(raw) };
            let object = value.as_object()?;
            let prototype = || prototype_address(ctx, value);
            match class {
                CLASS_OBJECT if prototype() == intrinsics.object_prototype => {
                    plain_object(ctx, object, intrinsics, depth)
                }
                CLASS_ARRAY if prototype() == intrinsics.array_prototype => {
                    plain_array(ctx, object, intrinsics, depth)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// A number as `JSON.stringify` prints it and `serde_json` parses it back, when that
/// is exact: non-finite numbers print `null`, safe integers (|x| ≤ 2^53, -0 as 0) print
/// their digits. Other numbers are left to the text (`None`): larger integers print
/// rounded digits, and `serde_json` parses fractions only to within a unit in the
/// last place.
fn number(x: f64) -> Option<Json> {
    const SAFE: f64 = 9_007_199_254_740_992.0;
    if !x.is_finite() {
        return Some(Json::Null);
    }
    if x.fract() != 0.0 || x.abs() > SAFE {
        return None;
    }
    Some(if x >= 0.0 {
        Json::from(x as u64)
    } else {
        Json::from(x as i64)
    })
}

fn plain_object<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    intrinsics: &Intrinsics,
    depth: usize,
) -> Option<Option<Json>> {
    if has_own_to_json(ctx, object, intrinsics)? {
        return None;
    }
    let context = ctx.as_raw().as_ptr();
    let mut table: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
    let mut length: u32 = 0;
    // `Object.keys`' list, in its order: enumerable own string keys.
    let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
    // SAFETY: `object` is an ordinary object of `ctx`; the table is freed below.
    let listed = unsafe {
        qjs::JS_GetOwnPropertyNames(context, &mut table, &mut length, object.as_raw(), flags)
    };
    if listed < 0 {
        let _ = ctx.catch();
        return None;
    }
    let entries = match table.is_null() {
        true => &[][..],
        // SAFETY: QuickJS filled `length` entries.
        false => unsafe { std::slice::from_raw_parts(table, length as usize) },
    };
    let mut map = serde_json::Map::new();
    let mut complete = true;
    for entry in entries {
        let read = key(ctx, entry.atom).and_then(|name| {
            let value = own_data(ctx, object, entry.atom)??;
            Some((name, plain(ctx, &value, intrinsics, depth + 1)?))
        });
        match read {
            Some((name, Some(item))) => {
                map.insert(name, item);
            }
            Some((_, None)) => {}
            None => {
                complete = false;
                break;
            }
        }
    }
    // SAFETY: the table and its atoms were allocated for this context.
    unsafe { qjs::JS_FreePropertyEnum(context, table, length) };
    complete.then_some(Some(Json::Object(map)))
}

fn plain_array<'js>(
    ctx: &Ctx<'js>,
    array: &Object<'js>,
    intrinsics: &Intrinsics,
    depth: usize,
) -> Option<Option<Json>> {
    if has_own_to_json(ctx, array, intrinsics)? {
        return None;
    }
    let context = ctx.as_raw().as_ptr();
    let mut length: i64 = 0;
    // SAFETY: an array's `length` is a data property: reading it runs no script.
    if unsafe { qjs::JS_GetLength(context, array.as_raw(), &mut length) } < 0 {
        let _ = ctx.catch();
        return None;
    }
    if !(0..=ARRAY_LENGTH_MAX).contains(&length) {
        return None;
    }
    let mut items = Vec::with_capacity(length as usize);
    for index in 0..length as u32 {
        // SAFETY: an index atom of `ctx`, freed after use.
        let atom = unsafe { qjs::JS_NewAtomUInt32(context, index) };
        if atom == qjs::JS_ATOM_NULL {
            let _ = ctx.catch();
            return None;
        }
        let item = own_data(ctx, array, atom);
        // SAFETY: the atom made above.
        unsafe { qjs::JS_FreeAtom(context, atom) };
        let item = match item? {
            Some(value) => plain(ctx, &value, intrinsics, depth + 1)?,
            None => None,
        };
        items.push(item.unwrap_or(Json::Null));
    }
    Some(Some(Json::Array(items)))
}

/// An own property's value: `Some(None)` when absent, `None` for an accessor.
fn own_data<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    atom: qjs::JSAtom,
) -> Option<Option<Value<'js>>> {
    let context = ctx.as_raw().as_ptr();
    let mut descriptor = std::mem::MaybeUninit::<qjs::JSPropertyDescriptor>::uninit();
    // SAFETY: `object` is an ordinary object of `ctx` (no trap runs); when found, the
    // descriptor's three values are owned here: the accessors are freed, the value
    // wrapped.
    unsafe {
        let found = qjs::JS_GetOwnProperty(context, descriptor.as_mut_ptr(), object.as_raw(), atom);
        if found < 0 {
            let _ = ctx.catch();
            return None;
        }
        if found == 0 {
            return Some(None);
        }
        let descriptor = descriptor.assume_init();
        let accessor = descriptor.flags & qjs::JS_PROP_GETSET as i32 != 0;
        qjs::JS_FreeValue(context, descriptor.getter);
        qjs::JS_FreeValue(context, descriptor.setter);
        let value = Value::from_raw(ctx.clone(), descriptor.value);
        (!accessor).then_some(Some(value))
    }
}

/// True when `object` has an own `toJSON` (the intrinsic prototypes have none).
fn has_own_to_json(ctx: &Ctx<'_>, object: &Object<'_>, intrinsics: &Intrinsics) -> Option<bool> {
    let context = ctx.as_raw().as_ptr();
    // SAFETY: `object` is an ordinary object of `ctx`; the atom is a built-in one.
    let found = unsafe {
        qjs::JS_GetOwnProperty(
            context,
            std::ptr::null_mut(),
            object.as_raw(),
            intrinsics.to_json,
        )
    };
    if found < 0 {
        let _ = ctx.catch();
        return None;
    }
    Some(found == 1)
}

/// A property name as a Rust string (`None` for a lone surrogate or U+FFFD).
fn key(ctx: &Ctx<'_>, atom: qjs::JSAtom) -> Option<String> {
    let context = ctx.as_raw().as_ptr();
    let mut length = 0;
    // SAFETY: `atom` is alive (the property table holds it); the C string is freed.
    unsafe {
        let text = qjs::JS_AtomToCStringLen(context, &mut length, atom);
        if text.is_null() {
            let _ = ctx.catch();
            return None;
        }
        let bytes = std::slice::from_raw_parts(text.cast::<u8>(), length as usize);
        let name = std::str::from_utf8(bytes).ok().map(str::to_owned);
        qjs::JS_FreeCString(context, text);
        name.filter(|name| !name.contains('\u{FFFD}'))
    }
}

fn prototype_address(ctx: &Ctx<'_>, value: &Value<'_>) -> *mut std::ffi::c_void {
    let context = ctx.as_raw().as_ptr();
    // SAFETY: `value` is an ordinary object or array of `ctx` (no proxy trap runs); the
    // returned reference is freed after reading its address.
    unsafe {
        let prototype = qjs::JS_GetPrototype(context, value.as_raw());
        let address = if qjs::JS_VALUE_GET_TAG(prototype) == qjs::JS_TAG_OBJECT {
            qjs::JS_VALUE_GET_PTR(prototype)
        } else {
            std::ptr::null_mut()
        };
        qjs::JS_FreeValue(context, prototype);
        address
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rquickjs::{Context, Function, Runtime};

    /// JavaScript values of every kind `JSON.stringify` treats differently.
    const CASES: &str = r#"
        const cycle = {}; cycle.self = cycle;
        const counter = { calls: 0 };
        const getter = { get g() { counter.calls += 1; return 1; } };
        const holes = [1, , 3]; holes.length = 5;
        const tagged = [1, 2]; tagged.toJSON = () => 'array';
        const bare = Object.create(null); bare.x = 1;
        class Point { constructor() { this.x = 1; } }
        let deep = 1; for (let i = 0; i < 70; i++) deep = [deep];
        [
          null, true, 0, -0, 1.5, -7, 2147483648, -2147483649, 2 ** 53 + 2, 2 ** 63,
          -(2 ** 63), 2 ** 64, 1e20, 1e21, -1e21, 0.1 + 0.2, 5e-324, 2 ** 53, -(2 ** 53), 3.0, NaN, Infinity, -Infinity,
          'é😀', '', '\ud800', 'a\ufffd', [undefined, () => 1, Symbol('s'), null], holes, tagged,
          { b: 1, a: 2, 10: 'ten', 2: 'two', u: undefined, f() {}, [Symbol('k')]: 1 },
          { __proto__: { inherited: 1 }, own: 1 }, JSON.parse('{"__proto__": 1}'),
          { d: new Date(0), n: new Number(3), s: new String('x'), m: new Map() },
          { toJSON() { return { replaced: true }; } }, getter, bare, new Point(), deep,
          [1, [2, { x: [3, 'y'] }]], { k: '\udc00' }, { '\ud800': 1 }, undefined,
        ]"#;

    #[test]
    fn reading_gives_what_json_stringify_gives() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let intrinsics = Intrinsics::capture(&ctx).unwrap();
            let cases: Array = ctx.eval(CASES).unwrap();
            let stringify: Function = ctx.eval("JSON.stringify").unwrap();
            for (index, case) in cases.iter::<Value>().enumerate() {
                let case = case.unwrap();
                let text: Option<String> = stringify.call((case.clone(),)).unwrap();
                let expected = text.map(|text| serde_json::from_str::<Json>(&text).ok());
                let read = read(&ctx, case, &intrinsics).unwrap();
                assert_eq!(
                    read.map(|read| read.into_value().ok()),
                    expected,
                    "case {index}"
                );
            }
            let calls: i32 = ctx.eval("counter.calls").unwrap();
            assert_eq!(
                calls, 2,
                "the getter ran once for JSON.stringify, once for read"
            );
            let cycle: Value = ctx.eval("cycle").unwrap();
            assert!(read(&ctx, cycle, &intrinsics).is_err(), "a cycle throws");
        });
    }

    #[test]
    fn plain_data_is_read_without_json_text() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let intrinsics = Intrinsics::capture(&ctx).unwrap();
            let plain: Value = ctx
                .eval("({ a: [1, 'x', null, { b: true }], c: -2 })")
                .unwrap();
            let read_plain = read(&ctx, plain, &intrinsics).unwrap();
            assert!(matches!(read_plain, Some(FromJs::Value(_))));
            let dated: Value = ctx.eval("({ at: new Date(0) })").unwrap();
            let read_dated = read(&ctx, dated, &intrinsics).unwrap();
            assert!(matches!(read_dated, Some(FromJs::Text(_))));
        });
    }
}
