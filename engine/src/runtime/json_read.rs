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
//! Reading is bounded by a budget of bytes of JSON text, counted while reading and
//! checked before the host copies a string: a value holding many references to one
//! large string is refused before the host allocates, instead of being copied once per
//! reference. Text from `JSON.stringify` is measured in the VM's heap before it is
//! copied out.
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

/// Bytes of JSON text a read may still come to. The count is a lower bound of the
/// length of `JSON.stringify`'s text (every number counts one byte, escapes none), so a
/// value refused for its budget is over it in any serialization.
struct Budget {
    left: usize,
}

impl Budget {
    fn spend(&mut self, bytes: usize) -> Result<(), Stop> {
        self.left = self.left.checked_sub(bytes).ok_or(Stop::OverBudget)?;
        Ok(())
    }
}

/// Why a read failed.
#[derive(Debug)]
pub enum ReadError {
    /// `JSON.stringify` threw (a cycle, a BigInt, a throwing getter): pending in `ctx`.
    Js(rquickjs::Error),
    /// The value comes to more bytes of JSON text than the budget allows.
    OverBudget { limit: usize },
}

impl From<rquickjs::Error> for ReadError {
    fn from(error: rquickjs::Error) -> ReadError {
        ReadError::Js(error)
    }
}

/// Why reading plain data stopped.
#[derive(Debug)]
enum Stop {
    /// Not plain data: `JSON.stringify` reads it instead.
    NotPlain,
    OverBudget,
}

/// What `serde_json` parses from `JSON.stringify(value)`; `None` when that is
/// `undefined`; refused when its text would exceed `limit` bytes.
pub fn read<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    intrinsics: &Intrinsics,
    limit: usize,
) -> Result<Option<FromJs>, ReadError> {
    let over = ReadError::OverBudget { limit };
    match plain(ctx, &value, intrinsics, 0, &mut Budget { left: limit }) {
        Ok(plain) => return Ok(plain.map(FromJs::Value)),
        Err(Stop::OverBudget) => return Err(over),
        Err(Stop::NotPlain) => {}
    }
    let Some(text) = ctx.json_stringify(value)? else {
        return Ok(None);
    };
    match bounded_string(ctx, text.as_value(), limit) {
        Bounded::Text(text) => Ok(Some(FromJs::Text(text))),
        Bounded::TooLong => Err(over),
        Bounded::Invalid => Err(ReadError::Js(rquickjs::Error::Unknown)),
    }
}

/// A JavaScript string read as Rust text, if short enough.
pub enum Bounded {
    /// The text; a lone surrogate reads as U+FFFD.
    Text(String),
    /// Over the byte limit: nothing was copied to the host.
    TooLong,
    /// Not a string, or QuickJS could not convert it.
    Invalid,
}

/// `value` as Rust text when it is a string of at most `max` bytes of UTF-8: measured
/// in the VM's heap (bounded by its limit) before the host copies anything.
pub fn bounded_string(ctx: &Ctx<'_>, value: &Value<'_>, max: usize) -> Bounded {
    let Some(string) = value.as_string() else {
        return Bounded::Invalid;
    };
    // A string of more UTF-16 units than `max` has more bytes of UTF-8 than `max`:
    // refused without converting it. Reading a string's `length` runs no script.
    let mut units = 0i64;
    // SAFETY: a live string of `ctx`.
    if unsafe { qjs::JS_GetLength(ctx.as_raw().as_ptr(), string.as_raw(), &mut units) } < 0 {
        let _ = ctx.catch();
        return Bounded::Invalid;
    }
    if units as u64 > max as u64 {
        return Bounded::TooLong;
    }
    let Ok(text) = string.clone().to_cstring() else {
        let _ = ctx.catch();
        return Bounded::Invalid;
    };
    if text.len() > max {
        return Bounded::TooLong;
    }
    // SAFETY: QuickJS made `len` bytes at the pointer; they live as long as `text`.
    let bytes = unsafe { std::slice::from_raw_parts(text.as_ptr().cast::<u8>(), text.len()) };
    Bounded::Text(String::from_utf8_lossy(bytes).into_owned())
}

