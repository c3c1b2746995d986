//! The libraries upstream fazt bundles for `require` by bare name (its
//! `internal/runtime/stdlib.go`): lodash, uuid, zod, dayjs, validator, marked, cheerio.
//! The bundles are upstream's own builds, byte for byte, from its last MIT-licensed
//! commit (`stdlib/LICENSE-fazt-bundles`; the libraries' licenses are in
//! `stdlib/THIRD_PARTY_LICENSES`). Each is compiled once per VM, on first use, like an
//! app module, and run afresh in each execution that requires it (as upstream does).

/// The bundles by module name (about 590 KiB of source in all; cheerio is half).
const LIBRARIES: [(&str, &str); 7] = [
    ("cheerio", include_str!("stdlib/cheerio.min.js")),
    ("dayjs", include_str!("stdlib/dayjs.min.js")),
    ("lodash", include_str!("stdlib/lodash.min.js")),
    ("marked", include_str!("stdlib/marked.min.js")),
    ("uuid", include_str!("stdlib/uuid.min.js")),
    ("validator", include_str!("stdlib/validator.min.js")),
    ("zod", include_str!("stdlib/zod.min.js")),
];

/// The bundled library `name`'s source.
pub fn source(name: &str) -> Option<&'static str> {
    LIBRARIES
        .iter()
        .find(|(library, _)| *library == name)
        .map(|(_, source)| *source)
}
