//! Wallet descriptors and address derivation.
//!
//! A store's wallet is what the merchant pastes: an output descriptor
//! (`wpkh([73c5da0a/84'/0'/0']xpub.../0/*)#checksum`) or a bare extended public
//! key (xpub/ypub/zpub, tpub/upub/vpub). [`Wallet::parse`] validates it against
//! the store's network and turns it into a canonical single-key descriptor with
//! exactly one unhardened wildcard; receive addresses are then derived from it.
//! satsgate never sees private keys: any input containing one is rejected.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use bitcoin::base58;
use bitcoin::bip32::{ChildNumber, Xpub};
use bitcoin::secp256k1::{Secp256k1, VerifyOnly};
use miniscript::descriptor::checksum::desc_checksum;
use miniscript::descriptor::{Descriptor, DescriptorPublicKey, ShInner, Wildcard};
use serde::{Deserialize, Serialize};

use crate::network::Network;

/// The output script a wallet receives to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = WalletType)]
pub enum ScriptType {
    /// Legacy pay-to-pubkey-hash (BIP44, `pkh(...)`, xpub/tpub).
    P2pkh,
    /// Nested segwit (BIP49, `sh(wpkh(...))`, ypub/upub).
    P2shP2wpkh,
    /// Native segwit v0 (BIP84, `wpkh(...)`, zpub/vpub).
    P2wpkh,
    /// Taproot key path (BIP86, `tr(...)`).
    P2tr,
}

impl ScriptType {
    /// The receive-branch descriptor for a bare extended public key.
    fn receive_descriptor(self, xpub: &Xpub) -> String {
        match self {
            ScriptType::P2pkh => format!("pkh({xpub}/0/*)"),
            ScriptType::P2shP2wpkh => format!("sh(wpkh({xpub}/0/*))"),
            ScriptType::P2wpkh => format!("wpkh({xpub}/0/*)"),
            ScriptType::P2tr => format!("tr({xpub}/0/*)"),
        }
    }
}

/// Why a wallet was rejected or an address could not be derived.
/// The message is meant for the merchant (it becomes a validation error on `wallet`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WalletError(pub String);

impl WalletError {
    fn new(message: impl Into<String>) -> Self {
        WalletError(message.into())
    }
}

/// Parsed wallets kept by [`Wallet::cached`].
const CACHED_WALLETS: usize = 1024;

const SUPPORTED: &str = "supported wallets are single-key descriptors pkh(KEY/0/*), \
     sh(wpkh(KEY/0/*)), wpkh(KEY/0/*) and tr(KEY/0/*), or an extended public key \
     (xpub/ypub/zpub, or tpub/upub/vpub on test networks)";

const PRIVATE_KEY: &str = "private keys are not accepted; paste the public key \
     (xpub/zpub/...) — satsgate never holds private keys";

const HARDENED_AFTER_KEY: &str = "hardened derivation after the public key is impossible \
     without the private key; use a path like /0/* after the key";

/// A store's receive wallet: a single extended public key under one of the
/// supported script types, with exactly one unhardened wildcard and no
/// hardened step after the key. Only [`Wallet::parse`] builds one.
#[derive(Debug, Clone)]
pub struct Wallet {
    descriptor: Descriptor<DescriptorPublicKey>,
    script_type: ScriptType,
    network: Network,
    /// Addresses derived last (index -> address). Concurrent invoice
    /// creations on one store race for the same next index and the losers
    /// retry at the next one; without this, each attempt paid for a BIP32
    /// derivation (the profile in README "Benchmark: satsgate-local over
    /// HTTP" showed 2.3 derivations per invoice at 4 concurrent creations).
    recent: Arc<Mutex<HashMap<u32, bitcoin::Address>>>,
}

/// Addresses kept in `Wallet::recent`: the indexes below the highest
/// derived one by less than this.
const RECENT_ADDRESSES: u32 = 32;

