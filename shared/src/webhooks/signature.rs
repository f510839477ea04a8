//! `Satsgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! After a secret rotation the header carries one `v1=` per valid secret
//! (new first), so receivers that still hold the old one keep verifying.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Satsgate-Signature";
/// Receivers should refuse signatures older than this (replays).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// hex HMAC-SHA256 of `"<t>.<body>"` keyed with the whole secret string.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value for `body` at time `t`, signed with each secret.
pub fn header_value(secrets: &[&str], t: i64, body: &[u8]) -> String {
    let mut v = format!("t={t}");
    for s in secrets {
        v.push_str(",v1=");
        v.push_str(&sign(s, t, body));
    }
    v
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed signature header")]
    Malformed,
    #[error("no v1 signature matches")]
    Mismatch,
    #[error("signature timestamp is outside the tolerance")]
    Stale,
}

/// What a receiver does: parse the header, check the timestamp is within
/// `tolerance_secs` of `now`, and compare (in constant time) a `v1` with
/// the HMAC computed with `secret`.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            Some(_) => {}
            None => return Err(VerifyError::Malformed),
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if (now - t).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    for sig in sigs {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&sig).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // python3: hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        let s = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(s, sign("whsec_test", 1_700_000_001, br#"{"a":1}"#));
    }

    #[test]
    fn verifies_and_rejects() {
        let body = br#"{"id":"evt_1"}"#;
        let h = header_value(&["whsec_new", "whsec_old"], 1000, body);
        assert!(h.starts_with("t=1000,v1="));
        assert_eq!(verify("whsec_new", &h, body, 1010, 300), Ok(()));
        assert_eq!(
            verify("whsec_old", &h, body, 1010, 300),
            Ok(()),
            "old secret still verifies after rotation"
        );
        assert_eq!(
            verify("whsec_other", &h, body, 1010, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("whsec_new", &h, b"tampered", 1010, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("whsec_new", &h, body, 2000, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify("whsec_new", "v1=00", body, 1000, 300),
            Err(VerifyError::Malformed)
        );
    }
}