/// `value` read as plain data, its JSON text spent from `budget`: `Ok(None)` for what
/// `JSON.stringify` leaves out (undefined, a symbol).
fn plain<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
    intrinsics: &Intrinsics,
    depth: usize,
    budget: &mut Budget,
) -> Result<Option<Json>, Stop> {
    let raw = value.as_raw();
    // SAFETY: reading the tag of a live value.
    let tag = unsafe { qjs::JS_VALUE_GET_TAG(raw) };
    let scalar = |json: Option<Json>, budget: &mut Budget| match json {
        Some(json) => {
            budget.spend(match json {
                Json::Null | Json::Bool(_) => 4,
                _ => 1,
            })?;
            Ok(Some(json))
        }
        None => Err(Stop::NotPlain),
    };
    match tag {
        qjs::JS_TAG_UNDEFINED | qjs::JS_TAG_SYMBOL => Ok(None),
        qjs::JS_TAG_NULL => scalar(Some(Json::Null), budget),
        qjs::JS_TAG_BOOL => scalar(value.as_bool().map(Json::Bool), budget),
        qjs::JS_TAG_INT => scalar(value.as_int().map(Json::from), budget),
        qjs::JS_TAG_FLOAT64 => scalar(value.as_float().and_then(number), budget),
        qjs::JS_TAG_STRING | qjs::JS_TAG_STRING_ROPE => {
            budget.spend(2)?;
            match bounded_string(ctx, value, budget.left) {
                // A lone surrogate (read as U+FFFD) is left to `JSON.stringify`,
                // which escapes it.
                Bounded::Text(text) if !text.contains('\u{FFFD}') => {
                    budget.spend(text.len())?;
                    Ok(Some(Json::String(text)))
                }
                Bounded::TooLong => Err(Stop::OverBudget),
                Bounded::Text(_) | Bounded::Invalid => Err(Stop::NotPlain),
            }
        }
        qjs::JS_TAG_OBJECT if depth < DEPTH_MAX => {
            // SAFETY: `raw` is a live object.
            let class = unsafe { qjs::JS_GetClassID(raw) };
            let object = value.as_object().ok_or(Stop::NotPlain)?;
            let prototype = || prototype_address(ctx, value);
            match class {
                CLASS_OBJECT if prototype() == intrinsics.object_prototype => {
                    plain_object(ctx, object, intrinsics, depth, budget)
                }
                CLASS_ARRAY if prototype() == intrinsics.array_prototype => {
                    plain_array(ctx, object, intrinsics, depth, budget)
                }
                _ => Err(Stop::NotPlain),
            }
        }
        _ => Err(Stop::NotPlain),
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
    budget: &mut Budget,
) -> Result<Option<Json>, Stop> {
    if has_own_to_json(ctx, object, intrinsics).ok_or(Stop::NotPlain)? {
        return Err(Stop::NotPlain);
    }
    // `{`, then a comma or `}` per entry.
    budget.spend(1)?;
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
        return Err(Stop::NotPlain);
    }
    let entries = match table.is_null() {
        true => &[][..],
        // SAFETY: QuickJS filled `length` entries.
        false => unsafe { std::slice::from_raw_parts(table, length as usize) },
    };
    let mut map = serde_json::Map::new();
    let mut read = || -> Result<(), Stop> {
        for entry in entries {
            let value = own_data(ctx, object, entry.atom)
                .ok_or(Stop::NotPlain)?
                .ok_or(Stop::NotPlain)?;
            // Left out (undefined, a symbol): no key either.
            let Some(item) = plain(ctx, &value, intrinsics, depth + 1, budget)? else {
                continue;
            };
            // The key's quotes, colon and the comma or `}` after the entry.
            budget.spend(4)?;
            let name = key(ctx, entry.atom, budget.left)?;
            budget.spend(name.len())?;
            map.insert(name, item);
        }
        Ok(())
    };
    let read = read();
    // SAFETY: the table and its atoms were allocated for this context.
    unsafe { qjs::JS_FreePropertyEnum(context, table, length) };
    read.map(|()| Some(Json::Object(map)))
}

