//! Chain port and adapters (Esplora, sandbox chain).
//!
//! [`Chain`] is what the chain poller and the broadcast paths talk to. Two
//! adapters implement it:
//! - [`esplora::Esplora`]: a Blockstream / mempool.space style HTTP API;
//! - [`sim::SimChain`]: the in-process sandbox chain (regtest-like), driven by
//!   tests and the `/v1/sandbox` endpoints.
//!
//! Both return the same shapes, so a poller cannot tell them apart.

use std::collections::BTreeMap;

use bitcoin::BlockHash;
use rust_decimal::Decimal;

pub mod esplora;
pub mod sim;

pub use esplora::Esplora;
pub use sim::{SimChain, SimError};

/// Input sequences below this signal replace-by-fee (BIP125).
pub(crate) const NO_RBF_SEQUENCE: u32 = 0xffff_fffe;

/// Where a transaction stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatus {
    pub confirmed: bool,
    pub block_height: Option<u32>,
    pub block_hash: Option<bitcoin::BlockHash>,
}

impl TxStatus {
    /// A mempool transaction.
    pub fn unconfirmed() -> Self {
        TxStatus {
            confirmed: false,
            block_height: None,
            block_hash: None,
        }
    }

    /// A transaction in the block `hash` at `height`.
    pub fn confirmed_at(height: u32, hash: BlockHash) -> Self {
        TxStatus {
            confirmed: true,
            block_height: Some(height),
            block_hash: Some(hash),
        }
    }

    /// Confirmations given the chain tip: 0 while unconfirmed, 1 in the tip block.
    pub fn confirmations(&self, tip_height: u32) -> u32 {
        match (self.confirmed, self.block_height) {
            (true, Some(h)) if h <= tip_height => tip_height - h + 1,
            _ => 0,
        }
    }
}

/// One output of a transaction.
#[derive(Debug, Clone)]
pub struct ChainOutput {
    pub vout: u32,
    pub script_pubkey: bitcoin::ScriptBuf,
    /// None for non-standard outputs (e.g. OP_RETURN).
    pub address: Option<String>,
    pub value: bitcoin::Amount,
}

/// A transaction as the chain reports it.
#[derive(Debug, Clone)]
pub struct ChainTx {
    pub txid: bitcoin::Txid,
    /// All of the transaction's outputs, in order.
    pub outputs: Vec<ChainOutput>,
    /// The outpoints it spends (coinbase inputs are left out).
    pub inputs: Vec<bitcoin::OutPoint>,
    /// Signals replace-by-fee: any input sequence < 0xfffffffe.
    pub rbf: bool,
    pub status: TxStatus,
}

impl ChainTx {
    /// Builds the view of a full transaction; `network` renders output addresses.
    pub(crate) fn from_transaction(
        tx: &bitcoin::Transaction,
        network: bitcoin::Network,
        status: TxStatus,
    ) -> ChainTx {
        let outputs = tx
            .output
            .iter()
            .enumerate()
            .map(|(vout, out)| ChainOutput {
                vout: vout as u32,
                script_pubkey: out.script_pubkey.clone(),
                address: bitcoin::Address::from_script(&out.script_pubkey, network)
                    .ok()
                    .map(|a| a.to_string()),
                value: out.value,
            })
            .collect();
        let inputs = tx
            .input
            .iter()
            .map(|i| i.previous_output)
            .filter(|o| !o.is_null())
            .collect();
        ChainTx {
            txid: tx.compute_txid(),
            outputs,
            inputs,
            rbf: tx.input.iter().any(|i| i.sequence.is_rbf()),
            status,
        }
    }
}

/// Why a chain call failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("chain backend rate limited the request (HTTP 429)")]
    RateLimited,
    #[error("chain backend answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("chain backend unreachable: {0}")]
    Transport(String),
    #[error("unexpected response from chain backend: {0}")]
    Parse(String),
    /// The transaction was refused by the node, with its reason.
    #[error("transaction rejected: {0}")]
    Rejected(String),
    #[error("not found")]
    NotFound,
}

/// The chain port.
#[async_trait::async_trait]
pub trait Chain: Send + Sync {
    async fn tip_height(&self) -> Result<u32, ChainError>;
    /// Hash of the best-chain block at `height`, None if height > tip.
    async fn block_hash_at(&self, height: u32) -> Result<Option<bitcoin::BlockHash>, ChainError>;
    /// Every transaction touching `address` (mempool + confirmed, all pages), newest first.
    /// Outputs are all of the tx's outputs.
    async fn address_txs(&self, address: &str) -> Result<Vec<ChainTx>, ChainError>;
    /// The tx, or None if the chain does not know it (dropped / replaced / reorged out of existence).
    async fn tx(&self, txid: &bitcoin::Txid) -> Result<Option<ChainTx>, ChainError>;
    async fn broadcast(&self, tx: &bitcoin::Transaction) -> Result<bitcoin::Txid, ChainError>;
    /// sat/vB by confirmation target (Esplora /fee-estimates), as Decimal.
    async fn fee_estimates(&self) -> Result<BTreeMap<u16, Decimal>, ChainError>;
}
