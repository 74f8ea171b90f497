//! Turns `openapi.yaml` (the one source of the API description) into the JSON the Worker
//! serves at `/openapi.json`, in `OUT_DIR`.

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=openapi.yaml");
    let yaml = fs::read_to_string("openapi.yaml").expect("openapi.yaml");
    let doc: serde_json::Value = serde_norway::from_str(&yaml).expect("openapi.yaml is valid YAML");
    let json = serde_json::to_string(&doc).expect("JSON");
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    fs::write(out, json).expect("write openapi.json");
}
