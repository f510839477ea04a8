//! The SSRF guard for webhook URLs: https only, and never to an address
//! that is not publicly routable (private, loopback, link-local, multicast,
//! unspecified, carrier-grade NAT, reserved, and IPv4-mapped/embedded forms
//! of those). Checked when an endpoint is created or changed, and again at
//! every send against the addresses the name resolves to then: the
//! dispatcher's HTTP client resolves through `GuardedResolver`, so it
//! connects only to addresses that passed the check (no DNS rebinding
//! between check and connect). `allow_insecure` (satsgate-local, tests)
//! allows http and any address.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub const MAX_URL_LEN: usize = 2048;

/// Why an address may not receive webhooks, if it may not.
pub fn forbidden_ip(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4).map(str::to_string),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if o[0] == 0 {
        "unspecified"
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        "shared (carrier-grade NAT)"
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        "IETF protocol"
    } else if ip.is_documentation() {
        "documentation"
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        "benchmarking"
    } else if o[0] >= 240 {
        "reserved"
    } else {
        return None;
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<String> {
    let seg = ip.segments();
    let embedded = |v4: Ipv4Addr, what: &str| forbidden_v4(v4).map(|r| format!("{what} {r}"));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return embedded(v4, "IPv4-mapped");
    }
    let reason = if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_multicast() {
        "multicast"
    } else if (seg[0] & 0xffc0) == 0xfe80 {
        "link-local"
    } else if (seg[0] & 0xffc0) == 0xfec0 {
        "site-local"
    } else if (seg[0] & 0xfe00) == 0xfc00 {
        "unique local (private)"
    } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
        "documentation"
    } else if seg[0] == 0x0100 && seg[1..4] == [0, 0, 0] {
        "discard-only"
    } else if seg[..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated): ::a.b.c.d
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return embedded(Ipv4Addr::new(a, b, c, d), "IPv4-compatible")
            .or(Some("IPv4-compatible".into()));
    } else if seg[0] == 0x0064 && seg[1] == 0xff9b {
        // NAT64: the last 32 bits are an IPv4 address.
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return embedded(Ipv4Addr::new(a, b, c, d), "NAT64");
    } else if seg[0] == 0x2002 {
        // 6to4: bits 16..48 are an IPv4 address.
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return embedded(Ipv4Addr::new(a, b, c, d), "6to4");
    } else {
        return None;
    };
    Some(reason.to_string())
}

