//! The one keyed MAC the service signs with, HMAC-SHA256 over a message given in parts:
//! private links, admin listings' cursors and webhook deliveries each use it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The shortest secret the service signs with or checks a caller against (`LINK_SECRET`,
/// `ADMIN_TOKEN`): a shorter one could be found by trying every value
/// (`openssl rand -base64 32` makes 44 bytes).
pub const MIN_SECRET_BYTES: usize = 16;

/// HMAC-SHA256 with `key` over `parts` one after the other; finish it with `hmac::Mac`'s
/// `finalize` or one of its constant-time `verify_*`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_hmac_sha256_of_the_parts_joined() {
        // RFC 4231, test case 2, its message given whole and in three parts
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let whole = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(hex::encode(whole.finalize().into_bytes()), want);
        let parts = hmac_sha256(b"Jefe", &[b"what do ya", b" want for ", b"nothing?"]);
        assert_eq!(hex::encode(parts.finalize().into_bytes()), want);
    }
}
