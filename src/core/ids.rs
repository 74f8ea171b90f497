//! Unguessable identifiers: `file_id`s and generated file names.

/// Random bytes as lowercase hex.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the platform has a random source");
    hex::encode(buf)
}

/// `file_` and 128 random bits.
pub fn file_id() -> String {
    format!("file_{}", random_hex(16))
}

/// Whether `id` has the shape [`file_id`] produces (checked before any storage lookup).
pub fn is_file_id(id: &str) -> bool {
    is_id(id, "file_")
}

/// A new job id: `job_` and 128 random bits in hex.
pub fn job_id() -> String {
    format!("job_{}", random_hex(16))
}

/// Whether `id` has the shape [`job_id`] produces.
pub fn is_job_id(id: &str) -> bool {
    is_id(id, "job_")
}

/// A new try of an upload with an `Idempotency-Key`: `try_` and 128 random bits in hex.
pub fn try_id() -> String {
    format!("try_{}", random_hex(16))
}

/// A new webhook signing secret: `whsec_` and 256 random bits in hex.
pub fn webhook_secret() -> String {
    format!("whsec_{}", random_hex(32))
}

fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A unique stored name: 96 random bits and the type's extension.
pub fn generated_name(extension: &str) -> String {
    format!("{}.{extension}", random_hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let a = file_id();
        let b = file_id();
        assert_ne!(a, b);
        assert!(is_file_id(&a), "{a}");
        let name = generated_name("png");
        assert_eq!(name.len(), 28);
        assert!(name.ends_with(".png"));
    }

    #[test]
    fn file_id_shape() {
        let cases = [
            ("file_0123456789abcdef0123456789abcdef", true),
            ("file_0123456789ABCDEF0123456789abcdef", false),
            ("file_0123", false),
            ("0123456789abcdef0123456789abcdef", false),
            ("file_../../etc/passwd0123456789abc", false),
        ];
        for (id, want) in cases {
            assert_eq!(is_file_id(id), want, "{id}");
        }
    }
}
