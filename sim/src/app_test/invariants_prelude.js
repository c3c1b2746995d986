// The world an app's invariants see: read-only kv/ds/s3 views of its final storage and
// the history of requests and answers. `__storage` and `__history` are JSON texts set
// by the simulator; the app's `sim/invariants.js` then runs with `exports`.
var __data = JSON.parse(__storage);
var history = JSON.parse(__history);
function __matches(doc, query) {
  for (var field in query || {}) {
    var value = field.split('.').reduce(function (v, f) { return v == null ? undefined : v[f]; }, doc);
    if (JSON.stringify(value) !== JSON.stringify(query[field])) return false;
  }
  return true;
}
function __frozen(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }
var kv = {
  get: function (key) { return __frozen(__data.kv[key]); },
  list: function (prefix) {
    return Object.keys(__data.kv).filter(function (k) { return k.indexOf(prefix || '') === 0; })
      .map(function (k) { return { key: k, value: __frozen(__data.kv[k]) }; });
  }
};
var ds = {
  find: function (coll, query) {
    return (__data.ds[coll] || []).filter(function (d) { return __matches(d, query); }).map(__frozen);
  },
  findOne: function (coll, idOrQuery) {
    var query = typeof idOrQuery === 'string' ? { id: idOrQuery } : idOrQuery;
    var found = ds.find(coll, query);
    return found.length ? found[0] : null;
  },
  count: function (coll, query) { return ds.find(coll, query).length; }
};
var s3 = {
  get: function (path) { return __data.s3[path] ? __frozen(__data.s3[path]) : null; },
  list: function (prefix) {
    return Object.keys(__data.s3).filter(function (p) { return p.indexOf(prefix || '') === 0; })
      .map(function (p) { return { path: p, mime: __data.s3[p].mime, size: __data.s3[p].size }; });
  }
};
var exports = {};
var module = { exports: exports };