fn plain_array<'js>(
    ctx: &Ctx<'js>,
    array: &Object<'js>,
    intrinsics: &Intrinsics,
    depth: usize,
    budget: &mut Budget,
) -> Result<Option<Json>, Stop> {
    if has_own_to_json(ctx, array, intrinsics).ok_or(Stop::NotPlain)? {
        return Err(Stop::NotPlain);
    }
    let context = ctx.as_raw().as_ptr();
    let mut length: i64 = 0;
    // SAFETY: an array's `length` is a data property: reading it runs no script.
    if unsafe { qjs::JS_GetLength(context, array.as_raw(), &mut length) } < 0 {
        let _ = ctx.catch();
        return Err(Stop::NotPlain);
    }
    if !(0..=ARRAY_LENGTH_MAX).contains(&length) {
        return Err(Stop::NotPlain);
    }
    // `[`, then a comma or `]` per item. Items are pushed as they are read (no
    // capacity up front): a sparse array may claim a length it does not hold.
    budget.spend(1)?;
    let mut items = Vec::new();
    for index in 0..length as u32 {
        // SAFETY: an index atom of `ctx`, freed after use.
        let atom = unsafe { qjs::JS_NewAtomUInt32(context, index) };
        if atom == qjs::JS_ATOM_NULL {
            let _ = ctx.catch();
            return Err(Stop::NotPlain);
        }
        let item = own_data(ctx, array, atom);
        // SAFETY: the atom made above.
        unsafe { qjs::JS_FreeAtom(context, atom) };
        budget.spend(1)?;
        let item = match item.ok_or(Stop::NotPlain)? {
            Some(value) => plain(ctx, &value, intrinsics, depth + 1, budget)?,
            None => None,
        };
        // A hole or a left-out value prints `null`.
        if item.is_none() {
            budget.spend(4)?;
        }
        items.push(item.unwrap_or(Json::Null));
    }
    Ok(Some(Json::Array(items)))
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

/// A property name as a Rust string of at most `max` bytes (not plain for a lone
/// surrogate or U+FFFD).
fn key(ctx: &Ctx<'_>, atom: qjs::JSAtom, max: usize) -> Result<String, Stop> {
    let context = ctx.as_raw().as_ptr();
    let mut length = 0;
    // SAFETY: `atom` is alive (the property table holds it); the C string is freed.
    unsafe {
        let text = qjs::JS_AtomToCStringLen(context, &mut length, atom);
        if text.is_null() {
            let _ = ctx.catch();
            return Err(Stop::NotPlain);
        }
        let bytes = std::slice::from_raw_parts(text.cast::<u8>(), length as usize);
        let name = match bytes.len() > max {
            true => Err(Stop::OverBudget),
            false => std::str::from_utf8(bytes)
                .ok()
                .filter(|name| !name.contains('\u{FFFD}'))
                .map(str::to_owned)
                .ok_or(Stop::NotPlain),
        };
        qjs::JS_FreeCString(context, text);
        name
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
                // The budget counts a lower bound of the text: exactly its length fits.
                let limit = text.as_ref().map_or(0, String::len);
                let expected = text.map(|text| serde_json::from_str::<Json>(&text).ok());
                let read = read(&ctx, case, &intrinsics, limit).unwrap();
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
            assert!(
                read(&ctx, cycle, &intrinsics, usize::MAX).is_err(),
                "a cycle throws"
            );
        });
    }

    #[test]
    fn a_value_over_its_budget_is_refused_whichever_way_it_is_read() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let intrinsics = Intrinsics::capture(&ctx).unwrap();
            for source in [
                "const s = 'x'.repeat(1000); [s, s, s]",
                "({ k: 'x'.repeat(3000) })",
                "({ ['k'.repeat(3000)]: 1 })",
                "const p = 'x'.repeat(1000); [p, p, new Date(0), p]",
            ] {
                let value: Value = ctx.eval(source).unwrap();
                assert!(
                    matches!(
                        read(&ctx, value, &intrinsics, 2000),
                        Err(ReadError::OverBudget { limit: 2000 })
                    ),
                    "{source}"
                );
            }
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
            let read_plain = read(&ctx, plain, &intrinsics, usize::MAX).unwrap();
            assert!(matches!(read_plain, Some(FromJs::Value(_))));
            let dated: Value = ctx.eval("({ at: new Date(0) })").unwrap();
            let read_dated = read(&ctx, dated, &intrinsics, usize::MAX).unwrap();
            assert!(matches!(read_dated, Some(FromJs::Text(_))));
        });
    }
}
