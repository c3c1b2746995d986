//! The global object between executions: what the prelude left on it, and putting it
//! back after each execution.
//!
//! The prelude makes every global it leaves non-configurable and read-only, so an
//! execution can only add globals (implicit ones, top-level `var`s and functions of
//! indirect-eval code, `globalThis.x = ...`, `defineProperty`), change the global
//! object's prototype, or make it non-extensible, or stamp private class fields on it
//! (a base constructor that returns `globalThis` lets a subclass add its `#fields` to
//! it: invisible to every key listing of scripts, they could keep anything alive).
//! Restoring deletes the added keys; a key that cannot be deleted, a private field, or a
//! changed prototype or extensibility, means the VM cannot be restored and must go.
//! (Every other intrinsic is frozen, and QuickJS refuses private fields on
//! non-extensible objects.) The standard globals sit on a frozen object behind
//! the global object (prelude.js), so the keys listed after every execution are the
//! contract's handful, not ~80 whose atoms are cold in the cache.

use rquickjs::qjs;
use rquickjs::{Ctx, Object, Persistent, Value};

/// The global object as the prelude left it.
pub struct GlobalBaseline {
    /// Its own keys, sorted. The atoms stay valid: the properties that hold them can
    /// never be deleted.
    keys: Vec<qjs::JSAtom>,
    prototype: Persistent<Value<'static>>,
}

impl GlobalBaseline {
    /// Records the global object of `ctx` as it is now.
    pub fn capture(ctx: &Ctx<'_>) -> rquickjs::Result<GlobalBaseline> {
        let global = ctx.globals();
        let mut keys = own_keys(ctx, &global, PUBLIC_KEYS)?
            .atoms()
            .collect::<Vec<_>>();
        keys.sort_unstable();
        Ok(GlobalBaseline {
            keys,
            prototype: Persistent::save(ctx, prototype(ctx, &global)),
        })
    }

    /// Deletes the globals added since the capture; false when the global object cannot
    /// be brought back.
    pub fn restore(&self, ctx: &Ctx<'_>) -> bool {
        let global = ctx.globals();
        let context = ctx.as_raw().as_ptr();
        // SAFETY: the global object belongs to `ctx` (and is no proxy).
        if unsafe { qjs::JS_IsExtensible(context, global.as_raw()) } != 1 {
            return false;
        }
        let kept = self.prototype.clone().restore(ctx);
        if !kept.is_ok_and(|kept| same_object(&kept, &prototype(ctx, &global))) {
            return false;
        }
        match own_keys(ctx, &global, qjs::JS_GPN_PRIVATE_MASK) {
            Ok(private) if private.length == 0 => {}
            _ => return false,
        }
        let Ok(keys) = own_keys(ctx, &global, PUBLIC_KEYS) else {
            return false;
        };
        for atom in keys.atoms() {
            if self.keys.binary_search(&atom).is_ok() {
                continue;
            }
            // SAFETY: `atom` is alive while `keys` holds it. Deleting a property of an
            // ordinary object runs no script.
            if unsafe { qjs::JS_DeleteProperty(context, global.as_raw(), atom, 0) } != 1 {
                let _ = ctx.catch();
                return false;
            }
        }
        true
    }
}

/// The own keys (strings and symbols) of an object, as QuickJS lists them.
struct OwnKeys<'js> {
    ctx: Ctx<'js>,
    table: *mut qjs::JSPropertyEnum,
    length: u32,
}

impl OwnKeys<'_> {
    fn atoms(&self) -> impl Iterator<Item = qjs::JSAtom> + '_ {
        // SAFETY: QuickJS filled `length` entries (the table is null when there are none).
        let entries = match self.table.is_null() {
            true => &[][..],
            false => unsafe { std::slice::from_raw_parts(self.table, self.length as usize) },
        };
        entries.iter().map(|entry| entry.atom)
    }
}

impl Drop for OwnKeys<'_> {
    fn drop(&mut self) {
        // SAFETY: the table and its atoms were allocated for this context.
        unsafe { qjs::JS_FreePropertyEnum(self.ctx.as_raw().as_ptr(), self.table, self.length) };
    }
}

/// Strings and symbols: the keys scripts can see.
const PUBLIC_KEYS: u32 = qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_SYMBOL_MASK;

/// Lists `object`'s own keys of the kinds in `mask` (`JS_GPN_*_MASK`) without making a
/// JavaScript array of them (the exception is cleared on failure).
fn own_keys<'js>(
    ctx: &Ctx<'js>,
    object: &Object<'js>,
    mask: u32,
) -> rquickjs::Result<OwnKeys<'js>> {
    let mut keys = OwnKeys {
        ctx: ctx.clone(),
        table: std::ptr::null_mut(),
        length: 0,
    };
    let flags = mask as i32;
    // SAFETY: `object` belongs to `ctx`; on success the table is `keys`' to free.
    let listed = unsafe {
        qjs::JS_GetOwnPropertyNames(
            ctx.as_raw().as_ptr(),
            &mut keys.table,
            &mut keys.length,
            object.as_raw(),
            flags,
        )
    };
    if listed < 0 {
        keys.table = std::ptr::null_mut();
        keys.length = 0;
        let _ = ctx.catch();
        return Err(rquickjs::Error::Unknown);
    }
    Ok(keys)
}

/// `object`'s prototype (the global object is no proxy: no trap runs).
fn prototype<'js>(ctx: &Ctx<'js>, object: &Object<'js>) -> Value<'js> {
    // SAFETY: `JS_GetPrototype` returns an owned value for an object of `ctx`.
    unsafe {
        let value = qjs::JS_GetPrototype(ctx.as_raw().as_ptr(), object.as_raw());
        Value::from_raw(ctx.clone(), value)
    }
}

fn same_object(a: &Value<'_>, b: &Value<'_>) -> bool {
    // SAFETY: reading the pointers of two live objects.
    a.is_object()
        && b.is_object()
        && unsafe { qjs::JS_VALUE_GET_PTR(a.as_raw()) == qjs::JS_VALUE_GET_PTR(b.as_raw()) }
}
