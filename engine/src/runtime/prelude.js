// Runs once when a VM is created. Installs the handler contract's globals (respond,
// console, require, fazt), then locks the VM down (see the end), and returns the
// helpers the engine drives executions with. `host` holds the native functions; it is
// never reachable from scripts.
(function (host) {
  'use strict';
  const RealDate = Date;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  // Intrinsics taken now: a script's global of the same name cannot stand in for them.
  const Buffer = ArrayBuffer, isView = ArrayBuffer.isView, Bytes = Uint8Array, fromCharCode = String.fromCharCode;
  const floor = Math.floor;

  // ----- time and randomness from the engine's Clock and Rng -----
  function FaztDate(...args) {
    if (new.target === undefined) return new RealDate(host.now()).toString();
    return args.length === 0 ? new RealDate(host.now()) : new RealDate(...args);
  }
  Object.defineProperty(FaztDate, 'prototype', { value: RealDate.prototype });
  FaztDate.now = function now() { return host.now(); };
  FaztDate.parse = RealDate.parse;
  FaztDate.UTC = RealDate.UTC;
  globalThis.Date = FaztDate;
  Math.random = function random() { return host.random(); };
  globalThis.performance = { now: function now() { return host.monotonic(); } };

  // ----- respond: builds the response the script's completion value carries -----
  const RESPONSE = Symbol('fazt.response');
  // The last response `respond` built in this execution: a script run as a function body
  // (it has a top-level `return`) whose last statement is `respond(...)` answers it.
  let built;
  function build(status, body, headers) {
    built = { [RESPONSE]: true, status, body, headers };
    return built;
  }
  globalThis.respond = function respond(status, body, headers) {
    if (arguments.length === 0) return build(200, undefined, {});
    if (typeof status !== 'number') return build(200, status, {});
    return build(status, body, headers || {});
  };

  // ----- console: arguments joined, captured per execution with their level -----
  function format(value) {
    if (typeof value === 'string') return value;
    if (value instanceof Error) return value.stack ? value.name + ': ' + value.message + '\n' + value.stack : String(value);
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
    try { const text = stringify(value); return text === undefined ? String(value) : text; } catch (e) { return String(value); }
  }
  // console.log is info, as upstream logs it.
  const console = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const as = level === 'log' ? 'info' : level;
    console[level] = function (...args) { host.log(as, args.map(format).join(' ')); };
  }
  // fazt.log.*: the first argument as a string, nothing without one (upstream's fazt.go).
  const log = {};
  for (const level of ['info', 'warn', 'error', 'debug']) {
    log[level] = function (...args) { if (args.length > 0) host.log(level, String(args[0])); };
  }
  globalThis.console = console;

  // ----- require: CommonJS modules from api/, cached per execution -----
  let modules = new Map();
  function resolve(name) {
    let path = String(name);
    if (path.startsWith('./')) path = path.slice(2);
    if (path.startsWith('api/')) path = path.slice(4);
    if (!path.endsWith('.js')) path += '.js';
    return 'api/' + path;
  }
  // The libraries upstream bundles (stdlib.rs) get a `crypto` whose random bytes come
  // from the engine's Rng (uuid asks for one; goja, upstream's engine, has none).
  const crypto = Object.freeze({
    getRandomValues(array) {
      const view = new Bytes(array.buffer, array.byteOffset, array.byteLength);
      for (let i = 0; i < view.length; i++) view[i] = floor(host.random() * 256);
      return array;
    },
  });
  function instantiate(key, factory, extra) {
    const module = { exports: {} };
    modules.set(key, module);
    factory(module, module.exports, globalThis.require, extra);
    return module.exports;
  }
  globalThis.require = function require(name) {
    // A bare name upstream bundles wins over an app file of that name, as upstream.
    const library = 'lib:' + String(name);
    if (modules.has(library)) return modules.get(library).exports;
    const bundled = host.library(String(name));
    if (bundled !== undefined) return instantiate(library, bundled, crypto);
    const path = resolve(name);
    if (modules.has(path)) return modules.get(path).exports;
    // A fresh instance of the module's factory, compiled once per VM.
    const factory = host.module(path);
    if (factory === undefined) throw new Error("Cannot find module '" + name + "' (looked for " + path + ')');
    return instantiate(path, factory);
  };

  // ----- fazt: app, env, storage -----
  // The engine reads `args` as JSON.stringify would (json_value.rs).
  function call(operation, args) {
    const answer = host.storage(operation, args);
    return answer === undefined ? undefined : parse(answer);
  }
  // Every binding passes its arguments as given (their count included), so that the
  // engine checks them as upstream fazt does (storage_call.rs).
  const bind = (operation) => (...args) => call(operation, args);
  const kv = {
    get: bind('kv.get'),
    // NaN and ±Infinity would reach the engine as null (no expiry): sent as text, refused.
    set: (...args) => {
      if (typeof args[2] === 'number' && !Number.isFinite(args[2])) args[2] = String(args[2]);
      return call('kv.set', args);
    },
    delete: bind('kv.delete'),
    list: bind('kv.list'),
  };
  const ds = {
    insert: bind('ds.insert'), find: bind('ds.find'), findOne: bind('ds.findOne'),
    count: bind('ds.count'), update: bind('ds.update'), delete: bind('ds.delete'),
    deleteOldest: bind('ds.deleteOldest'),
  };
  // Binary data (an ArrayBuffer or a typed array) travels as one character per byte.
  // Characters per `fromCharCode` call: well under QuickJS's argument-count limit.
  const BYTES_CHUNK = 8192;
  function bytes(data) {
    const view = data instanceof Buffer ? new Bytes(data)
      : isView(data) ? new Bytes(data.buffer, data.byteOffset, data.byteLength) : null;
    if (view === null) return null;
    let text = '';
    for (let i = 0; i < view.length; i += BYTES_CHUNK) text += fromCharCode.apply(null, view.subarray(i, i + BYTES_CHUNK));
    return text;
  }
  const s3 = {
    put: (...args) => {
      const binary = bytes(args[1]);
      if (binary === null) return call('s3.put', args);
      args[1] = binary;
      return call('s3.putBytes', args);
    },
    get: bind('s3.get'),
    delete: bind('s3.delete'),
    list: bind('s3.list'),
  };
  globalThis.fazt = {
    app: {
      get id() { return host.app().id; },
      get name() { return host.app().name; },
      kv, ds, s3,
    },
    env: {
      get: (key, fallback) => { const value = host.env(String(key)); return value === undefined ? fallback : value; },
      has: (key) => host.env(String(key)) !== undefined,
    },
    storage: { kv, ds, s3 },
    log,
    // The upstream API version whose bindings this runtime follows (what upstream's
    // internal/runtime/fazt.go reports).
    version: '0.8.0',
  };

  // ----- the engine's helpers -----
  // The response, which the engine reads as JSON.stringify would (json_value.rs).
  const keys = Object.keys, isArray = Array.isArray;
  // An object of upstream's response shape, `{status, body?, headers?}` with a numeric
  // status and no other key, is a response as `respond`'s are.
  function isResponse(value) {
    if (value === null || typeof value !== 'object') return false;
    if (value[RESPONSE] === true) return true;
    return !isArray(value) && typeof value.status === 'number'
      && keys(value).every((key) => key === 'status' || key === 'body' || key === 'headers');
  }
  // `functionBody`: the script ran as a function body (compile.rs).
  function finish(value, functionBody) {
    if (value === undefined && functionBody && built !== undefined) value = built;
    if (isResponse(value)) {
      const headers = {};
      for (const name of keys(value.headers || {})) headers[name] = String(value.headers[name]);
      return { status: value.status, headers, body: value.body === undefined ? null : value.body, empty: value.body === undefined };
    }
    // No value: 200 with an empty body, as upstream.
    if (value === undefined || value === null) return { status: 200, headers: {}, body: null, empty: true };
    return { status: 200, headers: {}, body: value, empty: false };
  }
  // `request` is one permanent read-only global, so that an execution adds no global
  // of its own for the engine's reset (globals.rs) to delete.
  let currentRequest = null;
  Object.defineProperty(globalThis, 'request', { get() { return currentRequest; }, enumerable: true, configurable: false });
  // Called with the request before the script, and with null after it.
  function begin(request) {
    currentRequest = request;
    built = undefined;
    if (modules.size > 0) modules = new Map();
  }
  // The longest name, message or stack an error reports, in UTF-16 units (16 KiB):
  // longer ones are cut, so that an error never carries a large value out of the VM.
  const ERROR_TEXT_MAX = 16384;
  const text = (value) => String(value).slice(0, ERROR_TEXT_MAX);
  function describe(error) {
    if (error === null || (typeof error !== 'object' && typeof error !== 'function')) {
      return stringify({ name: 'Error', message: text(error), stack: '' });
    }
    return stringify({
      name: text(error.name || 'Error'),
      message: text(error.message === undefined ? error : error.message),
      stack: text(error.stack || ''),
      retryable: error.retryable === true,
      kind: typeof error.kind === 'string' ? text(error.kind) : undefined,
    });
  }

  // ----- lockdown -----
  // Intrinsic state that freezing does not lock. QuickJS-ng's accessors on intrinsics
  // with a setter (every JS_CGETSET_DEF / JS_CGETSET_MAGIC_DEF with a setter in
  // quickjs.c of rquickjs-sys 0.14) are:
  // - `Error.prepareStackTrace` and `Error.stackTraceLimit`: their setters write the
  //   context's own `error_prepare_stack` / `error_stack_trace_limit`, which every
  //   later error's stack trace reads (the first is a hook that runs script code; the
  //   second is converted with ToNumber, which may run script code too). Replaced
  //   below by inert read-only data properties; the C side only ever reads its own
  //   fields, so nothing can reach them once the accessors are gone.
  // - `Object.prototype.__proto__`: sets the prototype of `this`, which a frozen object
  //   refuses; `Error.prototype.stack` and `Iterator.prototype[Symbol.toStringTag]`:
  //   define an own property on `this`, refused on their home object and on any frozen
  //   one. No context state: hardening covers them.
  const stackTraceLimit = Error.stackTraceLimit;
  Object.defineProperty(Error, 'prepareStackTrace', { value: undefined, writable: false, enumerable: false, configurable: false });
  Object.defineProperty(Error, 'stackTraceLimit', { value: stackTraceLimit, writable: false, enumerable: false, configurable: false });
  // Finalizers and weak references run or reveal code at moments no request chooses
  // (goja, fazt's engine, has neither).
  delete globalThis.WeakRef;
  delete globalThis.FinalizationRegistry;
  // Properties commonly assigned on instances, which freezing the prototype would
  // otherwise make fail ("override mistake"): accessors that define an own property.
  const overridable = {
    Object: ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'toLocaleString'],
    Error: ['name', 'message', 'toString', 'constructor'],
    Function: ['toString', 'constructor', 'bind', 'call', 'apply'],
  };
  for (const name of ['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']) {
    if (globalThis[name]) overridable[name] = ['name', 'message', 'constructor'];
  }
  for (const [global, properties] of Object.entries(overridable)) {
    const target = globalThis[global].prototype;
    for (const property of properties) {
      const descriptor = Object.getOwnPropertyDescriptor(target, property);
      if (!descriptor || !('value' in descriptor)) continue;
      const value = descriptor.value;
      Object.defineProperty(target, property, {
        get() { return value; },
        set(next) {
          if (this === target) throw new TypeError('Cannot assign to read only property ' + property);
          Object.defineProperty(this, property, { value: next, writable: true, enumerable: true, configurable: true });
        },
        enumerable: descriptor.enumerable,
        configurable: false,
      });
    }
  }
  // Freeze everything reachable from the globals.
  const seen = new Set();
  function harden(root) {
    const queue = [root];
    while (queue.length > 0) {
      const value = queue.pop();
      if ((typeof value !== 'object' && typeof value !== 'function') || value === null || seen.has(value)) continue;
      seen.add(value);
      Object.freeze(value);
      queue.push(Object.getPrototypeOf(value));
      for (const key of Reflect.ownKeys(value)) {
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        if ('value' in descriptor) queue.push(descriptor.value);
        else { queue.push(descriptor.get); queue.push(descriptor.set); }
      }
    }
  }
  // The standard globals move to a frozen object behind the global object, so that the
  // global object itself holds only the contract's globals: the engine lists its own
  // keys after every execution (globals.rs), and listing ~80 keys of a VM whose memory
  // is cold in the cache cost more than the rest of a small execution. Lookups find
  // them one step up the chain; assigning one fails as it did (read-only, inherited).
  const contract = new Set(['globalThis', 'request', 'respond', 'console', 'require', 'fazt']);
  const standard = Object.create(Object.getPrototypeOf(globalThis));
  // Found on `standard` while they move.
  Object.setPrototypeOf(globalThis, standard);
  for (const key of Reflect.ownKeys(globalThis)) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, key);
    if (contract.has(key) || !descriptor.configurable) continue;
    Object.defineProperty(standard, key, descriptor);
    delete globalThis[key];
  }
  // The globals existing now become read-only; scripts run as indirect-eval code, so
  // what they declare is deletable, and the engine deletes it after every execution
  // (globals.rs).
  for (const key of Reflect.ownKeys(globalThis)) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, key);
    if ('value' in descriptor && key !== 'globalThis') harden(descriptor.value);
    Object.defineProperty(globalThis, key, 'value' in descriptor ? { writable: false, configurable: false } : { configurable: false });
  }
  harden(Object.getPrototypeOf(globalThis));
  // Intrinsics no global reaches: the prototypes of async and generator functions and
  // of the built-in iterators.
  const hidden = [async function () {}, function* () {}, async function* () {},
    [][Symbol.iterator](), ''[Symbol.iterator](), new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](), /x/[Symbol.matchAll]('')];
  if (typeof Iterator === 'function') hidden.push([].values().map((x) => x), Iterator.from({ next() {} }));
  for (const value of hidden) harden(Object.getPrototypeOf(value));
  return { finish, begin, describe };
})