impl Wallet {
    /// Parse what a merchant pastes as their store wallet, for the given network.
    pub fn parse(input: &str, network: Network) -> Result<Wallet, WalletError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(WalletError::new(format!("wallet is empty; {SUPPORTED}")));
        }
        if looks_like_recovery_phrase(input) {
            return Err(WalletError::new(
                "this looks like a recovery phrase (seed words): never share it with anyone; \
                 paste the public key (xpub/zpub/...) or an output descriptor instead",
            ));
        }
        let keys = find_extended_keys(input, network)?;
        if input.contains('(') {
            Self::parse_descriptor(input, &keys, network)
        } else {
            Self::parse_bare_key(input, &keys, network)
        }
    }

    /// [`Wallet::parse`] once per process for each (text, network): a
    /// store's wallet is parsed at its first invoice, not at every one. The
    /// text is the key, so a changed wallet is a new entry; at most
    /// `CACHED_WALLETS` are kept.
    pub fn cached(input: &str, network: Network) -> Result<Arc<Wallet>, WalletError> {
        static CACHE: OnceLock<Mutex<HashMap<(String, Network), Arc<Wallet>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = (input.to_string(), network);
        if let Some(w) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(w.clone());
        }
        let wallet = Arc::new(Wallet::parse(input, network)?);
        let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHED_WALLETS {
            map.clear();
        }
        map.insert(key, wallet.clone());
        Ok(wallet)
    }

    /// Canonical public descriptor, with checksum and xpub/tpub keys
    /// (never SLIP-132 prefixes). Parsing it again on the same network yields
    /// the same wallet.
    pub fn descriptor(&self) -> String {
        // miniscript's Display writes `'` hardened markers and appends `#checksum`.
        self.descriptor.to_string()
    }

    pub fn script_type(&self) -> ScriptType {
        self.script_type
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// Receive address at index (non-hardened, index < 2^31).
    pub fn address_at(&self, index: u32) -> Result<bitcoin::Address, WalletError> {
        let recent = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(address) = recent().get(&index) {
            return Ok(address.clone());
        }
        let address = self
            .derived_at(index)?
            .address(self.network.to_bitcoin())
            .map_err(|e| WalletError::new(format!("cannot derive address {index}: {e}")))?;
        let mut recent = recent();
        recent.retain(|i, _| i.saturating_add(RECENT_ADDRESSES) > index);
        if recent.len() >= RECENT_ADDRESSES as usize {
            recent.clear();
        }
        recent.insert(index, address.clone());
        Ok(address)
    }

    /// script_pubkey at index (same derivation as [`Wallet::address_at`]).
    pub fn script_pubkey_at(&self, index: u32) -> Result<bitcoin::ScriptBuf, WalletError> {
        Ok(self.derived_at(index)?.script_pubkey())
    }

    fn derived_at(&self, index: u32) -> Result<Descriptor<bitcoin::PublicKey>, WalletError> {
        if ChildNumber::from_normal_idx(index).is_err() {
            return Err(WalletError::new(format!(
                "address index {index} is out of range (must be below 2^31)"
            )));
        }
        // Safe from miniscript's panics: `parse` guarantees one xpub, an
        // unhardened wildcard and no hardened step after the key.
        static SECP: OnceLock<Secp256k1<VerifyOnly>> = OnceLock::new();
        let secp = SECP.get_or_init(Secp256k1::verification_only);
        self.descriptor
            .derived_descriptor(secp, index)
            .map_err(|e| WalletError::new(format!("cannot derive address {index}: {e}")))
    }

    fn parse_bare_key(
        input: &str,
        keys: &[FoundKey],
        network: Network,
    ) -> Result<Wallet, WalletError> {
        let key = match keys {
            [] => return Err(unrecognised()),
            [key] if key.span == (0..input.len()) => key,
            [_] => return Err(unrecognised()),
            _ => return Err(more_than_one_key()),
        };
        Self::from_descriptor_text(&key.script_type.receive_descriptor(&key.xpub), network)
    }

    fn parse_descriptor(
        input: &str,
        keys: &[FoundKey],
        network: Network,
    ) -> Result<Wallet, WalletError> {
        let (body, checksum) = match input.split_once('#') {
            Some((body, checksum)) => (body, Some(checksum)),
            None => (input, None),
        };
        check_descriptor_kind(body)?;
        if keys.len() > 1 {
            return Err(more_than_one_key());
        }
        if let Some(checksum) = checksum {
            // The checksum covers the text as pasted (SLIP-132 keys included).
            let expected = desc_checksum(body).map_err(|_| {
                WalletError::new("descriptor contains characters that are not allowed")
            })?;
            if checksum != expected {
                return Err(WalletError::new(format!(
                    "descriptor checksum #{checksum} does not match its content: \
                     it was probably altered or mistyped; copy it again from your wallet"
                )));
            }
        }
        Self::from_descriptor_text(&with_standard_keys(body, keys), network)
    }

    /// Parse a checksum-less descriptor whose keys are already xpub/tpub and
    /// enforce every invariant of [`Wallet`].
    fn from_descriptor_text(text: &str, network: Network) -> Result<Wallet, WalletError> {
        let descriptor = Descriptor::<DescriptorPublicKey>::from_str(text)
            .map_err(|e| WalletError::new(format!("invalid descriptor: {e}")))?;
        let (script_type, key) = match &descriptor {
            Descriptor::Pkh(pkh) => (ScriptType::P2pkh, pkh.as_inner()),
            Descriptor::Wpkh(wpkh) => (ScriptType::P2wpkh, wpkh.as_inner()),
            Descriptor::Sh(sh) => match sh.as_inner() {
                ShInner::Wpkh(wpkh) => (ScriptType::P2shP2wpkh, wpkh.as_inner()),
                _ => return Err(unsupported_kind("sh")),
            },
            Descriptor::Tr(tr) => {
                if tr.tap_tree().is_some() {
                    return Err(more_than_one_key());
                }
                (ScriptType::P2tr, tr.internal_key())
            }
            Descriptor::Bare(_) | Descriptor::Wsh(_) => {
                return Err(unsupported_kind(text.split('(').next().unwrap_or(text)))
            }
        };
        check_receive_key(key, network)?;
        Ok(Wallet {
            descriptor,
            script_type,
            network,
            recent: Default::default(),
        })
    }
}

/// The single key of a supported descriptor must be an xpub/tpub for the
/// store's network, followed by a non-hardened path ending in `/*`.
fn check_receive_key(key: &DescriptorPublicKey, network: Network) -> Result<(), WalletError> {
    let xkey = match key {
        DescriptorPublicKey::XPub(xkey) => xkey,
        DescriptorPublicKey::MultiXPub(_) => {
            return Err(WalletError::new(
                "multipath descriptors like /<0;1>/* are not supported; \
                 use the receive branch, e.g. /0/*",
            ))
        }
        DescriptorPublicKey::Single(_) => {
            return Err(WalletError::new(
                "descriptor must use an extended public key (xpub/tpub...) followed by \
                 a derivation path ending in a wildcard like /0/*, not a single public key",
            ))
        }
    };
    let hardened_step = xkey
        .derivation_path
        .into_iter()
        .any(ChildNumber::is_hardened);
    match xkey.wildcard {
        _ if hardened_step => Err(WalletError::new(HARDENED_AFTER_KEY)),
        Wildcard::Hardened => Err(WalletError::new(HARDENED_AFTER_KEY)),
        Wildcard::None => Err(WalletError::new(
            "descriptor must end with a wildcard like /0/*",
        )),
        Wildcard::Unhardened => {
            let mainnet = xkey.xkey.network.is_mainnet();
            check_network(mainnet, if mainnet { "xpub" } else { "tpub" }, network)
        }
    }
}

