//! The SSRF guard for webhook URLs. Two kinds of address are refused:
//! - in every mode: link-local (169.254.0.0/16, fe80::/10) and the
//!   well-known cloud metadata and platform addresses (169.254.169.254,
//!   fd00:ec2::/32, fd20:ce::254, 100.100.100.200, 168.63.129.16, ...),
//!   multicast, broadcast, unspecified, carrier-grade NAT, documentation,
//!   benchmarking and reserved ranges;
//! - unless insecure URLs are allowed (satsgate-local on loopback, tests):
//!   loopback and private ranges (10/8, 172.16/12, 192.168/16, fc00::/7),
//!   and http.
//!
//! IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
//! translated `::ffff:0:a.b.c.d`, compatible `::a.b.c.d`, 6to4 `2002::/16`,
//! NAT64 `64:ff9b::/96`, Teredo `2001::/32`) are judged as the IPv4 address
//! they carry. Checked when an endpoint or an invoice's `webhook_url` is
//! saved (same function, `check_url`), and again at every send against the
//! addresses the name resolves to then: the dispatcher's HTTP client
//! resolves through `GuardedResolver`, so it connects only to addresses
//! that passed the check (no DNS rebinding between check and connect).

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

pub const MAX_URL_LEN: usize = 2048;

/// Host names of cloud metadata services, refused in every mode (they
/// resolve to link-local addresses inside a cloud, or not at all outside).
const METADATA_HOSTS: [&str; 6] = [
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
];

/// Where an address sits, for webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    Public,
    /// Loopback or private: allowed only with insecure URLs.
    Local(String),
    /// Never allowed (link-local, metadata, reserved, ...).
    Never(String),
}

impl Reach {
    fn local(why: &str) -> Reach {
        Reach::Local(why.to_string())
    }

    fn never(why: &str) -> Reach {
        Reach::Never(why.to_string())
    }

    /// The same verdict for an IPv4 address carried in an IPv6 form.
    fn carried(self, form: &str) -> Reach {
        match self {
            Reach::Public => Reach::Public,
            Reach::Local(r) => Reach::Local(format!("{form} {r}")),
            Reach::Never(r) => Reach::Never(format!("{form} {r}")),
        }
    }
}

/// Why an address may not receive webhooks, if it may not. With
/// `allow_insecure`, loopback and private addresses may.
pub fn forbidden_ip(ip: IpAddr, allow_insecure: bool) -> Option<String> {
    let reach = match ip {
        IpAddr::V4(v4) => reach_v4(v4),
        IpAddr::V6(v6) => reach_v6(v6),
    };
    match reach {
        Reach::Public => None,
        Reach::Local(_) if allow_insecure => None,
        Reach::Local(why) | Reach::Never(why) => Some(why),
    }
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    let o = ip.octets();
    if ip.is_link_local() {
        return Reach::never(if o[2] == 169 && o[3] == 254 {
            "link-local (cloud metadata)"
        } else {
            "link-local"
        });
    }
    if o == [100, 100, 100, 200] || o == [168, 63, 129, 16] || o == [192, 0, 0, 192] {
        return Reach::never("cloud metadata");
    }
    if ip.is_loopback() {
        return Reach::local("loopback");
    }
    if ip.is_private() {
        return Reach::local("private");
    }
    Reach::never(if ip.is_multicast() {
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
        return Reach::Public;
    })
}

