//! Esplora adapter (Blockstream / mempool.space HTTP API; amounts in satoshis).
//!
//! Calls used: `GET /blocks/tip/height`, `GET /block-height/:h`,
//! `GET /address/:addr/txs` (+ `/txs/chain/:last_seen_txid` paging),
//! `GET /tx/:txid`, `POST /tx`, `GET /fee-estimates`.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Txid};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{Chain, ChainError, ChainOutput, ChainTx, TxStatus};

/// Per-request timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Confirmed transactions per `/address/:addr/txs[/chain/:last]` page.
const CHAIN_PAGE_SIZE: usize = 25;
/// Mempool transactions `/address/:addr/txs` returns at most (no paging exists).
const MEMPOOL_LIMIT: usize = 50;
/// Longest error body kept in [`ChainError::Http`].
const MAX_ERROR_BODY: usize = 512;

/// The HTTP client of an [`Esplora`]: given, or fetched on first use.
#[derive(Clone)]
enum Client {
    Ready(reqwest::Client),
    Lazy(fn() -> &'static reqwest::Client),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Client::Ready(_) => "Client::Ready",
            Client::Lazy(_) => "Client::Lazy",
        })
    }
}

/// An Esplora server, e.g. `https://blockstream.info/api` or `https://mempool.space/testnet/api`.
#[derive(Debug, Clone)]
pub struct Esplora {
    client: Client,
    base_url: String,
    timeout: Duration,
}

impl Esplora {
    /// `base_url` is the API root, without the trailing slash (one is tolerated).
    pub fn new(client: reqwest::Client, base_url: impl Into<String>) -> Self {
        Esplora::with_client(Client::Ready(client), base_url.into())
    }

    /// An Esplora whose HTTP client comes from `client` on the first call
    /// (e.g. `sdk::outbound_client`): building it costs nothing until then.
    pub fn lazy(client: fn() -> &'static reqwest::Client, base_url: impl Into<String>) -> Self {
        Esplora::with_client(Client::Lazy(client), base_url.into())
    }