/// Rejects anything but the four supported descriptor kinds, by name, before
/// parsing (miniscript does not know some of them, e.g. `combo` or `addr`).
fn check_descriptor_kind(body: &str) -> Result<(), WalletError> {
    let outer = body.split('(').next().unwrap_or_default();
    match outer {
        "pkh" | "wpkh" | "tr" => Ok(()),
        "sh" if body.starts_with("sh(wpkh(") => Ok(()),
        "sh" => {
            let inner = body.strip_prefix("sh(").unwrap_or_default();
            match inner.split('(').next().unwrap_or_default() {
                "" => Err(unsupported_kind("sh")),
                inner => Err(unsupported_kind(&format!("sh({inner}(...))"))),
            }
        }
        _ => Err(unsupported_kind(outer)),
    }
}

fn unsupported_kind(kind: &str) -> WalletError {
    let kind = if kind.is_empty() { "(unnamed)" } else { kind };
    WalletError::new(format!(
        "unsupported descriptor type `{kind}`: multisig and script descriptors are not \
         supported; {SUPPORTED}"
    ))
}

fn more_than_one_key() -> WalletError {
    WalletError::new(format!(
        "wallet must contain exactly one public key (multisig and taproot script \
         paths are not supported); {SUPPORTED}"
    ))
}

fn unrecognised() -> WalletError {
    WalletError::new(format!(
        "wallet is neither an output descriptor nor an extended public key; {SUPPORTED}"
    ))
}

fn check_network(key_is_mainnet: bool, prefix: &str, network: Network) -> Result<(), WalletError> {
    match (key_is_mainnet, network.is_test()) {
        (true, true) => Err(WalletError::new(format!(
            "wallet is a mainnet key ({prefix}) but the store network is {network}"
        ))),
        (false, false) => Err(WalletError::new(format!(
            "wallet is a test-network key ({prefix}) but the store network is {network}"
        ))),
        _ => Ok(()),
    }
}

fn looks_like_recovery_phrase(input: &str) -> bool {
    let words: Vec<&str> = input.split_whitespace().collect();
    (12..=24).contains(&words.len())
        && words
            .iter()
            .all(|w| (3..=8).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()))
}

/// What a set of SLIP-132 version bytes denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A single-sig public key, and the script type its prefix implies.
    Public(ScriptType),
    /// A multisig public key (Ypub/Zpub/Upub/Vpub).
    MultisigPublic,
    Private,
}

/// BIP32 / SLIP-132 extended key version bytes.
#[derive(Debug)]
struct KeyVersion {
    prefix: &'static str,
    bytes: [u8; 4],
    mainnet: bool,
    kind: KeyKind,
}

const fn version(prefix: &'static str, bytes: u32, mainnet: bool, kind: KeyKind) -> KeyVersion {
    KeyVersion {
        prefix,
        bytes: bytes.to_be_bytes(),
        mainnet,
        kind,
    }
}

const KEY_VERSIONS: [KeyVersion; 20] = [
    version(
        "xpub",
        0x0488_b21e,
        true,
        KeyKind::Public(ScriptType::P2pkh),
    ),
    version(
        "ypub",
        0x049d_7cb2,
        true,
        KeyKind::Public(ScriptType::P2shP2wpkh),
    ),
    version(
        "zpub",
        0x04b2_4746,
        true,
        KeyKind::Public(ScriptType::P2wpkh),
    ),
    version(
        "tpub",
        0x0435_87cf,
        false,
        KeyKind::Public(ScriptType::P2pkh),
    ),
    version(
        "upub",
        0x044a_5262,
        false,
        KeyKind::Public(ScriptType::P2shP2wpkh),
    ),
    version(
        "vpub",
        0x045f_1cf6,
        false,
        KeyKind::Public(ScriptType::P2wpkh),
    ),
    version("Ypub", 0x0295_b43f, true, KeyKind::MultisigPublic),
    version("Zpub", 0x02aa_7ed3, true, KeyKind::MultisigPublic),
    version("Upub", 0x0242_89ef, false, KeyKind::MultisigPublic),
    version("Vpub", 0x0257_5483, false, KeyKind::MultisigPublic),
    version("xprv", 0x0488_ade4, true, KeyKind::Private),
    version("yprv", 0x049d_7878, true, KeyKind::Private),
    version("zprv", 0x04b2_430c, true, KeyKind::Private),
    version("Yprv", 0x0295_b005, true, KeyKind::Private),
    version("Zprv", 0x02aa_7a99, true, KeyKind::Private),
    version("tprv", 0x0435_8394, false, KeyKind::Private),
    version("uprv", 0x044a_4e28, false, KeyKind::Private),
    version("vprv", 0x045f_18bc, false, KeyKind::Private),
    version("Uprv", 0x0242_85b5, false, KeyKind::Private),
    version("Vprv", 0x0257_5048, false, KeyKind::Private),
];

const XPUB_VERSION: [u8; 4] = 0x0488_b21e_u32.to_be_bytes();
const TPUB_VERSION: [u8; 4] = 0x0435_87cf_u32.to_be_bytes();

/// A single-sig extended public key found in the input, already converted to
/// xpub/tpub version bytes.
#[derive(Debug)]
struct FoundKey {
    /// Byte range of the key in the text it was found in.
    span: Range<usize>,
    xpub: Xpub,
    /// The script type its SLIP-132 prefix implies.
    script_type: ScriptType,
}