/// Check the URL itself (no DNS): a valid absolute URL, https (http only if
/// `allow_insecure`), no credentials, and, unless insecure URLs are
/// allowed, not an IP literal or `localhost` name that is forbidden.
pub fn parse_url(s: &str, allow_insecure: bool) -> Result<Url, String> {
    let s = s.trim();
    if s.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(s).map_err(|e| format!("is not a valid absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => {
            return Err(
                "must use https (http is allowed only on satsgate-local and in tests)".into(),
            )
        }
        other => return Err(format!("must be an https URL, not {other}:")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("must have a host name")?;
    if allow_insecure {
        return Ok(url);
    }
    // The URL parser normalises hosts: an address (in any spelling) is an
    // IP host, `[...]` for IPv6; anything else is a name.
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if ip.is_none() {
        let d = host.trim_end_matches('.').to_ascii_lowercase();
        if d == "localhost" || d.ends_with(".localhost") {
            return Err("must not point to localhost; webhooks go only to public addresses".into());
        }
    }
    if let Some(ip) = ip {
        if let Some(why) = forbidden_ip(ip) {
            return Err(format!(
                "must not point to {ip}, a {why} address; webhooks go only to public addresses"
            ));
        }
    }
    Ok(url)
}

/// Why a host name may not receive webhooks (now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// It does not resolve (no such name, DNS down, no addresses).
    Unresolvable(String),
    /// It resolves to an address webhooks may not go to.
    Forbidden(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Unresolvable(m) | HostError::Forbidden(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for HostError {}

/// Resolve a host name (3 s at most) and refuse it if any address is forbidden.
pub async fn resolve_checked(host: &str) -> Result<Vec<SocketAddr>, HostError> {
    let lookup = tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((host, 0)));
    let addrs: Vec<SocketAddr> = match lookup.await {
        Ok(Ok(a)) => a.collect(),
        Ok(Err(e)) => {
            return Err(HostError::Unresolvable(format!(
                "cannot resolve {host}: {e}"
            )))
        }
        Err(_) => {
            return Err(HostError::Unresolvable(format!(
                "resolving {host} timed out"
            )))
        }
    };
    if addrs.is_empty() {
        return Err(HostError::Unresolvable(format!("{host} has no addresses")));
    }
    for a in &addrs {
        if let Some(why) = forbidden_ip(a.ip()) {
            return Err(HostError::Forbidden(format!(
                "{host} resolves to {}, a {why} address; webhooks go only to public addresses",
                a.ip()
            )));
        }
    }
    Ok(addrs)
}

/// The check at create/update: `parse_url`, then, for a host name, its
/// current addresses. A name that does not resolve (yet) is accepted: every
/// send checks again.
pub async fn check_url(s: &str, allow_insecure: bool) -> Result<String, String> {
    let url = parse_url(s, allow_insecure)?;
    if !allow_insecure {
        let host = url.host_str().unwrap_or_default();
        if !host.starts_with('[') && host.parse::<IpAddr>().is_err() {
            if let Err(HostError::Forbidden(why)) = resolve_checked(host).await {
                return Err(format!("is not allowed: {why}"));
            }
        }
    }
    Ok(url.to_string())
}

/// The dispatcher's DNS resolver: answers only with checked addresses.
#[derive(Debug, Default, Clone, Copy)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve_checked(&host).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(u: &str) -> String {
        parse_url(u, false).expect_err(u)
    }

    #[test]
    fn only_public_https() {
        assert!(parse_url("https://example.com/hook", false).is_ok());
        assert!(parse_url("https://93.184.216.34:8443/x?y=1", false).is_ok());
        assert!(refused("http://example.com/hook").contains("https"));
        assert!(refused("ftp://example.com").contains("https"));
        assert!(refused("not a url").contains("valid"));
        assert!(refused("https://user:pw@example.com/").contains("password"));
        assert!(refused("http://10.0.0.1/").contains("https"));
        assert!(refused("https://10.0.0.1/").contains("private"));
        assert!(refused("https://127.0.0.1/").contains("loopback"));
        assert!(refused("https://[::1]/").contains("loopback"));
        assert!(refused("https://localhost:8080/").contains("localhost"));
        assert!(refused("https://[::ffff:192.168.0.1]/").contains("IPv4-mapped private"));
        assert!(refused("https://169.254.169.254/latest/meta-data").contains("link-local"));
        assert!(refused("https://224.0.0.1/").contains("multicast"));
        assert!(refused("https://0.0.0.0/").contains("unspecified"));
        assert!(refused("https://[::]/").contains("unspecified"));
        assert!(refused("https://[fe80::1]/").contains("link-local"));
        assert!(refused("https://[fd00::1]/").contains("private"));
        assert!(refused("https://100.64.0.1/").contains("carrier-grade"));
        assert!(refused("https://[64:ff9b::10.0.0.1]/").contains("NAT64 private"));
        assert!(refused("https://[2002:c0a8:0001::1]/").contains("6to4 private"));
        // Other spellings of 127.0.0.1 are parsed as the address they are.
        assert!(refused("https://2130706433/").contains("loopback"));
        assert!(refused("https://0x7f.1/").contains("loopback"));
    }

    #[test]
    fn insecure_allows_http_and_loopback() {
        assert!(parse_url("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(parse_url("http://localhost/hook", true).is_ok());
        assert!(parse_url("ftp://127.0.0.1/", true).is_err());
    }

    #[tokio::test]
    async fn resolution_is_checked() {
        let e = resolve_checked("localhost").await.unwrap_err();
        assert!(
            matches!(&e, HostError::Forbidden(m) if m.contains("loopback")),
            "{e}"
        );
        let e = check_url("https://localhost./x", false).await.unwrap_err();
        assert!(e.contains("localhost"), "{e}");
        // The dispatcher's resolver refuses what the check refuses.
        let refused = GuardedResolver.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("loopback")));
        let e = check_url("https://127.0.0.1.nip.invalid/", false).await;
        assert!(
            e.is_ok(),
            "an unresolvable name is accepted at create: {e:?}"
        );
    }
}
