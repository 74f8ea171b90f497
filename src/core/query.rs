//! A request's query parameters: only the names its route knows, each at most once.

use super::Error;

/// The values of the `known` parameters in `pairs`, in `known`'s order (`None`: absent). An
/// unknown name is refused, and so is a name given twice (`?limit=5&limit=6` would otherwise
/// mean whichever a parser happens to keep).
pub fn params<'a, const N: usize>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    known: [&'static str; N],
) -> Result<[Option<&'a str>; N], Error> {
    let mut values = [None; N];
    for (name, value) in pairs {
        let Some(i) = known.iter().position(|k| *k == name) else { return Err(unknown(name, &known)) };
        if values[i].replace(value).is_some() {
            return Err(Error::invalid(known[i], "given more than once"));
        }
    }
    Ok(values)
}

/// `name`, cut to 64 characters (it is echoed to the client), with the names the route takes.
fn unknown(name: &str, known: &[&str]) -> Error {
    let name: String = name.chars().take(64).collect();
    if known.is_empty() {
        return Error::UnknownParameter(format!("`{name}` (this route takes none)"));
    }
    let mut told = format!("`{name}` (this route takes ");
    for (i, k) in known.iter().enumerate() {
        told.push_str(if i == 0 { "`" } else { ", `" });
        told.push_str(k);
        told.push('`');
    }
    told.push(')');
    Error::UnknownParameter(told)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_once_each() {
        assert_eq!(params([("b", "2"), ("a", "")], ["a", "b", "c"]), Ok([Some(""), Some("2"), None]));
        assert_eq!(params([("limit", "5"), ("limit", "6")], ["limit"]), Err(Error::invalid("limit", "given more than once")));
        assert_eq!(params([("limit", ""), ("limit", "")], ["limit"]), Err(Error::invalid("limit", "given more than once")));
        let unknown = params([("x", "1")], ["limit", "cursor"]).unwrap_err();
        assert_eq!(unknown.to_string(), "unknown query parameter `x` (this route takes `limit`, `cursor`)");
        assert_eq!(unknown.status(), 400);
        let long = params([("y".repeat(100).as_str(), "1")], ["limit"]).unwrap_err();
        assert_eq!(long.to_string(), format!("unknown query parameter `{}` (this route takes `limit`)", "y".repeat(64)));
        assert_eq!(params([("dry_run", "1")], []).unwrap_err().to_string(), "unknown query parameter `dry_run` (this route takes none)");
        assert_eq!(params([], []), Ok([]));
    }
}
