//! Content types by file extension, and which of them are worth compressing.

/// The type of a file served as `path` (by its extension, case-insensitive);
/// `application/octet-stream` when unknown, so browsers do not guess.
pub fn for_path(path: &str) -> &'static str {
    let file = path.rsplit('/').next().unwrap_or(path);
    let Some((_, extension)) = file.rsplit_once('.') else {
        return "application/octet-stream";
    };
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// True for text-like types that gzip shrinks well (images, fonts and media are
/// already compressed).
pub fn compressible(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/json"
                | "application/manifest+json"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
                | "image/x-icon"
        )
}

/// True for HTML, which must be revalidated on every load (it names the other files).
pub fn is_html(mime: &str) -> bool {
    mime.starts_with("text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_by_extension() {
        assert_eq!(for_path("index.html"), "text/html; charset=utf-8");
        assert_eq!(for_path("assets/app.JS"), "text/javascript; charset=utf-8");
        assert_eq!(for_path("logo.svg"), "image/svg+xml");
        assert_eq!(for_path("dir.v2/README"), "application/octet-stream");
        assert_eq!(for_path("archive.tar.unknown"), "application/octet-stream");
    }

    #[test]
    fn text_is_compressible_images_are_not() {
        assert!(compressible("text/css; charset=utf-8"));
        assert!(compressible("application/json"));
        assert!(!compressible("image/png"));
        assert!(!compressible("font/woff2"));
    }
}
