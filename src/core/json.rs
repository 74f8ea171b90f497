//! The one reader of JSON request bodies: a `#[derive(Deserialize)]` struct read whole, each
//! error naming the field it concerns.

use serde::de::{self, Deserialize, Deserializer};
use serde_json::error::Category;
use serde_path_to_error::Segment;

use super::error::Error;

/// What a string field must be, told when it is given another type.
pub(crate) const STRING: &str = "must be a string";
/// The message of a field that must be `true` or `false`.
pub(crate) const BOOLEAN: &str = "must be true or false";

/// A request body's type: a struct with `#[serde(deny_unknown_fields)]`, so serde refuses an
/// unknown or a repeated field by name. Every field is optional on the wire (`Option`, or
/// `#[serde(default)]`): a required one is checked on the typed value, so a missing field
/// is [`Error::MissingField`] and serde's own "missing field" never arises.
pub(crate) trait JsonObject<'de>: Deserialize<'de> {
    /// Every field's wire name and what its value must be: the reason of the
    /// [`Error::InvalidField`] that a value of another type gets.
    const FIELDS: &'static [(&'static str, &'static str)];
}

/// The error of a body that holds nothing but whitespace, or no body at all where one is
/// required. serde's "EOF while parsing a value at line 1 column 0" would say less.
pub(crate) fn empty_body() -> Error {
    Error::InvalidJson("the body is empty (send one JSON object)".into())
}

/// Reads `body`, at most `limit` bytes of JSON with one object at the top (after at most
/// one byte order mark), as a `T`. A syntax error anywhere is reported before any field is
/// looked at.
pub(crate) fn read_object<'de, T: JsonObject<'de>>(body: &'de [u8], limit: u64) -> Result<T, Error> {
    if body.len() as u64 > limit {
        return Err(Error::BodyTooLarge { limit });
    }
    // RFC 8259 lets a parser ignore a UTF-8 byte order mark.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if skip_whitespace(body).is_empty() {
        return Err(empty_body());
    }
    // serde_json's own syntax rules, its nesting limit (128) included.
    serde_json::from_slice::<serde_json::Value>(body).map_err(invalid_json)?;
    let text = std::str::from_utf8(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
    read_value(text)
}

/// Reads one well-formed JSON value as a `T`, refusing any value but an object.
fn read_value<'de, T: JsonObject<'de>>(json: &'de str) -> Result<T, Error> {
    // serde would read a struct from an array too, field by field in order.
    let kind = match skip_whitespace(json.as_bytes()).first() {
        Some(b'{') => None,
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("true or false"),
        Some(b'n') => Some("null"),
        _ => Some("a number"),
    };
    if let Some(kind) = kind {
        return Err(Error::NotAnObject(kind));
    }
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(field_error::<T>)?;
    de.end().map_err(invalid_json)?;
    Ok(value)
}

/// A `#[serde(default, deserialize_with = "present")]` field is `Some` whenever the body has
/// it: `null` is read as the field's type (a type error for a string or a bool, `None` for
/// an `Option`) instead of meaning "absent".
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A `#[serde(default, deserialize_with = "whole")]` field: a whole number as `T` (`None`
/// for `null` or absent): `3600`, or `3600.0` and `3.6e3`, since JSON Schema's `integer`
/// (OpenAPI 3.1's) is any number whose fraction is zero, and some JSON writers (Python's
/// `json.dumps(3600.0)`) write one so. A fraction, a sign or a value past `T` is refused.
/// Read as an `f64`, which holds every whole number up to 2^53 exactly: past every field's
/// bound (the largest, a quota, is 2^53 - 1), so a value it rounds is refused all the same.
/// (The browser client reads its bodies with this too: a visitor of its own weighed 1.7 KB.)
pub(crate) fn whole<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<Option<T>, D::Error> {
    let Some(n) = Option::<f64>::deserialize(deserializer)? else { return Ok(None) };
    // 2^64 is the first f64 past u64 (the cast is exact below it for a whole number)
    let fits = n.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&n);
    let value = if fits { T::try_from(n as u64).ok() } else { None };
    value.map(Some).ok_or_else(|| de::Error::custom("not a whole number in the field's range"))
}

/// [`whole`] and [`present`] both: `Some` whenever the body has the field, `Some(None)` for
/// `null`.
pub(crate) fn present_whole<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    whole(deserializer).map(Some)
}

/// A data error under a key is a value of the wrong type for a field of `T`, or a key `T`
/// does not have. Anything else concerns the body as a whole: a repeated field (serde's
/// message names it).
fn field_error<'de, T: JsonObject<'de>>(err: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let key = match err.path().iter().next() {
        Some(Segment::Map { key }) if err.inner().classify() == Category::Data => key.as_str(),
        _ => return invalid_json(err.into_inner()),
    };
    match T::FIELDS.iter().find(|(name, _)| *name == key) {
        Some(&(field, must)) => Error::invalid(field, must),
        None => Error::unknown_field(key),
    }
}

/// `json` from its first byte that is not JSON's whitespace (RFC 8259: space, tab, line
/// feed, carriage return).
fn skip_whitespace(json: &[u8]) -> &[u8] {
    let start = json.iter().position(|b| !b" \t\n\r".contains(b)).unwrap_or(json.len());
    &json[start..]
}

