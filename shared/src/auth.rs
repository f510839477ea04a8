//! API keys: generation (256 random bits), hashing (only the SHA-256 is
//! stored), parsing of the three accepted headers, IP allowlists.

use base64::Engine as _;
use ipnet::IpNet;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::str::FromStr;

/// What a key may act on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// Manages the stores of an account.
    Account,
    /// Acts on one store.
    Store,
}

impl KeyKind {
    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Account => "sga_",
            KeyKind::Store => "sgs_",
        }
    }
}

/// Marks the keys of test stores (stores on a test network, e.g. the
/// sandbox's regtest): `sgs_test_...`, so a test key is told from a live one
/// at a glance, in code and in logs.
pub const TEST_MARKER: &str = "test_";

/// A new secret key: a kind prefix (+ `TEST_MARKER` for a test store's
/// key) + 32 random bytes, base64url.
pub fn generate_key(kind: KeyKind, test: bool) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{}{}{}",
        kind.prefix(),
        if test { TEST_MARKER } else { "" },
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The stored form of a key: lower-case hex SHA-256.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The first characters of a key, safe to show in listings (with its test
/// marker and four random characters when it has one).
pub fn key_hint(key: &str) -> String {
    let marked = key
        .get(4..)
        .is_some_and(|rest| rest.starts_with(TEST_MARKER));
    let visible: String = key
        .chars()
        .take(if marked { 4 + TEST_MARKER.len() + 4 } else { 8 })
        .collect();
    format!("{visible}…")
}

/// Extract the key from `Authorization: Bearer`, `Authorization: Basic
/// base64(key:)` or `Api-Key`. Ok(None) when no credentials were sent.
pub fn key_from_headers(headers: &http::HeaderMap) -> Result<Option<String>, String> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = v
            .to_str()
            .map_err(|_| "Authorization header is not valid ASCII".to_string())?
            .trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        let rest = rest.trim();
        return match scheme.to_ascii_lowercase().as_str() {
            "bearer" if !rest.is_empty() => Ok(Some(rest.to_string())),
            "basic" if !rest.is_empty() => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .map_err(|_| "Basic credentials are not valid base64".to_string())?;
                let text = String::from_utf8(decoded)
                    .map_err(|_| "Basic credentials are not UTF-8".to_string())?;
                // base64(<key>:) and base64(<key>) [seed 000]: the key is the user
                // name; base64(<user>:<key>) [seed 002]: the key is the password.
                let key = match text.split_once(':') {
                    Some((_, password)) if !password.is_empty() => password,
                    Some((user, _)) => user,
                    None => text.as_str(),
                };
                if key.is_empty() {
                    Err("Basic credentials carry an empty key".into())
                } else {
                    Ok(Some(key.to_string()))
                }
            }
            "bearer" | "basic" => Err(format!("Authorization: {scheme} carries no key")),
            _ => Err(format!(
                "unsupported Authorization scheme `{scheme}`: use `Bearer <key>`, `Basic base64(<key>:)`, `Basic base64(<key>)` or `Basic base64(<user>:<key>)`"
            )),
        };
    }
    if let Some(v) = headers.get("api-key") {
        let v = v
            .to_str()
            .map_err(|_| "Api-Key header is not valid ASCII".to_string())?
            .trim();
        if v.is_empty() {
            return Err("Api-Key header is empty".into());
        }
        return Ok(Some(v.to_string()));
    }
    Ok(None)
}