/// The IPv4 address in two 16-bit segments.
fn v4_of(hi: u16, lo: u16) -> Ipv4Addr {
    let [a, b] = hi.to_be_bytes();
    let [c, d] = lo.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

fn reach_v6(ip: Ipv6Addr) -> Reach {
    let seg = ip.segments();
    if ip.is_loopback() {
        return Reach::local("loopback");
    }
    if ip.is_unspecified() {
        return Reach::never("unspecified");
    }
    // Forms that carry an IPv4 address are judged as that address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return reach_v4(v4).carried("IPv4-mapped");
    }
    if seg[..4] == [0, 0, 0, 0] && seg[4] == 0xffff && seg[5] == 0 {
        return reach_v4(v4_of(seg[6], seg[7])).carried("IPv4-translated");
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        return reach_v4(v4_of(seg[6], seg[7])).carried("IPv4-compatible");
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return reach_v4(v4_of(seg[6], seg[7])).carried("NAT64");
    }
    if seg[0] == 0x2002 {
        return reach_v4(v4_of(seg[1], seg[2])).carried("6to4");
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo: the server's IPv4 in bits 32..64, the client's (inverted)
        // in the last 32 bits; both must be public.
        let client = reach_v4(v4_of(!seg[6], !seg[7])).carried("Teredo");
        return match client {
            Reach::Public => reach_v4(v4_of(seg[2], seg[3])).carried("Teredo server"),
            other => other,
        };
    }
    if (seg[0] & 0xffc0) == 0xfe80 {
        return Reach::never("link-local");
    }
    if seg[0] == 0xfd00 && seg[1] == 0x0ec2 {
        return Reach::never("cloud metadata (AWS fd00:ec2::/32)");
    }
    if seg[..2] == [0xfd20, 0x00ce] && seg[2..7] == [0, 0, 0, 0, 0] && seg[7] == 0x254 {
        return Reach::never("cloud metadata (GCP)");
    }
    if (seg[0] & 0xfe00) == 0xfc00 {
        return Reach::local("unique local (private)");
    }
    Reach::never(if ip.is_multicast() {
        "multicast"
    } else if (seg[0] & 0xffc0) == 0xfec0 {
        "site-local"
    } else if (seg[0] == 0x2001 && seg[1] == 0x0db8) || (seg[0] == 0x3fff && seg[1] < 0x1000) {
        "documentation"
    } else if seg[0] == 0x0100 && seg[1..4] == [0, 0, 0] {
        "discard-only"
    } else if seg[..3] == [0x64, 0xff9b, 1] {
        "local-use NAT64"
    } else {
        return Reach::Public;
    })
}

/// Check the URL itself (no DNS): a valid absolute URL, https (http only if
/// `allow_insecure`), no credentials, not a metadata host name, not an IP
/// literal that is forbidden, and (unless insecure URLs are allowed) not a
/// `localhost` name.
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
    // The URL parser normalises hosts: an address (in any spelling) is an
    // IP host, `[...]` for IPv6; anything else is a name.
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    match ip {
        Some(ip) => check_ip(ip, allow_insecure)?,
        None => {
            let d = host.trim_end_matches('.').to_ascii_lowercase();
            if METADATA_HOSTS.contains(&d.as_str()) {
                return Err(format!(
                    "must not point to {d}, a cloud metadata service; webhooks go only to public addresses"
                ));
            }
            if !allow_insecure && (d == "localhost" || d.ends_with(".localhost")) {
                return Err(
                    "must not point to localhost; webhooks go only to public addresses".into(),
                );
            }
        }
    }
    Ok(url)
}

fn check_ip(ip: IpAddr, allow_insecure: bool) -> Result<(), String> {
    match forbidden_ip(ip, allow_insecure) {
        Some(why) => Err(format!(
            "must not point to {ip}, a {why} address; webhooks go only to public addresses"
        )),
        None => Ok(()),
    }
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

/// Resolve a host name (3 s at most) and refuse it if any address is
/// forbidden (with `allow_insecure`, loopback and private ones are not).
pub async fn resolve_checked(
    host: &str,
    allow_insecure: bool,
) -> Result<Vec<SocketAddr>, HostError> {
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
        if let Some(why) = forbidden_ip(a.ip(), allow_insecure) {
            return Err(HostError::Forbidden(format!(
                "{host} resolves to {}, a {why} address; webhooks go only to public addresses",
                a.ip()
            )));
        }
    }
    Ok(addrs)
}

/// The check when an endpoint's `url` or an invoice's `webhook_url` is
/// saved: `parse_url`, then, for a host name, its current addresses (in
/// every mode). A name that does not resolve (yet) is accepted: every send
/// checks again.
pub async fn check_url(s: &str, allow_insecure: bool) -> Result<String, String> {
    let url = parse_url(s, allow_insecure)?;
    let host = url.host_str().unwrap_or_default();
    if !host.starts_with('[') && host.parse::<IpAddr>().is_err() {
        if let Err(HostError::Forbidden(why)) = resolve_checked(host, allow_insecure).await {
            return Err(format!("is not allowed: {why}"));
        }
    }
    Ok(url.to_string())
}