    fn with_client(client: Client, base_url: String) -> Self {
        let mut base_url = base_url;
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Esplora {
            client,
            base_url,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Overrides the per-request timeout (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn client(&self) -> &reqwest::Client {
        match &self.client {
            Client::Ready(c) => c,
            Client::Lazy(get) => get(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// GET `path`: the body of a 2xx answer, None on 404, an error otherwise.
    async fn get_text(&self, path: &str) -> Result<Option<String>, ChainError> {
        let response = self
            .client()
            .get(self.url(path))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| transport("GET", path, e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| transport("GET", path, e))?;
        match status {
            200..=299 => Ok(Some(body)),
            404 => Ok(None),
            _ => Err(status_error(status, body)),
        }
    }

    /// GET `path` and decode its JSON body; None on 404.
    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ChainError> {
        match self.get_text(path).await? {
            None => Ok(None),
            Some(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| ChainError::Parse(format!("GET {path}: {e}"))),
        }
    }
}

#[async_trait::async_trait]
impl Chain for Esplora {
    async fn tip_height(&self) -> Result<u32, ChainError> {
        let path = "/blocks/tip/height";
        let body = self.get_text(path).await?.ok_or(ChainError::NotFound)?;
        body.trim()
            .parse::<u32>()
            .map_err(|e| ChainError::Parse(format!("GET {path}: `{}`: {e}", snippet(&body))))
    }

    async fn block_hash_at(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        let path = format!("/block-height/{height}");
        match self.get_text(&path).await? {
            None => Ok(None),
            Some(body) => BlockHash::from_str(body.trim())
                .map(Some)
                .map_err(|e| ChainError::Parse(format!("GET {path}: `{}`: {e}", snippet(&body)))),
        }
    }

    async fn address_txs(&self, address: &str) -> Result<Vec<ChainTx>, ChainError> {
        let addr = utf8_percent_encode(address, NON_ALPHANUMERIC).to_string();
        let path = format!("/address/{addr}/txs");
        let first: Vec<EsploraTx> = self.get_json(&path).await?.ok_or(ChainError::NotFound)?;

        let mut seen = HashSet::new();
        let mut txs = Vec::with_capacity(first.len());
        let mut mempool_count = 0;
        let mut confirmed_in_page = 0;
        let mut last_confirmed = None;
        for raw in first {
            let tx = raw.into_chain_tx()?;
            if tx.status.confirmed {
                confirmed_in_page += 1;
                last_confirmed = Some(tx.txid);
            } else {
                mempool_count += 1;
            }
            if seen.insert(tx.txid) {
                txs.push(tx);
            }
        }
        if mempool_count >= MEMPOOL_LIMIT {
            tracing::warn!(
                address,
                mempool_count,
                "esplora lists at most {MEMPOOL_LIMIT} mempool txs per address; some may be missing"
            );
        }

        // A full page of confirmed txs means there may be more: page on from the last one seen.
        while confirmed_in_page >= CHAIN_PAGE_SIZE {
            let Some(last) = last_confirmed else { break };
            let path = format!("/address/{addr}/txs/chain/{last}");
            let page: Vec<EsploraTx> = self.get_json(&path).await?.ok_or(ChainError::NotFound)?;
            confirmed_in_page = page.len();
            let mut added = 0;
            for raw in page {
                let tx = raw.into_chain_tx()?;
                last_confirmed = Some(tx.txid);
                if seen.insert(tx.txid) {
                    txs.push(tx);
                    added += 1;
                }
            }
            if confirmed_in_page > 0 && added == 0 {
                return Err(ChainError::Parse(format!(
                    "GET {path}: paging made no progress (page repeats known txs)"
                )));
            }
        }
        Ok(txs)
    }

    async fn tx(&self, txid: &Txid) -> Result<Option<ChainTx>, ChainError> {
        let path = format!("/tx/{txid}");
        match self.get_json::<EsploraTx>(&path).await? {
            None => Ok(None),
            Some(raw) => raw.into_chain_tx().map(Some),
        }
    }

    async fn broadcast(&self, tx: &bitcoin::Transaction) -> Result<Txid, ChainError> {
        let path = "/tx";
        let response = self
            .client()
            .post(self.url(path))
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "text/plain")
            .body(bitcoin::consensus::encode::serialize_hex(tx))
            .send()
            .await
            .map_err(|e| transport("POST", path, e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| transport("POST", path, e))?;
        match status {
            200..=299 => {
                let txid = Txid::from_str(body.trim()).map_err(|e| {
                    ChainError::Parse(format!("POST {path}: `{}`: {e}", snippet(&body)))
                })?;
                let expected = tx.compute_txid();
                if txid != expected {
                    return Err(ChainError::Parse(format!(
                        "POST {path}: server answered txid {txid} for transaction {expected}"
                    )));
                }
                Ok(txid)
            }
            400 => Err(ChainError::Rejected(snippet(body.trim()).to_string())),
            _ => Err(status_error(status, body)),
        }
    }

    async fn fee_estimates(&self) -> Result<BTreeMap<u16, Decimal>, ChainError> {
        let path = "/fee-estimates";
        let raw: serde_json::Map<String, serde_json::Value> =
            self.get_json(path).await?.ok_or(ChainError::NotFound)?;
        let mut estimates = BTreeMap::new();
        for (target, rate) in raw {
            let target: u16 = target.parse().map_err(|_| {
                ChainError::Parse(format!("GET {path}: bad confirmation target `{target}`"))
            })?;
            let text = match &rate {
                // With serde_json's arbitrary_precision the number keeps its exact text.
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => {
                    return Err(ChainError::Parse(format!(
                        "GET {path}: fee rate for target {target} is not a number: {other}"
                    )))
                }
            };
            let rate = parse_decimal(&text).ok_or_else(|| {
                ChainError::Parse(format!(
                    "GET {path}: bad fee rate `{text}` for target {target}"
                ))
            })?;
            estimates.insert(target, rate);
        }
        Ok(estimates)
    }
}

/// Exact decimal from a JSON number's text (plain or scientific); negatives refused.
fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let value = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()?
    } else {
        Decimal::from_str(text).ok()?
    };
    (!value.is_sign_negative()).then_some(value)
}

fn transport(method: &str, path: &str, e: reqwest::Error) -> ChainError {
    if e.is_timeout() {
        ChainError::Transport(format!("{method} {path}: timed out: {e}"))
    } else {
        ChainError::Transport(format!("{method} {path}: {e}"))
    }
}

fn status_error(status: u16, body: String) -> ChainError {
    if status == 429 {
        ChainError::RateLimited
    } else {
        ChainError::Http {
            status,
            body: snippet(body.trim()).to_string(),
        }
    }
}

/// The start of a (possibly long, possibly HTML) body, cut on a char boundary.
fn snippet(body: &str) -> &str {
    if body.len() <= MAX_ERROR_BODY {
        return body;
    }
    let mut end = MAX_ERROR_BODY;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}

// ---- wire shapes -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct EsploraTx {
    txid: String,
    vin: Vec<EsploraVin>,
    vout: Vec<EsploraVout>,
    status: EsploraStatus,
}

#[derive(Debug, Deserialize)]
struct EsploraVin {
    txid: String,
    vout: u32,
    #[serde(default)]
    is_coinbase: bool,
    sequence: u32,
}

#[derive(Debug, Deserialize)]
struct EsploraVout {
    scriptpubkey: String,
    /// Absent for non-standard outputs (OP_RETURN...).
    #[serde(default)]
    scriptpubkey_address: Option<String>,
    value: u64,
}

#[derive(Debug, Deserialize)]
struct EsploraStatus {
    confirmed: bool,
    #[serde(default)]
    block_height: Option<u32>,
    #[serde(default)]
    block_hash: Option<String>,
}

impl EsploraTx {
    fn into_chain_tx(self) -> Result<ChainTx, ChainError> {
        let txid = Txid::from_str(&self.txid)
            .map_err(|e| ChainError::Parse(format!("bad txid `{}`: {e}", snippet(&self.txid))))?;
        let bad = |what: String| ChainError::Parse(format!("tx {txid}: {what}"));

        let mut inputs = Vec::with_capacity(self.vin.len());
        let mut rbf = false;
        for vin in &self.vin {
            if vin.is_coinbase {
                continue;
            }
            let prev = Txid::from_str(&vin.txid)
                .map_err(|e| bad(format!("bad input txid `{}`: {e}", snippet(&vin.txid))))?;
            inputs.push(OutPoint::new(prev, vin.vout));
            rbf |= vin.sequence < super::NO_RBF_SEQUENCE;
        }

        let mut outputs = Vec::with_capacity(self.vout.len());
        for (vout, out) in self.vout.into_iter().enumerate() {
            let script_pubkey = ScriptBuf::from_hex(&out.scriptpubkey)
                .map_err(|e| bad(format!("bad scriptpubkey of output {vout}: {e}")))?;
            outputs.push(ChainOutput {
                vout: vout as u32,
                script_pubkey,
                address: out.scriptpubkey_address,
                value: Amount::from_sat(out.value),
            });
        }

        let status = if self.status.confirmed {
            let height = self
                .status
                .block_height
                .ok_or_else(|| bad("confirmed without block_height".into()))?;
            let hash = self
                .status
                .block_hash
                .as_deref()
                .ok_or_else(|| bad("confirmed without block_hash".into()))?;
            let hash = BlockHash::from_str(hash)
                .map_err(|e| bad(format!("bad block_hash `{}`: {e}", snippet(hash))))?;
            TxStatus::confirmed_at(height, hash)
        } else {
            TxStatus::unconfirmed()
        };

        Ok(ChainTx {
            txid,
            outputs,
            inputs,
            rbf,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Against a local axum server serving Esplora's real shapes.

    use super::*;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::Router;
    use bitcoin::absolute::LockTime;
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version;
    use bitcoin::{Sequence, Transaction, TxIn, TxOut, Witness};
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    const TIP: u32 = 840_000;
    const TIP_HASH: &str = "0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5";

    // Address / scriptPubKey pairs (BIP173, BIP350, genesis coinbase, bitcoin wiki P2SH).
    const PAY_ADDR: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    const PAY_SPK: &str = "0014751e76e8199196d454941c45d1b3a323f1433bd6";
    const TR_ADDR: &str = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";
    const TR_SPK: &str = "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    const PKH_ADDR: &str = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
    const PKH_SPK: &str = "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac";
    const SH_ADDR: &str = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy";
    const SH_SPK: &str = "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87";

    const MEMPOOL_TXID: &str = "36d20868a39545f03f9ff607b1fdce6651afee33d8508cafa289fb3757907e05";
    const CONFIRMED_TXID: &str = "bba46a748f68a0354f51b28179d8b4ed442a3e0aa539351bce96048af53efb10";
    const CONFIRMED_BLOCK: &str =
        "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";

    /// A mempool payment to PAY_ADDR signalling RBF (sequence 0xfffffffd), change to TR_ADDR.
    const MEMPOOL_TX: &str = r#"{
      "txid": "36d20868a39545f03f9ff607b1fdce6651afee33d8508cafa289fb3757907e05",
      "version": 2,
      "locktime": 839999,
      "vin": [{
        "txid": "359669dedc7a6a09e9f6d51e23cd849a760de12c5ed97285ad5e32c30f32f62f",
        "vout": 1,
        "prevout": {
          "scriptpubkey": "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
          "scriptpubkey_asm": "OP_PUSHNUM_1 OP_PUSHBYTES_32 79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
          "scriptpubkey_type": "v1_p2tr",
          "scriptpubkey_address": "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
          "value": 150000
        },
        "scriptsig": "",
        "scriptsig_asm": "",
        "witness": ["9a349cb127a7a4b69e9ab3577a09f3bc31face6b15df7a8ab5d46b6622c5486c84f169644bc58c1c04d9ef8827e9c44e4aba7dc6eeffc8d26cc2d46c48ac3583"],
        "is_coinbase": false,
        "sequence": 4294967293
      }],
      "vout": [{
        "scriptpubkey": "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        "scriptpubkey_asm": "OP_0 OP_PUSHBYTES_20 751e76e8199196d454941c45d1b3a323f1433bd6",
        "scriptpubkey_type": "v0_p2wpkh",
        "scriptpubkey_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "value": 50000
      }, {
        "scriptpubkey": "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "scriptpubkey_asm": "OP_PUSHNUM_1 OP_PUSHBYTES_32 79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        "scriptpubkey_type": "v1_p2tr",
        "scriptpubkey_address": "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "value": 98590
      }],
      "size": 205,
      "weight": 616,
      "fee": 1410,
      "status": {"confirmed": false}
    }"#;

    /// A confirmed payment to PAY_ADDR with an OP_RETURN output (no scriptpubkey_address),
    /// two inputs, neither signalling RBF (0xffffffff, 0xfffffffe).
    const CONFIRMED_TX: &str = r#"{
      "txid": "bba46a748f68a0354f51b28179d8b4ed442a3e0aa539351bce96048af53efb10",
      "version": 1,
      "locktime": 0,
      "vin": [{
        "txid": "b1f40915dd6b5549a2c4f7d5ab7ced563595142b283ec4127c4b7a88a891a3b8",
        "vout": 0,
        "prevout": {
          "scriptpubkey": "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac",
          "scriptpubkey_asm": "OP_DUP OP_HASH160 OP_PUSHBYTES_20 62e907b15cbf27d5425399ebf6f0fb50ebb88f18 OP_EQUALVERIFY OP_CHECKSIG",
          "scriptpubkey_type": "p2pkh",
          "scriptpubkey_address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
          "value": 100000
        },
        "scriptsig": "47304402206e9b0ac06b0c52fae689b5478c3f58474de6cab8c78607ed1f4a04e55cb512d902201f2e233c1ec452308dad9fe7735de7f0dc9b29ae3c70b4410430e0b538f9f7a6601210263de406bb8a8b3b3e710e6fd87b3894b8450212ce2429d3cd7bd14bb6874cc7c",
        "scriptsig_asm": "OP_PUSHBYTES_71 304402206e9b0ac06b0c52fae689b5478c3f58474de6cab8c78607ed1f4a04e55cb512d902201f2e233c1ec452308dad9fe7735de7f0dc9b29ae3c70b4410430e0b538f9f7a6601 OP_PUSHBYTES_33 0263de406bb8a8b3b3e710e6fd87b3894b8450212ce2429d3cd7bd14bb6874cc7c",
        "is_coinbase": false,
        "sequence": 4294967295
      }, {
        "txid": "9ebaf05e911a16524bd2c3392c158925349303875046f9dc9e44379056e3296e",
        "vout": 3,
        "prevout": {
          "scriptpubkey": "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87",
          "scriptpubkey_asm": "OP_HASH160 OP_PUSHBYTES_20 b472a266d0bd89c13706a4132ccfb16f7c3b9fcb OP_EQUAL",
          "scriptpubkey_type": "p2sh",
          "scriptpubkey_address": "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
          "value": 25000
        },
        "scriptsig": "16001475c3b6aebc4cf9add6068800f338b894fe700836",
        "scriptsig_asm": "OP_PUSHBYTES_22 001475c3b6aebc4cf9add6068800f338b894fe700836",
        "witness": ["3044022028c2a5f71313b6ea1ecd36d795c0cefca6930cd12e4f6ae1f6354d4b03f99eea02206e9b0ac06b0c52fae689b5478c3f58474de6cab8c78607ed1f4a04e55cb512d901", "0263de406bb8a8b3b3e710e6fd87b3894b8450212ce2429d3cd7bd14bb6874cc7c"],
        "is_coinbase": false,
        "inner_redeemscript_asm": "OP_0 OP_PUSHBYTES_20 75c3b6aebc4cf9add6068800f338b894fe700836",
        "sequence": 4294967294
      }],
      "vout": [{
        "scriptpubkey": "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        "scriptpubkey_asm": "OP_0 OP_PUSHBYTES_20 751e76e8199196d454941c45d1b3a323f1433bd6",
        "scriptpubkey_type": "v0_p2wpkh",
        "scriptpubkey_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "value": 120000
      }, {
        "scriptpubkey": "6a0b68656c6c6f20776f726c64",
        "scriptpubkey_asm": "OP_RETURN OP_PUSHBYTES_11 68656c6c6f20776f726c64",
        "scriptpubkey_type": "op_return",
        "value": 0
      }],
      "size": 412,
      "weight": 1321,
      "fee": 5000,
      "status": {
        "confirmed": true,
        "block_height": 839990,
        "block_hash": "00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054",
        "block_time": 1713565000
      }
    }"#;

    /// Esplora's answer to /fee-estimates (JSON numbers).
    const FEE_ESTIMATES: &str = r#"{"1": 87.882, "2": 87.882, "3": 81.129, "6": 68.285, "144": 1.027, "504": 1.027, "1008": 1.027}"#;

    /// A generated tx in Esplora's shape: `n` makes the txid unique.
    fn gen_tx(n: u32, spk: &str, address: &str, height: Option<u32>) -> Value {
        let status = match height {
            Some(h) => json!({
                "confirmed": true,
                "block_height": h,
                "block_hash": format!("{:0>64x}", 0xb10c_0000_u64 + u64::from(h)),
                "block_time": 1_700_000_000 + h,
            }),
            None => json!({"confirmed": false}),
        };
        json!({
            "txid": format!("{:0>64x}", 0x7e57_0000_u64 + u64::from(n)),
            "version": 2,
            "locktime": 0,
            "vin": [{
                "txid": format!("{:0>64x}", 0xfeed_0000_u64 + u64::from(n)),
                "vout": 0,
                "prevout": {
                    "scriptpubkey": TR_SPK,
                    "scriptpubkey_asm": "OP_PUSHNUM_1 OP_PUSHBYTES_32 79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
                    "scriptpubkey_type": "v1_p2tr",
                    "scriptpubkey_address": TR_ADDR,
                    "value": 1_000_000
                },
                "scriptsig": "",
                "scriptsig_asm": "",
                "witness": ["9a349cb127a7a4b69e9ab3577a09f3bc31face6b15df7a8ab5d46b6622c5486c84f169644bc58c1c04d9ef8827e9c44e4aba7dc6eeffc8d26cc2d46c48ac3583"],
                "is_coinbase": false,
                "sequence": 4294967294u32
            }],
            "vout": [{
                "scriptpubkey": spk,
                "scriptpubkey_asm": "",
                "scriptpubkey_type": "unknown",
                "scriptpubkey_address": address,
                "value": 10_000 + n
            }],
            "size": 153,
            "weight": 444,
            "fee": 300,
            "status": status
        })
    }

    #[derive(Default)]
    struct Fixtures {
        /// Every tx by txid.
        txs: HashMap<String, Value>,
        /// address -> (mempool txs, confirmed txs), each newest first.
        addresses: HashMap<String, (Vec<Value>, Vec<Value>)>,
        /// Paths of the address requests served, in order.
        requests: Mutex<Vec<String>>,
    }

    impl Fixtures {
        fn add(&mut self, address: &str, tx: Value) {
            let txid = tx["txid"].as_str().unwrap_or_default().to_string();
            let entry = self.addresses.entry(address.to_string()).or_default();
            if tx["status"]["confirmed"].as_bool() == Some(true) {
                entry.1.push(tx.clone());
            } else {
                entry.0.push(tx.clone());
            }
            self.txs.insert(txid, tx);
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    /// PAY_ADDR: the two literal fixtures. SH_ADDR: 2 mempool + 30 confirmed txs (paging).
    /// PKH_ADDR: exactly 25 confirmed txs (one empty follow-up page).
    fn fixtures() -> Fixtures {
        let mut f = Fixtures::default();
        f.add(PAY_ADDR, serde_json::from_str(MEMPOOL_TX).unwrap());
        f.add(PAY_ADDR, serde_json::from_str(CONFIRMED_TX).unwrap());
        for n in 0..2 {
            f.add(SH_ADDR, gen_tx(1000 + n, SH_SPK, SH_ADDR, None));
        }
        for n in 0..30 {
            // newest first: decreasing heights
            f.add(SH_ADDR, gen_tx(n, SH_SPK, SH_ADDR, Some(839_900 - n)));
        }
        for n in 0..25 {
            f.add(
                PKH_ADDR,
                gen_tx(2000 + n, PKH_SPK, PKH_ADDR, Some(830_000 - n)),
            );
        }
        f
    }

    fn text(status: StatusCode, body: impl Into<String>) -> Response {
        (status, body.into()).into_response()
    }

    async fn tip_height() -> Response {
        text(StatusCode::OK, TIP.to_string())
    }

    async fn block_height(Path(height): Path<String>) -> Response {
        match height.parse::<u32>() {
            Err(_) => text(StatusCode::BAD_REQUEST, "Invalid height"),
            Ok(h) if h > TIP => text(StatusCode::NOT_FOUND, "Block not found"),
            Ok(h) if h == TIP => text(StatusCode::OK, TIP_HASH),
            Ok(h) => text(
                StatusCode::OK,
                format!("{:0>64x}", 0xb10c_0000_u64 + u64::from(h)),
            ),
        }
    }

    async fn address_txs(State(f): State<Arc<Fixtures>>, Path(addr): Path<String>) -> Response {
        f.requests
            .lock()
            .unwrap()
            .push(format!("/address/{addr}/txs"));
        if addr == "not-an-address" {
            return text(StatusCode::BAD_REQUEST, "Invalid Bitcoin address");
        }
        let page: Vec<Value> = match f.addresses.get(&addr) {
            None => vec![],
            Some((mempool, confirmed)) => mempool
                .iter()
                .take(MEMPOOL_LIMIT)
                .chain(confirmed.iter().take(CHAIN_PAGE_SIZE))
                .cloned()
                .collect(),
        };
        axum::Json(page).into_response()
    }

    async fn address_txs_chain(
        State(f): State<Arc<Fixtures>>,
        Path((addr, last)): Path<(String, String)>,
    ) -> Response {
        f.requests
            .lock()
            .unwrap()
            .push(format!("/address/{addr}/txs/chain/{last}"));
        let confirmed = f
            .addresses
            .get(&addr)
            .map(|a| a.1.clone())
            .unwrap_or_default();
        let Some(pos) = confirmed.iter().position(|t| t["txid"] == last.as_str()) else {
            return text(StatusCode::BAD_REQUEST, "Invalid last_seen_txid");
        };
        let page: Vec<Value> = confirmed
            .into_iter()
            .skip(pos + 1)
            .take(CHAIN_PAGE_SIZE)
            .collect();
        axum::Json(page).into_response()
    }

    async fn get_tx(State(f): State<Arc<Fixtures>>, Path(txid): Path<String>) -> Response {
        match f.txs.get(&txid) {
            Some(tx) => axum::Json(tx.clone()).into_response(),
            None => text(StatusCode::NOT_FOUND, "Transaction not found"),
        }
    }

    /// Like bitcoind behind Esplora: decode, refuse dust outputs with RPC error -26.
    async fn post_tx(body: String) -> Response {
        let tx: Transaction = match bitcoin::consensus::encode::deserialize_hex(body.trim()) {
            Ok(tx) => tx,
            Err(_) => {
                return text(
                    StatusCode::BAD_REQUEST,
                    r#"sendrawtransaction RPC error: {"code":-22,"message":"TX decode failed"}"#,
                )
            }
        };
        if tx.output.iter().any(|o| o.value.to_sat() < 546) {
            return text(
                StatusCode::BAD_REQUEST,
                r#"sendrawtransaction RPC error: {"code":-26,"message":"dust"}"#,
            );
        }
        text(StatusCode::OK, tx.compute_txid().to_string())
    }

    async fn fee_estimates() -> Response {
        ([("content-type", "application/json")], FEE_ESTIMATES).into_response()
    }

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        format!("http://{addr}")
    }

    /// A fake Esplora under `/api`, like blockstream.info/api.
    async fn esplora() -> (Esplora, Arc<Fixtures>) {
        let f = Arc::new(fixtures());
        let api = Router::new()
            .route("/blocks/tip/height", get(tip_height))
            .route("/block-height/{height}", get(block_height))
            .route("/address/{addr}/txs", get(address_txs))
            .route("/address/{addr}/txs/chain/{last}", get(address_txs_chain))
            .route("/tx/{txid}", get(get_tx))
            .route("/tx", post(post_tx))
            .route("/fee-estimates", get(fee_estimates))
            .with_state(f.clone());
        let base = serve(Router::new().nest("/api", api)).await;
        (
            Esplora::new(reqwest::Client::new(), format!("{base}/api/")),
            f,
        )
    }

    /// A server answering every request with `status` and `body`.
    async fn always(status: StatusCode, body: &'static str) -> Esplora {
        let base = serve(Router::new().fallback(move || async move { text(status, body) })).await;
        Esplora::new(reqwest::Client::new(), base)
    }

    fn txid(s: &str) -> Txid {
        Txid::from_str(s).unwrap()
    }

    fn spend(value: u64) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array([7; 32]), 1),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::from_slice(&[[0x30u8; 71].as_slice(), [0x02u8; 33].as_slice()]),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: ScriptBuf::from_hex(PAY_SPK).unwrap(),
            }],
        }
    }