/// Finds every base58check extended key in `text` (any run of alphanumerics
/// that decodes with a valid checksum), rejecting private keys (extended or
/// WIF), multisig SLIP-132 keys, unknown versions and keys of the wrong network.
fn find_extended_keys(text: &str, network: Network) -> Result<Vec<FoundKey>, WalletError> {
    let mut found = Vec::new();
    for span in alphanumeric_runs(text) {
        let token = &text[span.clone()];
        let Ok(data) = base58::decode_check(token) else {
            continue;
        };
        if is_wif(&data) {
            return Err(WalletError::new(PRIVATE_KEY));
        }
        if data.len() != 78 {
            continue;
        }
        let Some(version) = KEY_VERSIONS.iter().find(|v| data[..4] == v.bytes) else {
            let prefix: String = token.chars().take(4).collect();
            return Err(WalletError::new(format!(
                "unrecognised extended key `{prefix}...`; {SUPPORTED}"
            )));
        };
        let script_type = match version.kind {
            KeyKind::Private => return Err(WalletError::new(PRIVATE_KEY)),
            KeyKind::MultisigPublic => {
                return Err(WalletError::new(format!(
                    "multisig keys ({}) are not supported; {SUPPORTED}",
                    version.prefix
                )))
            }
            KeyKind::Public(script_type) => script_type,
        };
        check_network(version.mainnet, version.prefix, network)?;
        let mut standard = data;
        standard[..4].copy_from_slice(if version.mainnet {
            &XPUB_VERSION
        } else {
            &TPUB_VERSION
        });
        let xpub = Xpub::decode(&standard).map_err(|e| {
            WalletError::new(format!(
                "invalid extended public key ({}): {e}",
                version.prefix
            ))
        })?;
        found.push(FoundKey {
            span,
            xpub,
            script_type,
        });
    }
    Ok(found)
}

/// Byte ranges of the maximal runs of ASCII alphanumerics in `text`.
fn alphanumeric_runs(text: &str) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_ascii_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push(s..text.len());
    }
    runs
}

/// A WIF private key: 0x80 (mainnet) or 0xef (test) + 32 bytes [+ 0x01 if compressed].
fn is_wif(data: &[u8]) -> bool {
    let prefix_ok = matches!(data.first(), Some(0x80 | 0xef));
    prefix_ok && (data.len() == 33 || (data.len() == 34 && data[33] == 0x01))
}