/// The dispatcher's DNS resolver: answers only with checked addresses
/// (loopback and private ones too when `allow_insecure`).
#[derive(Debug, Default, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_insecure: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_insecure = self.allow_insecure;
        Box::pin(async move {
            let addrs = resolve_checked(&host, allow_insecure).await?;
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

    fn refused_insecure(u: &str) -> String {
        parse_url(u, true).expect_err(u)
    }

    #[test]
    fn only_public_https() {
        assert!(parse_url("https://example.com/hook", false).is_ok());
        assert!(parse_url("https://93.184.216.34:8443/x?y=1", false).is_ok());
        assert!(parse_url("https://[2606:2800:220:1::1]/", false).is_ok());
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
    fn ipv6_forms_carrying_ipv4_are_judged_as_that_ipv4() {
        for (url, why) in [
            ("https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"),
            ("https://[::ffff:0:7f00:1]/", "IPv4-translated loopback"),
            ("https://[::ffff:0:10.1.2.3]/", "IPv4-translated private"),
            ("https://[::127.0.0.1]/", "IPv4-compatible loopback"),
            ("https://[2002:7f00:1::]/", "6to4 loopback"),
            ("https://[64:ff9b::7f00:1]/", "NAT64 loopback"),
            // Teredo: client 127.0.0.1 is stored inverted (80ff:fffe).
            (
                "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
                "Teredo loopback",
            ),
            (
                "https://[2001:0:0a00:0001:8000:63bf:a3f3:f4fe]/",
                "Teredo server private",
            ),
            ("https://[64:ff9b:1::7f00:1]/", "local-use NAT64"),
        ] {
            let e = refused(url);
            assert!(e.contains(why), "{url}: {e}");
        }
        // Metadata in a carried form is refused in every mode.
        for url in [
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:0:a9fe:a9fe]/",
            "http://[::169.254.169.254]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",
        ] {
            let e = refused_insecure(url);
            assert!(e.contains("link-local"), "{url}: {e}");
        }
        // The same forms carrying a public IPv4 address are public.
        for url in [
            "https://[::ffff:93.184.216.34]/",
            "https://[::ffff:0:5db8:d822]/",
            "https://[2002:5db8:d822::1]/",
            "https://[64:ff9b::5db8:d822]/",
            "https://[2001:0:4136:e378:8000:63bf:a247:27dd]/",
        ] {
            assert!(parse_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn link_local_and_metadata_are_refused_even_in_insecure_mode() {
        for (url, why) in [
            ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
            ("http://169.254.170.2/v2/credentials", "link-local"),
            ("http://169.254.0.1/", "link-local"),
            ("http://[fe80::1]/", "link-local"),
            ("http://[fe80::a9fe:a9fe]/", "link-local"),
            ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
            ("http://[fd00:ec2::23]/", "cloud metadata"),
            ("http://[fd20:ce::254]/", "cloud metadata"),
            ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
            ("http://168.63.129.16/", "cloud metadata"),
            ("http://192.0.0.192/", "cloud metadata"),
            (
                "http://metadata.google.internal/computeMetadata/v1/",
                "metadata",
            ),
            ("http://Metadata.Google.Internal./", "metadata"),
            ("http://instance-data/latest/", "metadata"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://224.0.0.1/", "multicast"),
            ("http://100.64.0.1/", "carrier-grade"),
        ] {
            let e = refused_insecure(url);
            assert!(e.contains(why), "{url}: {e}");
            let e = refused(&url.replacen("http:", "https:", 1));
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn insecure_adds_http_loopback_and_private_only() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://[::1]/",
            "http://[fd12::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:0:7f00:1]/",
        ] {
            assert!(parse_url(url, true).is_ok(), "{url}");
        }
        assert!(parse_url("ftp://127.0.0.1/", true).is_err());
    }

    #[tokio::test]
    async fn resolution_is_checked() {
        let e = resolve_checked("localhost", false).await.unwrap_err();
        assert!(
            matches!(&e, HostError::Forbidden(m) if m.contains("loopback")),
            "{e}"
        );
        assert!(resolve_checked("localhost", true).await.is_ok());
        let e = check_url("https://localhost./x", false).await.unwrap_err();
        assert!(e.contains("localhost"), "{e}");
        // The dispatcher's resolver refuses what the check refuses.
        let secure = GuardedResolver {
            allow_insecure: false,
        };
        let refused = secure.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("loopback")));
        // In insecure mode it answers loopback, but never link-local.
        let insecure = GuardedResolver {
            allow_insecure: true,
        };
        let ok = insecure.resolve("localhost".parse().unwrap()).await;
        assert!(ok.is_ok_and(|mut a| a.all(|a| a.ip().is_loopback())));
        let refused = insecure.resolve("169.254.169.254".parse().unwrap()).await;
        assert!(refused.is_err_and(|e| e.to_string().contains("link-local")));
        let e = check_url("https://127.0.0.1.nip.invalid/", false).await;
        assert!(
            e.is_ok(),
            "an unresolvable name is accepted at create: {e:?}"
        );
    }
}