/// serde_json's message, except where it misleads: a `\uD800`-`\uDFFF` escape without its
/// pair is "unexpected end of hex escape" (a high surrogate alone) or "lone leading
/// surrogate" (a low one alone, too), and bytes that are not UTF-8 are "invalid unicode code
/// point".
fn invalid_json(err: serde_json::Error) -> Error {
    let message = err.to_string();
    let what = if ["unexpected end of hex escape", "lone leading surrogate"].iter().any(|m| message.starts_with(m)) {
        "a string holds an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF)"
    } else if message.starts_with("invalid unicode code point") {
        "the body is not UTF-8"
    } else {
        return Error::InvalidJson(message);
    };
    Error::InvalidJson(format!("{what} at line {} column {}", err.line(), err.column()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        text: Option<String>,
        #[serde(default, deserialize_with = "present")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "present")]
        count: Option<Option<u64>>,
    }

    impl JsonObject<'_> for Body {
        const FIELDS: &'static [(&'static str, &'static str)] = &[("text", STRING), ("flag", "must be true or false"), ("count", "must be a count")];
    }

    fn read(json: &str) -> Result<Body, Error> {
        read_object(json.as_bytes(), 64)
    }

    #[test]
    fn null_is_absent_unless_the_field_says_present() {
        let body = |text: Option<&str>, flag, count| Body { text: text.map(Into::into), flag, count };
        let cases = [
            ("{}", body(None, None, None)),
            (r#"{"text":null,"count":null}"#, body(None, None, Some(None))),
            ("\u{FEFF}{\"text\":\"a\",\"flag\":false,\"count\":2}", body(Some("a"), Some(false), Some(Some(2)))),
        ];
        for (json, want) in cases {
            assert_eq!(read(json), Ok(want), "{json}");
        }
    }

    #[test]
    fn errors_name_their_field() {
        let cases = [
            (r#"{"text":1}"#, Error::invalid("text", STRING)),
            (r#"{"flag":null}"#, Error::invalid("flag", "must be true or false")),
            (r#"{"count":-1}"#, Error::invalid("count", "must be a count")),
            (r#"{"text":"a","Text":1}"#, Error::UnknownField("Text".into())),
            (r#"{"text\u0020":1}"#, Error::UnknownField("text ".into())),
        ];
        for (json, want) in cases {
            assert_eq!(read(json), Err(want), "{json}");
        }
    }

    #[test]
    fn the_body_as_a_whole() {
        let cases = [
            ("", 400, "not valid JSON: the body is empty (send one JSON object)"),
            (" \r\n\t", 400, "not valid JSON: the body is empty (send one JSON object)"),
            ("{", 400, "not valid JSON: EOF"),
            (r#"{"text":"a","text":"b"}"#, 400, "not valid JSON: duplicate field `text`"),
            (r#"{"text":null,"text":null}"#, 400, "not valid JSON: duplicate field `text`"),
            (r#"{"x":1,"y":[}"#, 400, "not valid JSON: expected value"),
            (r#"{"text":"a"} {}"#, 400, "not valid JSON: trailing characters"),
            (r#"["a"]"#, 400, "must be a JSON object, not an array"),
            ("\"a\"", 400, "must be a JSON object, not a string"),
            ("false", 400, "must be a JSON object, not true or false"),
            (" null", 400, "must be a JSON object, not null"),
            ("-1", 400, "must be a JSON object, not a number"),
            (r#"{"text":"\ud800"}"#, 400, "not valid JSON: a string holds an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF) at line 1 column 16"),
            (r#"{"text":"\udc00"}"#, 400, "not valid JSON: a string holds an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF) at line 1 column 15"),
            (r#"{"text":"\ud800\ud800"}"#, 400, "not valid JSON: a string holds an unpaired UTF-16 surrogate escape (\\uD800 to \\uDFFF) at line 1 column 21"),
            (r#"{"text":"\ud83d\ude00"}"#, 200, ""),
            (r#"{"text":"\u12"}"#, 400, "not valid JSON: invalid escape at line 1 column 15"),
            (r#"{"text":"01234567890123456789012345678901234567890123456789012345"}"#, 413, "exceeds 64 bytes"),
        ];
        for (json, status, msg) in cases {
            if status == 200 {
                assert!(read(json).is_ok(), "{json}");
                continue;
            }
            let err = read(json).unwrap_err();
            assert_eq!(err.status(), status, "{json}");
            assert!(err.public_message().contains(msg), "{json}: {err}");
        }
        assert_eq!(read_value::<Body>(" 7"), Err(Error::NotAnObject("a number")));
        let not_utf8 = read_object::<Body>(b"{\"text\":\"\xff\"}", 64).unwrap_err();
        assert_eq!(not_utf8.public_message(), "request body is not valid JSON: the body is not UTF-8 at line 1 column 10");
        // nesting past serde_json's limit is refused before the unknown field around it
        let deep = format!(r#"{{"x":{}{}}}"#, "[".repeat(128), "]".repeat(128));
        let err = read_object::<Body>(deep.as_bytes(), 1024).unwrap_err();
        assert!(err.public_message().contains("not valid JSON: recursion limit exceeded"), "{err}");
    }
}
