//! The API description served at `/openapi.json`: `openapi.yaml`, turned into JSON by
//! build.rs at build time (one source, nothing generated is committed).

/// The OpenAPI 3.1 document, as JSON.
pub const JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::admin::UpdateKey;
    use crate::core::blocklist::BlockBody;
    use crate::core::json::JsonObject;
    use crate::core::request::UploadBody;
    use crate::core::route::tests::sample;
    use crate::core::route::{route, ROUTES};
    use crate::core::takedown::TakedownBody;
    use serde_aux::serde_introspection::serde_introspect;
    use crate::core::Error;
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(JSON).unwrap()
    }

    /// Every `(METHOD, path)` operation the document describes.
    fn operations(doc: &Value) -> Vec<(String, String)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys().filter(|k| *k != "parameters") {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn the_served_document_is_openapi_yaml() {
        let yaml: Value = serde_norway::from_str(include_str!("../../openapi.yaml")).unwrap();
        assert_eq!(doc(), yaml, "the embedded JSON is the YAML");
        assert_eq!(doc()["openapi"], "3.1.0");
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let mut documented = operations(&doc());
        let mut routes: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        documented.sort();
        routes.sort();
        assert_eq!(documented, routes, "openapi.yaml operations vs route::ROUTES");
    }

    /// Every `$ref` in the document points at something that exists.
    #[test]
    fn every_reference_resolves() {
        fn walk(node: &Value, doc: &Value) {
            match node {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').expect("local $ref");
                        assert!(doc.pointer(pointer).is_some(), "dangling {target}");
                    }
                    map.values().for_each(|v| walk(v, doc));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        let doc = doc();
        walk(&doc, &doc);
    }

    /// A request body's schema lists exactly the fields its parser accepts (serde's fields,
    /// which are also its `JsonObject::FIELDS`) and refuses any other, as the parser does.
    fn schema_matches_body<'de, T: JsonObject<'de>>(doc: &Value, schema: &str) {
        let body = std::any::type_name::<T>();
        let node = &doc["components"]["schemas"][schema];
        assert_eq!(node["additionalProperties"], false, "{schema}: additionalProperties");
        let mut documented: Vec<&str> = node["properties"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut accepted: Vec<&str> = serde_introspect::<T>().to_vec();
        let mut told: Vec<&str> = T::FIELDS.iter().map(|(name, _)| *name).collect();
        documented.sort_unstable();
        accepted.sort_unstable();
        told.sort_unstable();
        assert_eq!(told, accepted, "{body}: FIELDS vs its serde fields");
        assert_eq!(documented, accepted, "openapi.yaml {schema}.properties vs {body}");
    }

    #[test]
    fn request_schemas_name_exactly_the_fields_the_bodies_accept() {
        let doc = doc();
        schema_matches_body::<UploadBody>(&doc, "UrlUploadRequest");
        schema_matches_body::<UpdateKey>(&doc, "UpdateKeyRequest");
        schema_matches_body::<TakedownBody>(&doc, "TakedownRequest");
        schema_matches_body::<BlockBody>(&doc, "BlockRequest");
        // and the upload operation's body is that schema
        let upload = &doc["paths"]["/api/v1/files/upload/url"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(upload["$ref"], "#/components/schemas/UrlUploadRequest");
    }

    #[test]
    fn every_error_status_is_documented() {
        let doc = doc();
        let responses = |method: &str, path: &str| doc["paths"][path][method]["responses"].as_object().unwrap().clone();
        // every status the error type can produce is a documented envelope code
        let codes = doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["enum"].as_array().unwrap();
        let errors = [
            Error::InvalidJson(String::new()),
            Error::Unauthorized(""),
            Error::FileNotFound,
            Error::KeyNotFound,
            Error::JobNotFound,
            Error::JobFinished,
            Error::ChecksumMismatch {
                expected: String::new(),
                actual: String::new(),
            },
            Error::MethodNotAllowed { allow: "" },
            Error::BodyTooLarge { limit: 0 },
            Error::NotJson,
            Error::NotUtf8(String::new()),
            Error::EncodedBody,
            Error::NothingToUpdate(""),
            Error::RangeNotSatisfiable { size: 0 },
            Error::PreconditionFailed,
            Error::NoEntityTag,
            Error::QuotaExceeded(String::new()),
            Error::internal(""),
            Error::OriginBroken,
            Error::AdminDisabled,
            Error::OriginTimeout { ms: 0 },
            Error::OriginStalled { ms: 0 },
            Error::OriginTooSlow { ms: 0 },
            Error::OriginCoding(String::new()),
            Error::Forbidden(""),
            Error::LinkExpired,
            Error::LinksDisabled,
            Error::RateLimited { limit: 10, retry_after_secs: 60 },
            Error::Busy,
            Error::BlocklistUnread,
            Error::Updating,
            Error::BodyNotTaken,
            Error::Blocked,
            Error::NotBlocked,
            Error::BlocklistFull(0),
        ];
        for err in errors {
            assert!(codes.contains(&Value::from(err.status())), "{err:?}");
        }
        // the upload can answer every status of a fetch and store, quota included
        let upload = responses("post", "/api/v1/files/upload/url");
        for status in [200, 400, 401, 405, 413, 415, 429, 451, 500, 502, 503, 504] {
            assert!(upload.contains_key(&status.to_string()), "upload {status}");
        }
        // every GET/POST/PATCH/DELETE can be refused by method (405) and fail inside (500),
        // every authenticated one with 401, every admin one with 503
        for (method, path) in ROUTES.iter().filter(|(m, _)| *m != "HEAD") {
            let method = method.to_lowercase();
            let op = &doc["paths"][path][&method];
            let documented = responses(&method, path);
            let mut want = vec![200, 405, 500];
            let matched = route(&method.to_uppercase(), &sample(path)).unwrap();
            // a query parameter, or a body (but to a GET), the route does not take is refused
            if !matched.takes_query() || (!matched.takes_body() && method != "get") {
                want.push(400);
            }
            assert_eq!(op.get("requestBody").is_some(), matched.takes_body(), "{method} {path}: a body is documented where one is read");
            let security = op.get("security").or(doc.get("security")).and_then(Value::as_array).unwrap();
            let schemes: Vec<&String> = security.iter().flat_map(|s| s.as_object().unwrap().keys()).collect();
            if !schemes.is_empty() {
                want.push(401);
            }
            if schemes.iter().any(|s| *s == "adminAuth") {
                want.push(503);
            }
            if op.get("requestBody").is_some() {
                want.extend([400, 413, 415]);
            }
            for status in want {
                assert!(documented.contains_key(&status.to_string()), "{method} {path}: {status}");
            }
        }
        // a query parameter on a route that takes none is refused, HEAD included
        for (method, path) in ROUTES.iter().filter(|(m, _)| *m == "HEAD") {
            if !route(method, &sample(path)).unwrap().takes_query() {
                assert!(responses("head", path).contains_key("400"), "HEAD {path}: 400");
            }
        }
        // admin operations authenticate with ADMIN_TOKEN, the others with an API key
        for (method, path) in ROUTES {
            let op = &doc["paths"][path][method.to_lowercase()];
            let admin = path.starts_with("/api/v1/admin/");
            let security = op.get("security").unwrap_or(&doc["security"]);
            assert_eq!(security.to_string().contains("adminAuth"), admin, "{method} {path}");
        }
    }
}