    #[test]
    fn fixture_addresses_match_their_scripts() {
        for (addr, spk) in [
            (PAY_ADDR, PAY_SPK),
            (TR_ADDR, TR_SPK),
            (PKH_ADDR, PKH_SPK),
            (SH_ADDR, SH_SPK),
        ] {
            let parsed = bitcoin::Address::from_str(addr).unwrap().assume_checked();
            assert_eq!(parsed.script_pubkey().to_hex_string(), spk, "{addr}");
        }
    }

    #[tokio::test]
    async fn tip_height_and_block_hashes() {
        let (esplora, _) = esplora().await;
        assert_eq!(esplora.tip_height().await.unwrap(), TIP);
        assert_eq!(
            esplora.block_hash_at(TIP).await.unwrap(),
            Some(BlockHash::from_str(TIP_HASH).unwrap())
        );
        assert!(esplora.block_hash_at(100).await.unwrap().is_some());
        assert_eq!(esplora.block_hash_at(TIP + 1).await.unwrap(), None);
    }

    #[tokio::test]
    async fn address_txs_mempool_and_confirmed() {
        let (esplora, _) = esplora().await;
        let txs = esplora.address_txs(PAY_ADDR).await.unwrap();
        assert_eq!(txs.len(), 2);

        // newest first: the mempool tx, then the confirmed one
        let mempool = &txs[0];
        assert_eq!(mempool.txid, txid(MEMPOOL_TXID));
        assert_eq!(mempool.status, TxStatus::unconfirmed());
        assert!(mempool.rbf, "sequence 0xfffffffd signals RBF");
        assert_eq!(
            mempool.inputs,
            vec![OutPoint::new(
                txid("359669dedc7a6a09e9f6d51e23cd849a760de12c5ed97285ad5e32c30f32f62f"),
                1
            )]
        );
        assert_eq!(mempool.outputs.len(), 2);
        assert_eq!(mempool.outputs[0].vout, 0);
        assert_eq!(mempool.outputs[0].address.as_deref(), Some(PAY_ADDR));
        assert_eq!(mempool.outputs[0].script_pubkey.to_hex_string(), PAY_SPK);
        assert_eq!(mempool.outputs[0].value, Amount::from_sat(50_000));
        assert_eq!(mempool.outputs[1].vout, 1);
        assert_eq!(mempool.outputs[1].address.as_deref(), Some(TR_ADDR));
        assert_eq!(mempool.outputs[1].value, Amount::from_sat(98_590));

        let confirmed = &txs[1];
        assert_eq!(confirmed.txid, txid(CONFIRMED_TXID));
        assert_eq!(
            confirmed.status,
            TxStatus::confirmed_at(839_990, BlockHash::from_str(CONFIRMED_BLOCK).unwrap())
        );
        assert_eq!(confirmed.status.confirmations(TIP), 11);
        assert!(
            !confirmed.rbf,
            "sequences 0xffffffff and 0xfffffffe do not signal RBF"
        );
        assert_eq!(confirmed.inputs.len(), 2);
        assert_eq!(confirmed.outputs[0].value, Amount::from_sat(120_000));
        let op_return = &confirmed.outputs[1];
        assert_eq!(op_return.address, None);
        assert!(op_return.script_pubkey.is_op_return());
        assert_eq!(op_return.value, Amount::ZERO);
    }