/// `text` with every found key (which lie within it) rewritten as xpub/tpub.
fn with_standard_keys(text: &str, keys: &[FoundKey]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for key in keys.iter().filter(|k| k.span.end <= text.len()) {
        out.push_str(&text[rest..key.span.start]);
        out.push_str(&key.xpub.to_string());
        rest = key.span.end;
    }
    out.push_str(&text[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::bip32::{DerivationPath, Xpriv};
    use bitcoin::hashes::hmac::{Hmac, HmacEngine};
    use bitcoin::hashes::{sha512, Hash, HashEngine};
    use bitcoin::key::CompressedPublicKey;
    use bitcoin::secp256k1::All;
    use bitcoin::{Address, NetworkKind};

    const MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon abandon \
                            abandon abandon abandon abandon about";
    const ROOT_XPRV: &str = "xprv9s21ZrQH143K3GJpoapnV8SFfukcVBSfeCficPSGfubmSFDxo1kuHnLisriDvSnRRuL2Qrg5ggqHKNVpxR86QEC8w35uxmGoggxtQTPvfUu";

    const BIP84_ZPUB: &str = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
    const BIP49_YPUB: &str = "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP";
    const BIP49_UPUB: &str = "upub5EFU65HtV5TeiSHmZZm7FUffBGy8UKeqp7vw43jYbvZPpoVsgU93oac7Wk3u6moKegAEWtGNF8DehrnHtv21XXEMYRUocHqguyjknFHYfgY";
    /// BIP86 account 0 (m/86'/0'/0'), as published in BIP86 and as derived here.
    const BIP86_XPUB: &str = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ";
    /// A corrupted copy of BIP86_XPUB (its tail differs; the base58check fails).
    const CORRUPTED_BIP86_XPUB: &str = "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMjrMtwLhcd4";
    const TEST84_VPUB: &str = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc";
    const TEST84_TPUB: &str = "tpubDC8msFGeGuwnKG9Upg7DM2b4DaRqg3CUZa5g8v2SRQ6K4NSkxUgd7HsL2XVWbVm39yBA4LAxysQAm397zwQSQoQgewGiYZqrA9DsP4zbQ1M";

    /// BIP39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic", 2048), one 64-byte block.
    fn bip39_seed(mnemonic: &str) -> [u8; 64] {
        let prf = |data: &[&[u8]]| {
            let mut engine = HmacEngine::<sha512::Hash>::new(mnemonic.as_bytes());
            for d in data {
                engine.input(d);
            }
            Hmac::<sha512::Hash>::from_engine(engine).to_byte_array()
        };
        let mut u = prf(&[b"mnemonic", &1u32.to_be_bytes()]);
        let mut seed = u;
        for _ in 1..2048 {
            u = prf(&[&u]);
            seed.iter_mut().zip(u).for_each(|(s, b)| *s ^= b);
        }
        seed
    }

    fn secp() -> Secp256k1<All> {
        Secp256k1::new()
    }

    fn root(kind: NetworkKind) -> Xpriv {
        Xpriv::new_master(kind, &bip39_seed(MNEMONIC)).expect("master key")
    }

    /// Account xpub derived from the mnemonic through the hardened path.
    fn account_xpub(kind: NetworkKind, path: &str) -> Xpub {
        let secp = secp();
        let path = DerivationPath::from_str(path).expect("path");
        let xprv = root(kind).derive_priv(&secp, &path).expect("derive");
        Xpub::from_priv(&secp, &xprv)
    }

    /// Child public key `branch/index` of an account xpub.
    fn child_pubkey(account: &Xpub, branch: u32, index: u32) -> CompressedPublicKey {
        let path = [
            ChildNumber::from_normal_idx(branch).expect("branch"),
            ChildNumber::from_normal_idx(index).expect("index"),
        ];
        let child = account.derive_pub(&secp(), &path).expect("derive");
        CompressedPublicKey(child.public_key)
    }

    /// Address computed independently of miniscript with the bitcoin crate.
    fn independent_address(
        script: ScriptType,
        account: &Xpub,
        branch: u32,
        index: u32,
        network: Network,
    ) -> String {
        let pk = child_pubkey(account, branch, index);
        let net = network.to_bitcoin();
        match script {
            ScriptType::P2pkh => Address::p2pkh(pk, net),
            ScriptType::P2shP2wpkh => Address::p2shwpkh(&pk, net),
            ScriptType::P2wpkh => Address::p2wpkh(&pk, net),
            ScriptType::P2tr => Address::p2tr(&secp(), pk.0.x_only_public_key().0, None, net),
        }
        .to_string()
    }

    fn addr(wallet: &Wallet, index: u32) -> String {
        wallet.address_at(index).expect("address").to_string()
    }

    fn parse_ok(input: &str, network: Network) -> Wallet {
        Wallet::parse(input, network).unwrap_or_else(|e| panic!("{input}: {e}"))
    }

    fn parse_err(input: &str, network: Network) -> String {
        match Wallet::parse(input, network) {
            Ok(w) => panic!("accepted {input}: {}", w.descriptor()),
            Err(e) => e.to_string(),
        }
    }

    fn with_checksum(body: &str) -> String {
        format!("{body}#{}", desc_checksum(body).expect("checksum"))
    }

    /// Convert a SLIP-132 key to its xpub/tpub form.
    fn standard(key: &str) -> String {
        let keys = find_extended_keys(key, Network::Mainnet)
            .or_else(|_| find_extended_keys(key, Network::Testnet))
            .expect("key");
        keys[0].xpub.to_string()
    }

    /// `descriptor()` round-trips: same type, same addresses, a stable string.
    fn assert_round_trip(wallet: &Wallet) {
        let desc = wallet.descriptor();
        assert!(desc.contains('#'), "{desc}");
        for prefix in ["ypub", "zpub", "upub", "vpub"] {
            assert!(!desc.contains(prefix), "{desc}");
        }
        let again = parse_ok(&desc, wallet.network());
        assert_eq!(again.descriptor(), desc);
        assert_eq!(again.script_type(), wallet.script_type());
        for i in [0, 1, 7, 1000] {
            assert_eq!(addr(&again, i), addr(wallet, i));
        }
    }

    #[test]
    fn root_xprv_matches_published_bip32_root_of_the_mnemonic() {
        assert_eq!(root(NetworkKind::Main).to_string(), ROOT_XPRV);
    }

    #[test]
    fn bip84_zpub_vectors() {
        let from_root = account_xpub(NetworkKind::Main, "m/84'/0'/0'");
        assert_eq!(from_root.to_string(), standard(BIP84_ZPUB));

        let wallet = parse_ok(BIP84_ZPUB, Network::Mainnet);
        assert_eq!(wallet.script_type(), ScriptType::P2wpkh);
        assert_eq!(wallet.network(), Network::Mainnet);
        let published = [
            (0, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"),
            (1, "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"),
        ];
        for (i, expected) in published {
            assert_eq!(addr(&wallet, i), expected);
            let independent =
                independent_address(ScriptType::P2wpkh, &from_root, 0, i, Network::Mainnet);
            assert_eq!(independent, expected);
        }
        assert_eq!(
            independent_address(ScriptType::P2wpkh, &from_root, 1, 0, Network::Mainnet),
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
        );
        assert_round_trip(&wallet);
    }

    #[test]
    fn bip84_change_branch_only_via_descriptor() {
        let key = standard(BIP84_ZPUB);
        let change = parse_ok(
            &format!("wpkh([73c5da0a/84'/0'/0']{key}/1/*)"),
            Network::Mainnet,
        );
        assert_eq!(
            addr(&change, 0),
            "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
        );
        assert_round_trip(&change);
    }

    #[test]
    fn bip84_descriptor_forms_agree() {
        let xpub = standard(BIP84_ZPUB);
        let bodies = [
            format!("wpkh([73c5da0a/84'/0'/0']{xpub}/0/*)"),
            format!("wpkh([73c5da0a/84h/0h/0h]{xpub}/0/*)"),
            format!("wpkh({xpub}/0/*)"),
            format!("wpkh([73c5da0a/84'/0'/0']{BIP84_ZPUB}/0/*)"),
            format!("wpkh({BIP84_ZPUB}/0/*)"),
        ];
        for body in &bodies {
            for input in [body.clone(), with_checksum(body)] {
                let wallet = parse_ok(&input, Network::Mainnet);
                assert_eq!(wallet.script_type(), ScriptType::P2wpkh);
                assert_eq!(
                    addr(&wallet, 0),
                    "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
                );
                assert_eq!(
                    addr(&wallet, 1),
                    "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
                );
                assert_round_trip(&wallet);
            }
        }
        let canonical = parse_ok(&bodies[1], Network::Mainnet).descriptor();
        assert!(
            canonical.starts_with(&format!("wpkh([73c5da0a/84'/0'/0']{xpub}/0/*)#")),
            "{canonical}"
        );
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let wallet = parse_ok(&format!("  {BIP84_ZPUB}\n"), Network::Mainnet);
        assert_eq!(
            addr(&wallet, 0),
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
        );
    }

    #[test]
    fn bip49_ypub_vectors() {
        let from_root = account_xpub(NetworkKind::Main, "m/49'/0'/0'");
        assert_eq!(from_root.to_string(), standard(BIP49_YPUB));
        let expected = "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf";
        assert_eq!(
            independent_address(ScriptType::P2shP2wpkh, &from_root, 0, 0, Network::Mainnet),
            expected
        );
        let wallet = parse_ok(BIP49_YPUB, Network::Mainnet);
        assert_eq!(wallet.script_type(), ScriptType::P2shP2wpkh);
        assert_eq!(addr(&wallet, 0), expected);
        let desc = parse_ok(
            &with_checksum(&format!("sh(wpkh([73c5da0a/49'/0'/0']{BIP49_YPUB}/0/*))")),
            Network::Mainnet,
        );
        assert_eq!(addr(&desc, 0), expected);
        assert_round_trip(&wallet);
        assert_round_trip(&desc);
    }

    #[test]
    fn bip49_upub_testnet_vector() {
        let from_root = account_xpub(NetworkKind::Test, "m/49'/1'/0'");
        assert_eq!(from_root.to_string(), standard(BIP49_UPUB));
        let expected = "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2";
        assert_eq!(
            independent_address(ScriptType::P2shP2wpkh, &from_root, 0, 0, Network::Testnet),
            expected
        );
        let wallet = parse_ok(BIP49_UPUB, Network::Testnet);
        assert_eq!(wallet.script_type(), ScriptType::P2shP2wpkh);
        assert_eq!(addr(&wallet, 0), expected);
        assert_round_trip(&wallet);
    }

    #[test]
    fn bip86_taproot_vectors() {
        let from_root = account_xpub(NetworkKind::Main, "m/86'/0'/0'");
        assert_eq!(from_root.to_string(), BIP86_XPUB);
        let body = format!("tr([73c5da0a/86'/0'/0']{BIP86_XPUB}/0/*)");
        let published = [
            (
                0,
                "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr",
            ),
            (
                1,
                "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh",
            ),
        ];
        for input in [body.clone(), with_checksum(&body)] {
            let wallet = parse_ok(&input, Network::Mainnet);
            assert_eq!(wallet.script_type(), ScriptType::P2tr);
            for (i, expected) in published {
                assert_eq!(addr(&wallet, i), expected);
            }
            assert_round_trip(&wallet);
        }
        for (i, expected) in published {
            let independent =
                independent_address(ScriptType::P2tr, &from_root, 0, i, Network::Mainnet);
            assert_eq!(independent, expected);
        }
    }

    #[test]
    fn bip44_bare_xpub_is_legacy_p2pkh() {
        let account = account_xpub(NetworkKind::Main, "m/44'/0'/0'");
        let expected = "1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA";
        assert_eq!(
            independent_address(ScriptType::P2pkh, &account, 0, 0, Network::Mainnet),
            expected
        );
        let wallet = parse_ok(&account.to_string(), Network::Mainnet);
        assert_eq!(wallet.script_type(), ScriptType::P2pkh);
        assert_eq!(addr(&wallet, 0), expected);
        let desc = parse_ok(
            &format!("pkh([73c5da0a/44h/0h/0h]{account}/0/*)"),
            Network::Mainnet,
        );
        assert_eq!(addr(&desc, 0), expected);
        assert_round_trip(&wallet);
        assert_round_trip(&desc);
    }

    #[test]
    fn bip84_test_account_on_test_networks() {
        let from_root = account_xpub(NetworkKind::Test, "m/84'/1'/0'");
        assert_eq!(from_root.to_string(), TEST84_TPUB);
        assert_eq!(standard(TEST84_VPUB), TEST84_TPUB);

        let tb0 = "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl";
        let tb1 = "tb1qd7spv5q28348xl4myc8zmh983w5jx32cjhkn97";
        // Regtest encoding of tb0's witness program (hrp bcrt, same program).
        let bcrt0 = "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk";
        for (i, expected) in [(0, tb0), (1, tb1)] {
            assert_eq!(
                independent_address(ScriptType::P2wpkh, &from_root, 0, i, Network::Testnet),
                expected
            );
        }
        // Same witness program on testnet and regtest.
        let program = |a: &str| {
            Address::from_str(a)
                .expect("address")
                .assume_checked()
                .script_pubkey()
        };
        assert_eq!(program(tb0), program(bcrt0));
        let regtest_of = |a: &str| {
            Address::from_script(&program(a), bitcoin::Network::Regtest)
                .expect("address")
                .to_string()
        };
        assert_eq!(regtest_of(tb0), bcrt0);
        // A bcrt1 string with a broken bech32 checksum for the same program.
        assert!(Address::from_str("bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz7ru0z").is_err());

        let inputs = [
            TEST84_VPUB.to_string(),
            format!("wpkh([73c5da0a/84'/1'/0']{TEST84_TPUB}/0/*)"),
            with_checksum(&format!("wpkh([73c5da0a/84h/1h/0h]{TEST84_VPUB}/0/*)")),
        ];
        for input in &inputs {
            for network in [Network::Testnet, Network::Signet] {
                let wallet = parse_ok(input, network);
                assert_eq!(wallet.script_type(), ScriptType::P2wpkh);
                assert_eq!(addr(&wallet, 0), tb0);
                assert_eq!(addr(&wallet, 1), tb1);
                assert_round_trip(&wallet);
            }
            let regtest = parse_ok(input, Network::Regtest);
            assert_eq!(addr(&regtest, 0), bcrt0);
            assert_eq!(addr(&regtest, 1), regtest_of(tb1));
            assert_eq!(regtest.script_pubkey_at(0).expect("spk"), program(tb0));
            assert_round_trip(&regtest);
        }
    }

    #[test]
    fn cached_parses_once_per_text_and_network() {
        let a = Wallet::cached(BIP84_ZPUB, Network::Mainnet).unwrap();
        let b = Wallet::cached(BIP84_ZPUB, Network::Mainnet).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second call reuses the parsed wallet"
        );
        assert_eq!(
            a.address_at(0).unwrap(),
            Wallet::parse(BIP84_ZPUB, Network::Mainnet)
                .unwrap()
                .address_at(0)
                .unwrap()
        );
        assert!(
            Wallet::cached(BIP84_ZPUB, Network::Regtest).is_err(),
            "the network is part of the key: a mainnet key is refused on regtest"
        );
        assert!(Wallet::cached("garbage", Network::Mainnet).is_err());
    }

    #[test]
    fn recently_derived_addresses_are_reused_and_bounded() {
        let w = Wallet::parse(BIP84_ZPUB, Network::Mainnet).unwrap();
        let fresh = |i| {
            Wallet::parse(BIP84_ZPUB, Network::Mainnet)
                .unwrap()
                .address_at(i)
                .unwrap()
        };
        for i in [5, 6, 5, 7, 6, 1000, 1000] {
            assert_eq!(w.address_at(i).unwrap(), fresh(i), "index {i}");
        }
        let kept: Vec<u32> = w.recent.lock().unwrap().keys().copied().collect();
        assert_eq!(kept, vec![1000], "indexes far below the newest are dropped");
        for i in 0..200 {
            w.address_at(i).unwrap();
        }
        assert!(w.recent.lock().unwrap().len() <= RECENT_ADDRESSES as usize);
    }

    #[test]
    fn script_pubkey_matches_address() {
        let wallets = [
            parse_ok(BIP84_ZPUB, Network::Mainnet),
            parse_ok(BIP49_YPUB, Network::Mainnet),
            parse_ok(&format!("tr({BIP86_XPUB}/0/*)"), Network::Mainnet),
            parse_ok(TEST84_TPUB, Network::Regtest),
        ];
        for wallet in &wallets {
            for i in [0, 5, (1 << 31) - 1] {
                assert_eq!(
                    wallet.script_pubkey_at(i).expect("spk"),
                    wallet.address_at(i).expect("address").script_pubkey()
                );
            }
        }
    }

    #[test]
    fn index_at_or_above_2_pow_31_is_rejected() {
        let wallet = parse_ok(BIP84_ZPUB, Network::Mainnet);
        for index in [1 << 31, u32::MAX] {
            let err = wallet.address_at(index).expect_err("hardened index");
            assert!(err.to_string().contains("out of range"), "{err}");
            assert!(wallet.script_pubkey_at(index).is_err());
        }
    }

    #[test]
    fn script_type_serde_names() {
        let names = [
            (ScriptType::P2pkh, "\"p2pkh\""),
            (ScriptType::P2shP2wpkh, "\"p2sh_p2wpkh\""),
            (ScriptType::P2wpkh, "\"p2wpkh\""),
            (ScriptType::P2tr, "\"p2tr\""),
        ];
        for (script_type, json) in names {
            assert_eq!(serde_json::to_string(&script_type).expect("json"), json);
            assert_eq!(
                serde_json::from_str::<ScriptType>(json).expect("json"),
                script_type
            );
        }
    }

    #[test]
    fn version_table_matches_slip132_prefixes() {
        for version in &KEY_VERSIONS {
            let mut data = [0u8; 78];
            data[..4].copy_from_slice(&version.bytes);
            let encoded = base58::encode_check(&data);
            assert!(
                encoded.starts_with(version.prefix),
                "{} vs {encoded}",
                version.prefix
            );
        }
    }

    // ---- rejections ----

    fn assert_rejected(input: &str, network: Network, needle: &str) {
        let err = parse_err(input, network);
        assert!(err.contains(needle), "{input}: `{err}` lacks `{needle}`");
    }

    #[test]
    fn rejects_empty_and_garbage() {
        assert_rejected("", Network::Mainnet, "wallet is empty");
        assert_rejected("   \n", Network::Mainnet, "wallet is empty");
        for garbage in [
            "hello",
            "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu",
            "xpub123",
            &BIP84_ZPUB[..BIP84_ZPUB.len() - 1],
            &format!("{BIP84_ZPUB}/0/*"),
            &format!("my key: {BIP84_ZPUB}"),
            CORRUPTED_BIP86_XPUB,
        ] {
            assert_rejected(garbage, Network::Mainnet, "neither an output descriptor");
        }
        assert_rejected("wpkh(nonsense/0/*)", Network::Mainnet, "invalid descriptor");
        assert_rejected("wpkh(", Network::Mainnet, "invalid descriptor");
        assert_rejected("(", Network::Mainnet, "unsupported descriptor type");
        assert_rejected(MNEMONIC, Network::Mainnet, "recovery phrase");
    }

    #[test]
    fn rejects_private_keys() {
        let main_root = root(NetworkKind::Main);
        let test_root = root(NetworkKind::Test);
        let wif =
            bitcoin::PrivateKey::new(main_root.private_key, bitcoin::Network::Bitcoin).to_wif();
        let test_wif =
            bitcoin::PrivateKey::new(main_root.private_key, bitcoin::Network::Testnet).to_wif();
        let inputs = [
            ROOT_XPRV.to_string(),
            test_root.to_string(),
            format!("wpkh({ROOT_XPRV}/84'/0'/0'/0/*)"),
            format!("wpkh([73c5da0a/84'/0'/0']{ROOT_XPRV}/0/*)"),
            with_checksum(&format!("tr({test_root}/86h/1h/0h/0/*)")),
            format!("wpkh({wif})"),
            format!("wpkh({test_wif})"),
            wif,
        ];
        for input in &inputs {
            for network in [Network::Mainnet, Network::Testnet] {
                assert_rejected(input, network, "private keys are not accepted");
            }
        }
        // SLIP-132 private prefixes too (zprv = xprv bytes with zprv version).
        let mut data = base58::decode_check(ROOT_XPRV).expect("xprv");
        data[..4].copy_from_slice(&0x04b2_430c_u32.to_be_bytes());
        let zprv = base58::encode_check(&data);
        assert!(zprv.starts_with("zprv"));
        assert_rejected(&zprv, Network::Mainnet, "private keys are not accepted");
    }

    #[test]
    fn rejects_keys_of_the_wrong_network() {
        assert_rejected(
            TEST84_VPUB,
            Network::Mainnet,
            "wallet is a test-network key (vpub) but the store network is mainnet",
        );
        assert_rejected(
            &format!("wpkh({TEST84_TPUB}/0/*)"),
            Network::Mainnet,
            "wallet is a test-network key (tpub) but the store network is mainnet",
        );
        let xpub = standard(BIP84_ZPUB);
        for network in [Network::Testnet, Network::Signet, Network::Regtest] {
            assert_rejected(
                &xpub,
                network,
                &format!("wallet is a mainnet key (xpub) but the store network is {network}"),
            );
            assert_rejected(
                BIP84_ZPUB,
                network,
                &format!("wallet is a mainnet key (zpub) but the store network is {network}"),
            );
            assert_rejected(
                &format!("tr([73c5da0a/86'/0'/0']{BIP86_XPUB}/0/*)"),
                network,
                "wallet is a mainnet key (xpub)",
            );
        }
    }

    #[test]
    fn rejects_unsupported_descriptor_types() {
        let a = standard(BIP84_ZPUB);
        let b = BIP86_XPUB;
        let inputs = [
            format!("wsh(multi(1,{a}/0/*,{b}/0/*))"),
            format!("wsh(sortedmulti(1,{a}/0/*,{b}/0/*))"),
            format!("sh(multi(1,{a}/0/*,{b}/0/*))"),
            format!("sh(wsh(pk({a}/0/*)))"),
            format!("wsh(pk({a}/0/*))"),
            format!("multi(1,{a}/0/*,{b}/0/*)"),
            format!("pk({a}/0/*)"),
            format!("combo({a}/0/*)"),
            "addr(bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu)".to_string(),
            "raw(0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2)".to_string(),
        ];
        for input in &inputs {
            let err = parse_err(input, Network::Mainnet);
            assert!(
                err.contains("unsupported descriptor type"),
                "{input}: {err}"
            );
            assert!(err.contains("wpkh(KEY/0/*)"), "{input}: {err}");
        }
    }

    #[test]
    fn rejects_more_than_one_key() {
        let a = standard(BIP84_ZPUB);
        let b = BIP86_XPUB;
        for input in [
            format!("tr({b}/0/*,pk({a}/0/*))"),
            format!("tr({b}/0/*,{{pk({a}/0/*),pk({a}/1/*)}})"),
            format!("{a} {b}"),
            format!("{BIP84_ZPUB}\n{BIP49_YPUB}"),
        ] {
            assert_rejected(&input, Network::Mainnet, "exactly one public key");
        }
    }

    #[test]
    fn rejects_multisig_slip132_keys() {
        let mut data = base58::decode_check(&standard(BIP84_ZPUB)).expect("xpub");
        data[..4].copy_from_slice(&0x02aa_7ed3_u32.to_be_bytes());
        let zpub_multisig = base58::encode_check(&data);
        assert!(zpub_multisig.starts_with("Zpub"));
        assert_rejected(&zpub_multisig, Network::Mainnet, "multisig keys (Zpub)");
    }

    #[test]
    fn rejects_hardened_derivation_after_the_key() {
        let xpub = standard(BIP84_ZPUB);
        for body in [
            format!("wpkh({xpub}/0/*')"),
            format!("wpkh({xpub}/0/*h)"),
            format!("wpkh({xpub}/1'/*)"),
            format!("wpkh({xpub}/1h/*)"),
            format!("wpkh([73c5da0a/84'/0'/0']{xpub}/0'/0/*)"),
            format!("tr({BIP86_XPUB}/0/*')"),
            format!("sh(wpkh({BIP49_YPUB}/0h/*))"),
        ] {
            for input in [body.clone(), with_checksum(&body)] {
                assert_rejected(
                    &input,
                    Network::Mainnet,
                    "hardened derivation after the public key",
                );
            }
        }
    }

    #[test]
    fn rejects_descriptors_without_a_single_receive_wildcard() {
        let xpub = standard(BIP84_ZPUB);
        for input in [
            format!("wpkh({xpub})"),
            format!("wpkh([73c5da0a/84'/0'/0']{xpub}/0/5)"),
            with_checksum(&format!("wpkh({xpub})")),
        ] {
            assert_rejected(
                &input,
                Network::Mainnet,
                "descriptor must end with a wildcard like /0/*",
            );
        }
        assert_rejected(
            &format!("wpkh({xpub}/<0;1>/*)"),
            Network::Mainnet,
            "multipath descriptors",
        );
        assert_rejected(
            &format!("wpkh({xpub}/*/0)"),
            Network::Mainnet,
            "invalid descriptor",
        );
        let single = child_pubkey(&account_xpub(NetworkKind::Main, "m/84'/0'/0'"), 0, 0);
        assert_rejected(
            &format!("wpkh({single})"),
            Network::Mainnet,
            "not a single public key",
        );
    }

    #[test]
    fn rejects_a_wrong_checksum() {
        let body = format!("wpkh([73c5da0a/84'/0'/0']{BIP84_ZPUB}/0/*)");
        let good = with_checksum(&body);
        let checksum = &good[good.len() - 8..];
        let mut bad: Vec<char> = checksum.chars().collect();
        bad[0] = if bad[0] == 'q' { 'p' } else { 'q' };
        let bad: String = bad.into_iter().collect();
        for input in [
            format!("{body}#{bad}"),
            format!("{body}#"),
            format!("{body}#{checksum}x"),
            // checksum of the xpub form does not cover the zpub text
            with_checksum(&format!(
                "wpkh([73c5da0a/84'/0'/0']{}/0/*)",
                standard(BIP84_ZPUB)
            ))
            .replace(&standard(BIP84_ZPUB), BIP84_ZPUB),
        ] {
            assert_rejected(&input, Network::Mainnet, "checksum");
        }
    }
}