/// An IP allowlist: single addresses and CIDR ranges, IPv4 and IPv6.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    /// Parse entries like `203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`.
    /// Returns the bad entries' messages if any.
    pub fn parse(entries: &[String]) -> Result<IpAllowlist, Vec<String>> {
        let mut nets = Vec::new();
        let mut errors = Vec::new();
        for e in entries {
            let e = e.trim();
            if let Ok(net) = IpNet::from_str(e) {
                nets.push(net.trunc());
            } else if let Ok(ip) = IpAddr::from_str(e) {
                nets.push(IpNet::from(ip));
            } else {
                errors.push(format!("`{e}` is not an IP address or CIDR range"));
            }
        }
        if errors.is_empty() {
            Ok(IpAllowlist(nets))
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An empty list allows everyone. IPv4-mapped IPv6 callers match IPv4 entries.
    pub fn allows(&self, ip: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|n| {
                if n.prefix_len() == n.max_prefix_len() {
                    n.addr().to_string()
                } else {
                    n.to_string()
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(http::HeaderName::from_str(k).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate_key(KeyKind::Store, false);
        let b = generate_key(KeyKind::Store, false);
        assert_ne!(a, b);
        assert!(a.starts_with("sgs_"));
        assert_eq!(a.len(), 4 + 43, "32 bytes base64url");
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn test_keys_are_marked_and_their_hint_shows_it() {
        let t = generate_key(KeyKind::Store, true);
        assert!(t.starts_with("sgs_test_"), "{t}");
        assert_eq!(key_hint(&t), format!("{}…", &t[..13]));
        let live = generate_key(KeyKind::Store, false);
        assert_eq!(key_hint(&live), format!("{}…", &live[..8]));
    }

    #[test]
    fn parses_all_three_header_forms() {
        let basic = base64::engine::general_purpose::STANDARD.encode("sgs_abc:");
        assert_eq!(
            key_from_headers(&headers(&[("authorization", "Bearer sgs_abc")])).unwrap(),
            Some("sgs_abc".into())
        );
        assert_eq!(
            key_from_headers(&headers(&[("authorization", &format!("Basic {basic}"))])).unwrap(),
            Some("sgs_abc".into())
        );
        assert_eq!(
            key_from_headers(&headers(&[("api-key", "sgs_abc")])).unwrap(),
            Some("sgs_abc".into())
        );
        assert_eq!(key_from_headers(&HeaderMap::new()).unwrap(), None);
        assert!(key_from_headers(&headers(&[("authorization", "Bearer")])).is_err());
        assert!(key_from_headers(&headers(&[("authorization", "Token x")])).is_err());
        assert!(key_from_headers(&headers(&[("authorization", "Basic !!!")])).is_err());
        // seed 000 also sends base64(<key>); seed 002 base64(<user>:<key>)
        for text in ["sgs_abc", "merchant:sgs_abc"] {
            let basic = base64::engine::general_purpose::STANDARD.encode(text);
            assert_eq!(
                key_from_headers(&headers(&[("authorization", &format!("Basic {basic}"))]))
                    .unwrap(),
                Some("sgs_abc".into()),
                "{text}"
            );
        }
        let empty = base64::engine::general_purpose::STANDARD.encode(":");
        assert!(
            key_from_headers(&headers(&[("authorization", &format!("Basic {empty}"))])).is_err()
        );
    }

    #[test]
    fn allowlist_matches_ips_and_cidrs() {
        let l = IpAllowlist::parse(&[
            "203.0.113.7".into(),
            "10.0.0.0/8".into(),
            "2001:db8::/32".into(),
        ])
        .unwrap();
        let ip = |s: &str| Some(IpAddr::from_str(s).unwrap());
        assert!(l.allows(ip("203.0.113.7")));
        assert!(!l.allows(ip("203.0.113.8")));
        assert!(l.allows(ip("10.200.1.1")));
        assert!(l.allows(ip("2001:db8::1")));
        assert!(!l.allows(ip("2001:db9::1")));
        assert!(
            l.allows(ip("::ffff:10.1.2.3")),
            "IPv4-mapped IPv6 matches IPv4 ranges"
        );
        assert!(
            !l.allows(None),
            "unknown source is refused when a list is set"
        );
        assert!(IpAllowlist::default().allows(None));
        let bad = IpAllowlist::parse(&["10.0.0.0/33".into(), "nope".into()]).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert_eq!(
            l.to_strings(),
            vec!["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"]
        );
    }
}
