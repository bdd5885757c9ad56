//! `multipart/form-data` bodies (RFC 7578) as the fakes receive them — the
//! Bot API's uploads, Discord's message creates with files — parsed with
//! `multer`, the parser axum itself uses.

use axum::body::Bytes;

/// One part of a `multipart/form-data` body.
pub(crate) struct FormPart {
    /// Its field name.
    pub(crate) name: String,
    /// Its file name, for a file.
    pub(crate) file_name: Option<String>,
    /// Its `Content-Type`, if given.
    pub(crate) content_type: Option<String>,
    /// Its bytes.
    pub(crate) body: Vec<u8>,
}

/// The parts of `body`, delimited by `boundary`, bytes kept as they are; a
/// malformed body yields the parts before the fault.
pub(crate) async fn form_parts(body: Bytes, boundary: &str) -> Vec<FormPart> {
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Ok(Some(field)) = form.next_field().await {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let Ok(body) = field.bytes().await else {
            break;
        };
        parts.push(FormPart {
            name,
            file_name,
            content_type,
            body: body.to_vec(),
        });
    }
    parts
}

/// `%XX` escapes in a URL path decoded (teloxide sends a file path with its
/// `/` escaped, as one path segment); a broken escape stays as written.
pub(crate) fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binary_files_are_kept_and_fields_named() {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n-100\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"a1\"; filename=\"p.png\"\r\n\
Content-Type: image/png\r\n\r\n"
            .to_vec();
        body.extend_from_slice(b"\x89PNG\r\n\x00\xff--X");
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        let parts = form_parts(Bytes::from(body), "XyZ").await;
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].body.as_slice()),
            ("chat_id", &b"-100"[..])
        );
        assert_eq!(parts[1].file_name.as_deref(), Some("p.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].body, b"\x89PNG\r\n\x00\xff--X");
    }

    #[test]
    fn escaped_paths_decode() {
        assert_eq!(percent_decode("voice%2Ffile_1.oga"), "voice/file_1.oga");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
