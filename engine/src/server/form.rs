//! `multipart/form-data` request bodies for handlers, as upstream fazt reads them
//! (`buildRequest` in its `internal/runtime/handler.go`): the fields' first values in
//! `request.body` (strings; null when there are none) and each field's first file in
//! `request.files`. The body was read whole within the body limit before this runs.

use std::collections::BTreeMap;
use std::convert::Infallible;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::errors::ApiError;
use crate::runtime::Upload;

/// The boundary when `content_type` is `multipart/form-data`.
pub fn boundary(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence
        .eq_ignore_ascii_case("multipart/form-data")
        .then(|| multer::parse_boundary(content_type).ok())
        .flatten()
}

/// The form's fields (as `request.body`) and files.
pub async fn read(
    body: Bytes,
    boundary: String,
) -> Result<(Value, BTreeMap<String, Upload>), ApiError> {
    let invalid = |error: multer::Error| {
        ApiError::bad_request(
            "InvalidForm",
            format!("the multipart form is malformed: {error}"),
        )
    };
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let (mut fields, mut files) = (Map::new(), BTreeMap::new());
    while let Some(field) = form.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) => {
                let content_type = field
                    .content_type()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let data = field.bytes().await.map_err(invalid)?.to_vec();
                files.entry(name).or_insert(Upload {
                    name: file_name,
                    content_type,
                    data,
                });
            }
            None => {
                let text = field.text().await.map_err(invalid)?;
                fields.entry(name).or_insert(Value::String(text));
            }
        }
    }
    let fields = if fields.is_empty() {
        Value::Null
    } else {
        Value::Object(fields)
    };
    Ok((fields, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fields_and_first_files() {
        let body = "--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n\
            --B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nsecond\r\n\
            --B\r\nContent-Disposition: form-data; name=\"pic\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x01\x02\r\n\
            --B--\r\n";
        let (fields, files) = read(Bytes::from(body), "B".into()).await.unwrap();
        assert_eq!(fields, serde_json::json!({"title": "hello"}));
        assert_eq!(
            files["pic"],
            Upload {
                name: "a.png".into(),
                content_type: "image/png".into(),
                data: vec![1, 2]
            }
        );
        assert_eq!(
            boundary("Multipart/Form-Data; boundary=B"),
            Some("B".into())
        );
        assert_eq!(boundary("text/plain; boundary=B"), None);
    }
}
