//! The API description served at `/openapi.json`: `openapi.yaml`, turned into JSON by
//! build.rs at build time (one source, nothing generated is committed).

/// The OpenAPI 3.1 document, as JSON.
pub const JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_served_document_is_openapi_yaml_and_names_every_route() {
        let doc: Value = serde_json::from_str(JSON).unwrap();
        let yaml: Value = serde_norway::from_str(include_str!("../../openapi.yaml")).unwrap();
        assert_eq!(doc, yaml, "the embedded JSON is the YAML");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        for path in ["/api/v1/health", "/api/v1/files/upload/url", "/api/v1/files/download/{file_id}", "/f/{key_id}/{upload_path}/{file_name}", "/openapi.json"] {
            assert!(paths.contains(&path), "{path} missing from openapi.yaml");
        }
        // every status the error type can produce is documented for the upload
        let documented = doc["paths"]["/api/v1/files/upload/url"]["post"]["responses"].as_object().unwrap();
        for status in [200, 400, 401, 405, 413, 415, 500, 502, 504] {
            assert!(documented.contains_key(&status.to_string()), "{status}");
        }
        let codes = doc["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["enum"].as_array().unwrap();
        let errors = [
            crate::core::Error::InvalidJson(String::new()),
            crate::core::Error::Unauthorized(""),
            crate::core::Error::FileNotFound,
            crate::core::Error::MethodNotAllowed { allow: "" },
            crate::core::Error::BodyTooLarge { limit: 0 },
            crate::core::Error::NotJson,
            crate::core::Error::RangeNotSatisfiable { size: 0 },
            crate::core::Error::internal(""),
            crate::core::Error::OriginBroken,
            crate::core::Error::OriginTimeout { ms: 0 },
        ];
        for err in errors {
            assert!(codes.contains(&Value::from(err.status())), "{err:?}");
        }
    }
}