    #[tokio::test]
    async fn address_txs_pages_through_confirmed_history() {
        let (esplora, f) = esplora().await;
        let txs = esplora.address_txs(SH_ADDR).await.unwrap();
        assert_eq!(txs.len(), 32, "2 mempool + 30 confirmed");
        assert!(txs[..2].iter().all(|t| !t.status.confirmed));
        assert!(txs[2..].iter().all(|t| t.status.confirmed));
        let heights: Vec<u32> = txs[2..]
            .iter()
            .filter_map(|t| t.status.block_height)
            .collect();
        let expected: Vec<u32> = (0..30).map(|n| 839_900 - n).collect();
        assert_eq!(heights, expected, "newest first, no gap, no duplicate");

        // the second page starts after the 25th confirmed tx
        let last_seen = format!("{:0>64x}", 0x7e57_0000_u64 + 24);
        assert_eq!(
            f.requests(),
            vec![
                format!("/address/{SH_ADDR}/txs"),
                format!("/address/{SH_ADDR}/txs/chain/{last_seen}"),
            ]
        );
    }

    #[tokio::test]
    async fn address_txs_full_page_then_empty_page() {
        let (esplora, f) = esplora().await;
        let txs = esplora.address_txs(PKH_ADDR).await.unwrap();
        assert_eq!(txs.len(), 25);
        assert_eq!(
            f.requests().len(),
            2,
            "a full page asks for the next one, which is empty"
        );
    }

    #[tokio::test]
    async fn address_txs_unknown_and_invalid_addresses() {
        let (esplora, _) = esplora().await;
        assert!(esplora.address_txs(TR_ADDR).await.unwrap().is_empty());
        match esplora.address_txs("not-an-address").await {
            Err(ChainError::Http { status: 400, body }) => {
                assert_eq!(body, "Invalid Bitcoin address")
            }
            other => panic!("expected HTTP 400, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn tx_known_and_unknown() {
        let (esplora, _) = esplora().await;
        let tx = esplora.tx(&txid(CONFIRMED_TXID)).await.unwrap().unwrap();
        assert_eq!(tx.txid, txid(CONFIRMED_TXID));
        assert_eq!(tx.status.block_height, Some(839_990));
        let unknown = txid("cfe233c1ec452308dad9fe7735de7f0dc9b29ae3c70b4410430e0b538f9f7a66");
        assert!(esplora.tx(&unknown).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn broadcast_accepted_and_rejected() {
        let (esplora, _) = esplora().await;
        let tx = spend(10_000);
        assert_eq!(esplora.broadcast(&tx).await.unwrap(), tx.compute_txid());

        match esplora.broadcast(&spend(100)).await {
            Err(ChainError::Rejected(reason)) => {
                assert!(
                    reason.starts_with("sendrawtransaction RPC error:"),
                    "{reason}"
                );
                assert!(reason.contains("-26"), "{reason}");
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn fee_estimates_are_exact_decimals() {
        let (esplora, _) = esplora().await;
        let fees = esplora.fee_estimates().await.unwrap();
        assert_eq!(fees.len(), 7);
        assert_eq!(fees[&1], Decimal::from_str("87.882").unwrap());
        assert_eq!(fees[&3], Decimal::from_str("81.129").unwrap());
        assert_eq!(fees[&144], Decimal::from_str("1.027").unwrap());
        assert_eq!(
            fees.keys().copied().collect::<Vec<_>>(),
            vec![1, 2, 3, 6, 144, 504, 1008]
        );
    }

    #[tokio::test]
    async fn rate_limited_everywhere() {
        let esplora = always(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").await;
        assert!(matches!(
            esplora.tip_height().await,
            Err(ChainError::RateLimited)
        ));
        assert!(matches!(
            esplora.block_hash_at(1).await,
            Err(ChainError::RateLimited)
        ));
        assert!(matches!(
            esplora.address_txs(PAY_ADDR).await,
            Err(ChainError::RateLimited)
        ));
        assert!(matches!(
            esplora.tx(&txid(MEMPOOL_TXID)).await,
            Err(ChainError::RateLimited)
        ));
        assert!(matches!(
            esplora.broadcast(&spend(10_000)).await,
            Err(ChainError::RateLimited)
        ));
        assert!(matches!(
            esplora.fee_estimates().await,
            Err(ChainError::RateLimited)
        ));
    }

    #[tokio::test]
    async fn server_errors_and_garbage() {
        let esplora = always(
            StatusCode::BAD_GATEWAY,
            "<html><body>502 Bad Gateway</body></html>",
        )
        .await;
        match esplora.tip_height().await {
            Err(ChainError::Http { status: 502, body }) => assert!(body.contains("Bad Gateway")),
            other => panic!("expected HTTP 502, got {other:?}"),
        }

        // an HTML page with status 200 is a parse error, not a panic
        let esplora = always(StatusCode::OK, "<html>maintenance</html>").await;
        assert!(matches!(
            esplora.tip_height().await,
            Err(ChainError::Parse(_))
        ));
        assert!(matches!(
            esplora.block_hash_at(5).await,
            Err(ChainError::Parse(_))
        ));
        assert!(matches!(
            esplora.address_txs(PAY_ADDR).await,
            Err(ChainError::Parse(_))
        ));
        assert!(matches!(
            esplora.tx(&txid(MEMPOOL_TXID)).await,
            Err(ChainError::Parse(_))
        ));
        assert!(matches!(
            esplora.broadcast(&spend(10_000)).await,
            Err(ChainError::Parse(_))
        ));
        assert!(matches!(
            esplora.fee_estimates().await,
            Err(ChainError::Parse(_))
        ));

        // a confirmed tx without its block is malformed
        let esplora = always(
            StatusCode::OK,
            r#"{"txid":"36d20868a39545f03f9ff607b1fdce6651afee33d8508cafa289fb3757907e05","vin":[],"vout":[],"status":{"confirmed":true}}"#,
        )
        .await;
        assert!(matches!(
            esplora.tx(&txid(MEMPOOL_TXID)).await,
            Err(ChainError::Parse(_))
        ));
    }

    #[tokio::test]
    async fn unreachable_and_slow_servers_are_transport_errors() {
        // nothing listens on a port we just released
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let esplora = Esplora::new(reqwest::Client::new(), format!("http://127.0.0.1:{port}"));
        assert!(matches!(
            esplora.tip_height().await,
            Err(ChainError::Transport(_))
        ));

        let base = serve(Router::new().fallback(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "840000"
        }))
        .await;
        let esplora =
            Esplora::new(reqwest::Client::new(), base).with_timeout(Duration::from_millis(200));
        match esplora.tip_height().await {
            Err(ChainError::Transport(msg)) => assert!(msg.contains("timed out"), "{msg}"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
