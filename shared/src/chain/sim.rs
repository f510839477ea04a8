//! SimChain: the sandbox chain (regtest-like), driven by tests and `/v1/sandbox`.
//!
//! It holds real [`bitcoin::Transaction`]s and validates them like a node: every
//! input must exist and be unspent in its UTXO set, scripts and signatures are
//! checked by Bitcoin Core's own consensus code (libbitcoinconsensus through the
//! `bitcoin` crate's `bitcoinconsensus` feature), fees may not be negative and
//! must pay the minimum relay fee, sizes stay within standard limits, and a
//! conflicting transaction is taken only as an explicit (BIP 125) replacement
//! paying more. Refusals carry Bitcoin Core's reason words.
//!
//! Coins come from the chain's own faucet: the genesis block's coinbase pays
//! [`FAUCET_COINS`] outputs to a key the sandbox holds (random per chain, kept in
//! its snapshot), and sandbox payments spend those outputs with real signatures.
//! A buyer who wants to sign their own payment first gets a sandbox payment to an
//! address of theirs, then spends it.
//!
//! Sandbox transactions remember the store they were made for (their *owner*):
//! a store can double-spend only its own, and a store's reorg sends back to the
//! mempool only its own transactions (and what spends them); other stores'
//! transactions stay confirmed at the same heights in the replacement blocks.
//!
//! There is a mempool and a best chain of blocks. A block's hash commits to the
//! previous hash, the height, the txids and a random salt, so blocks replaced by a
//! reorg get new hashes.
//!
//! It implements [`Chain`] with Esplora's semantics, so a poller cannot tell the
//! difference. An index script_pubkey -> txids keeps `address_txs` proportional
//! to the address's own history.
//!
//! Persistence: [`SimChain::open`] keeps a JSON snapshot (consensus-encoded tx hex)
//! saved after every mutation (temp file + rename) by a writer thread, so a mutation
//! never waits for a multi-megabyte write; saves requested while one is in progress
//! coalesce into the next. [`SimChain::flush`] and dropping the chain wait until the
//! file holds every mutation. A failed write is logged (and reported by `flush`); the
//! in-memory chain stays authoritative and the next save rewrites everything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bitcoin::absolute::LockTime;
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, BlockHash, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use rand::Rng;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Chain, ChainError, ChainTx, TxStatus};
use crate::network::Network;
use crate::schema;
use crate::table::{Cond, Item, Query, Table};
use serde_json::json;

/// Snapshot format version (1: before the faucet; still read).
const SNAPSHOT_VERSION: u32 = 2;
/// How many outputs the genesis coinbase pays to the faucet.
pub const FAUCET_COINS: usize = 2_000;
/// The value of each of them (2,000 x 10,000 BTC = 20 million BTC).
pub const FAUCET_COIN: Amount = Amount::from_sat(10_000 * 100_000_000);
/// The extra fee a sandbox double-spend pays over the transaction it replaces.
const DOUBLE_SPEND_FEE: Amount = Amount::from_sat(1_000);
/// Bitcoin Core's standard limit on a transaction's weight.
pub const MAX_STANDARD_TX_WEIGHT: u64 = 400_000;
/// Bitcoin Core's smallest standard transaction (non-witness bytes).
const MIN_STANDARD_TX_NONWITNESS_SIZE: usize = 65;
/// Minimum relay fee and incremental relay fee, sats per virtual byte.
pub const MIN_RELAY_SAT_PER_VB: u64 = 1;

/// Why a sandbox operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("unknown transaction {0}")]
    UnknownTx(Txid),
    #[error("transaction {0} is already confirmed")]
    AlreadyConfirmed(Txid),
    #[error("transaction {0} does not signal replace-by-fee")]
    NotRbf(Txid),
    #[error("invalid address `{address}`: {reason}")]
    InvalidAddress { address: String, reason: String },
    #[error("address `{address}` is not valid for {network}")]
    WrongNetwork { address: String, network: Network },
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    #[error("reorg depth {depth} is out of range: it must be between 1 and the tip height {tip}")]
    InvalidDepth { depth: u32, tip: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("transaction {0} was not made for this store through the sandbox; a store can double-spend only its own sandbox payments")]
    NotYours(Txid),
    #[error("transaction {txid} cannot be double-spent: {reason}")]
    CannotReplace { txid: Txid, reason: String },
    #[error("the sandbox chain refused the transaction: {0}")]
    Refused(String),
    #[error("sandbox chain storage: {0}")]
    Storage(String),
}

/// Where a known transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the mempool; `seq` orders arrivals.
    Mempool { seq: u64 },
    /// In the best chain at `height`, `pos`-th tx of the block.
    Block { height: u32, pos: u32 },
}

impl Place {
    /// Sort key, larger is newer: mempool (by arrival) above confirmed (by height, position).
    fn recency(self) -> (u8, u64, u64) {
        match self {
            Place::Mempool { seq } => (1, seq, 0),
            Place::Block { height, pos } => (0, u64::from(height), u64::from(pos)),
        }
    }
}

/// A known transaction and what was derived from it once.
struct Entry {
    tx: Transaction,
    /// Consensus hex, for snapshots.
    hex: String,
    /// The poller's view without status (status depends on `place`).
    view: ChainTx,
    /// Index keys this tx is filed under in `State::by_script`.
    scripts: Vec<ScriptBuf>,
    place: Place,
}

struct Block {
    hash: BlockHash,
    txids: Vec<Txid>,
}

/// One secp256k1 context for signing and key derivation.
fn secp() -> &'static Secp256k1<All> {
    static SECP: OnceLock<Secp256k1<All>> = OnceLock::new();
    SECP.get_or_init(Secp256k1::new)
}

/// The key the sandbox's coins are paid to (P2WPKH).
struct Faucet {
    secret: SecretKey,
    public: CompressedPublicKey,
    script: ScriptBuf,
}

impl Faucet {
    fn new(secret: SecretKey) -> Faucet {
        let public = CompressedPublicKey(secret.public_key(secp()));
        Faucet {
            secret,
            public,
            script: ScriptBuf::new_p2wpkh(&public.wpubkey_hash()),
        }
    }

    fn random() -> Faucet {
        Faucet::new(SecretKey::new(&mut rand::thread_rng()))
    }

    /// The genesis coinbase: [`FAUCET_COINS`] outputs of [`FAUCET_COIN`] to the faucet.
    /// A random tag in the script_sig makes every chain's coinbase unique.
    fn coinbase(&self) -> Transaction {
        let mut script_sig = vec![0x01, 0x00, 0x20];
        script_sig.extend(rand::thread_rng().gen::<[u8; 32]>());
        Transaction {
            version: Version::ONE,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::from_bytes(script_sig),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: (0..FAUCET_COINS)
                .map(|_| TxOut {
                    value: FAUCET_COIN,
                    script_pubkey: self.script.clone(),
                })
                .collect(),
        }
    }

    /// A version-2 transaction spending `inputs` (outpoint and the output it
    /// spends, all this key's) to `outputs`, signalling RBF if `rbf`, signed.
    fn spend(
        &self,
        inputs: &[(OutPoint, TxOut)],
        outputs: Vec<TxOut>,
        rbf: bool,
    ) -> Result<Transaction, SimError> {
        let sequence = if rbf {
            Sequence::ENABLE_RBF_NO_LOCKTIME
        } else {
            Sequence::ENABLE_LOCKTIME_NO_RBF
        };
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: inputs
                .iter()
                .map(|(point, _)| TxIn {
                    previous_output: *point,
                    script_sig: ScriptBuf::new(),
                    sequence,
                    witness: Witness::new(),
                })
                .collect(),
            output: outputs,
        };
        let prevouts: Vec<TxOut> = inputs.iter().map(|(_, o)| o.clone()).collect();
        self.sign(&mut tx, &prevouts)?;
        Ok(tx)
    }

    /// Signs every input of `tx`, each spending the faucet output in `prevouts`.
    fn sign(&self, tx: &mut Transaction, prevouts: &[TxOut]) -> Result<(), SimError> {
        let mut witnesses = Vec::with_capacity(tx.input.len());
        {
            let mut cache = SighashCache::new(&*tx);
            for (i, prev) in prevouts.iter().enumerate() {
                let sighash = cache
                    .p2wpkh_signature_hash(
                        i,
                        &prev.script_pubkey,
                        prev.value,
                        EcdsaSighashType::All,
                    )
                    .map_err(|e| SimError::Invalid(format!("signing the sandbox payment: {e}")))?;
                let signature = secp().sign_ecdsa(&Message::from(sighash), &self.secret);
                let signature = bitcoin::ecdsa::Signature {
                    signature,
                    sighash_type: EcdsaSighashType::All,
                };
                witnesses.push(Witness::p2wpkh(&signature, &self.public.0));
            }
        }
        for (input, witness) in tx.input.iter_mut().zip(witnesses) {
            input.witness = witness;
        }
        Ok(())
    }
}

/// Why a node refuses a transaction: Bitcoin Core's RPC code and reason words.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    code: i32,
    reason: String,
}

impl Refusal {
    fn rejected(reason: impl Into<String>) -> Refusal {
        Refusal {
            code: -26,
            reason: reason.into(),
        }
    }

    fn missing() -> Refusal {
        Refusal {
            code: -25,
            reason: "bad-txns-inputs-missingorspent".into(),
        }
    }
}

/// What accepting a valid transaction takes: the fee it pays and the mempool
/// transactions it replaces (BIP 125).
struct Accepted {
    replaces: Vec<Txid>,
}

struct State {
    network: Network,
    /// The best chain; index = height.
    blocks: Vec<Block>,
    /// Mempool in arrival order.
    mempool: BTreeMap<u64, Txid>,
    /// Every transaction in the mempool or the best chain.
    txs: HashMap<Txid, Entry>,
    /// script_pubkey -> txids paying it or spending from it.
    by_script: HashMap<ScriptBuf, HashSet<Txid>>,
    /// outpoint -> the tx spending it.
    spends: HashMap<OutPoint, Txid>,
    /// The key the chain's coins are paid to.
    faucet: Faucet,
    /// txid -> the store a sandbox transaction was made for.
    owners: HashMap<Txid, String>,
    next_seq: u64,
    /// Bumped by every mutation; the saved META holds the generation saved.
    generation: u64,
    /// Transactions and blocks added since the last save.
    new_txs: Vec<Txid>,
    new_blocks: Vec<BlockHash>,
}

impl State {
    fn empty(network: Network, faucet: Faucet) -> State {
        State {
            network,
            blocks: Vec::new(),
            mempool: BTreeMap::new(),
            txs: HashMap::new(),
            by_script: HashMap::new(),
            spends: HashMap::new(),
            faucet,
            owners: HashMap::new(),
            next_seq: 0,
            generation: 0,
            new_txs: Vec::new(),
            new_blocks: Vec::new(),
        }
    }

    /// A chain whose genesis block holds the faucet's coinbase.
    fn with_genesis(network: Network) -> State {
        let mut state = State::empty(network, Faucet::random());
        let coinbase = state.faucet.coinbase();
        let txid = state.insert(coinbase, Place::Block { height: 0, pos: 0 });
        state.push_block(vec![txid]);
        state
    }

    fn tip(&self) -> u32 {
        self.blocks.len().saturating_sub(1) as u32
    }

    fn status(&self, place: Place) -> TxStatus {
        match place {
            Place::Mempool { .. } => TxStatus::unconfirmed(),
            Place::Block { height, .. } => match self.blocks.get(height as usize) {
                Some(block) => TxStatus::confirmed_at(height, block.hash),
                None => TxStatus::unconfirmed(),
            },
        }
    }

    fn chain_tx(&self, entry: &Entry) -> ChainTx {
        let mut view = entry.view.clone();
        view.status = self.status(entry.place);
        view
    }

    /// Appends a block holding `txids` (already placed by the caller).
    fn push_block(&mut self, txids: Vec<Txid>) -> BlockHash {
        let height = self.blocks.len() as u32;
        let mut engine = sha256d::Hash::engine();
        if let Some(prev) = self.blocks.last() {
            engine.input(prev.hash.as_byte_array());
        }
        engine.input(&height.to_le_bytes());
        for txid in &txids {
            engine.input(txid.as_byte_array());
        }
        engine.input(&rand::thread_rng().gen::<[u8; 32]>());
        let hash = BlockHash::from_raw_hash(sha256d::Hash::from_engine(engine));
        self.blocks.push(Block { hash, txids });
        self.new_blocks.push(hash);
        hash
    }

    /// Mines one block; with `take_mempool` it confirms the whole mempool.
    fn mine_block(&mut self, take_mempool: bool) -> BlockHash {
        let height = self.blocks.len() as u32;
        let txids: Vec<Txid> = if take_mempool {
            std::mem::take(&mut self.mempool).into_values().collect()
        } else {
            Vec::new()
        };
        for (pos, txid) in txids.iter().enumerate() {
            if let Some(entry) = self.txs.get_mut(txid) {
                entry.place = Place::Block {
                    height,
                    pos: pos as u32,
                };
            }
        }
        self.push_block(txids)
    }

    /// Files `tx` at `place` and indexes it. The caller has checked for conflicts.
    fn insert(&mut self, tx: Transaction, place: Place) -> Txid {
        let view =
            ChainTx::from_transaction(&tx, self.network.to_bitcoin(), TxStatus::unconfirmed());
        let txid = view.txid;

        let mut scripts: Vec<ScriptBuf> = Vec::new();
        for out in &tx.output {
            if !scripts.contains(&out.script_pubkey) {
                scripts.push(out.script_pubkey.clone());
            }
        }
        for input in tx.input.iter().filter(|i| !i.previous_output.is_null()) {
            let prev = input.previous_output;
            if let Some(parent) = self.txs.get(&prev.txid) {
                if let Some(out) = parent.tx.output.get(prev.vout as usize) {
                    if !scripts.contains(&out.script_pubkey) {
                        scripts.push(out.script_pubkey.clone());
                    }
                }
            }
            self.spends.insert(prev, txid);
        }
        for script in &scripts {
            self.by_script
                .entry(script.clone())
                .or_default()
                .insert(txid);
        }
        if let Place::Mempool { seq } = place {
            self.mempool.insert(seq, txid);
        }

        let hex = serialize_hex(&tx);
        self.new_txs.push(txid);
        self.txs.insert(
            txid,
            Entry {
                tx,
                hex,
                view,
                scripts,
                place,
            },
        );
        txid
    }

    fn add_to_mempool(&mut self, tx: Transaction) -> Txid {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.insert(tx, Place::Mempool { seq })
    }

    /// Forgets a mempool tx and every mempool tx spending its outputs, recursively.
    fn remove_with_descendants(&mut self, txid: Txid) {
        let mut stack = vec![txid];
        while let Some(txid) = stack.pop() {
            let Some(entry) = self.txs.remove(&txid) else {
                continue;
            };
            self.owners.remove(&txid);
            if let Place::Mempool { seq } = entry.place {
                self.mempool.remove(&seq);
            }
            for input in &entry.tx.input {
                if self.spends.get(&input.previous_output) == Some(&txid) {
                    self.spends.remove(&input.previous_output);
                }
            }
            for script in &entry.scripts {
                if let Some(ids) = self.by_script.get_mut(script) {
                    ids.remove(&txid);
                    if ids.is_empty() {
                        self.by_script.remove(script);
                    }
                }
            }
            for vout in 0..entry.tx.output.len() as u32 {
                if let Some(child) = self.spends.get(&OutPoint::new(txid, vout)) {
                    stack.push(*child);
                }
            }
        }
    }

    /// The entry of a tx that must still be unconfirmed.
    fn unconfirmed(&self, txid: &Txid) -> Result<&Entry, SimError> {
        let entry = self.txs.get(txid).ok_or(SimError::UnknownTx(*txid))?;
        match entry.place {
            Place::Mempool { .. } => Ok(entry),
            Place::Block { .. } => Err(SimError::AlreadyConfirmed(*txid)),
        }
    }

    /// The output `prev` points at, if the chain knows it.
    fn prevout(&self, prev: &OutPoint) -> Option<&TxOut> {
        self.txs.get(&prev.txid)?.tx.output.get(prev.vout as usize)
    }

    /// The fee a known transaction pays (zero when an input is unknown, as for
    /// transactions of snapshots written before the chain validated).
    fn fee_of(&self, tx: &Transaction) -> Amount {
        let mut total_in = Amount::ZERO;
        for input in &tx.input {
            match self.prevout(&input.previous_output) {
                Some(out) => total_in += out.value,
                None => return Amount::ZERO,
            }
        }
        let total_out: Amount = tx.output.iter().map(|o| o.value).sum();
        total_in.checked_sub(total_out).unwrap_or(Amount::ZERO)
    }

    /// `txid` and every mempool transaction spending its outputs, recursively.
    fn with_descendants(&self, txid: Txid) -> Vec<Txid> {
        let mut out = vec![txid];
        let mut i = 0;
        while i < out.len() {
            let current = out[i];
            if let Some(entry) = self.txs.get(&current) {
                for vout in 0..entry.tx.output.len() as u32 {
                    if let Some(child) = self.spends.get(&OutPoint::new(current, vout)) {
                        if !out.contains(child) {
                            out.push(*child);
                        }
                    }
                }
            }
            i += 1;
        }
        out
    }

    /// Checks `tx` as Bitcoin Core's mempool would: structure, standard size
    /// and outputs, inputs present and unspent, fee, scripts and signatures
    /// (libbitcoinconsensus), and BIP 125 rules for a conflicting replacement.
    fn validate(&self, tx: &Transaction) -> Result<Accepted, Refusal> {
        if tx.input.is_empty() {
            return Err(Refusal::rejected("bad-txns-vin-empty"));
        }
        if tx.output.is_empty() {
            return Err(Refusal::rejected("bad-txns-vout-empty"));
        }
        if !(1..=3).contains(&tx.version.0) {
            return Err(Refusal::rejected("version"));
        }
        if tx.weight().to_wu() > MAX_STANDARD_TX_WEIGHT {
            return Err(Refusal::rejected("tx-size"));
        }
        if tx.base_size() < MIN_STANDARD_TX_NONWITNESS_SIZE {
            return Err(Refusal::rejected("tx-size-small"));
        }
        let mut total_out = Amount::ZERO;
        for out in &tx.output {
            if out.value > Amount::MAX_MONEY {
                return Err(Refusal::rejected("bad-txns-vout-toolarge"));
            }
            total_out = match total_out.checked_add(out.value) {
                Some(t) if t <= Amount::MAX_MONEY => t,
                _ => return Err(Refusal::rejected("bad-txns-txouttotal-toolarge")),
            };
            if !out.script_pubkey.is_op_return() && out.value < out.script_pubkey.minimal_non_dust()
            {
                return Err(Refusal::rejected("dust"));
            }
        }
        let mut seen = HashSet::new();
        let mut total_in = Amount::ZERO;
        let mut conflicts: Vec<Txid> = Vec::new();
        for input in &tx.input {
            let prev = input.previous_output;
            if prev.is_null() {
                return Err(Refusal::rejected("coinbase"));
            }
            if !seen.insert(prev) {
                return Err(Refusal::rejected("bad-txns-inputs-duplicate"));
            }
            let out = self.prevout(&prev).ok_or_else(Refusal::missing)?;
            if let Some(spender) = self.spends.get(&prev) {
                match self.txs.get(spender).map(|e| e.place) {
                    Some(Place::Mempool { .. }) => {
                        if !conflicts.contains(spender) {
                            conflicts.push(*spender);
                        }
                    }
                    _ => return Err(Refusal::missing()),
                }
            }
            // libbitcoinconsensus 25 knows no taproot: witness v1+ programs would
            // pass unchecked, so Core's policy word for them refuses the spend.
            if out
                .script_pubkey
                .witness_version()
                .is_some_and(|v| v.to_num() >= 1)
            {
                return Err(Refusal::rejected(
                    "non-mandatory-script-verify-flag (Witness version reserved for soft-fork upgrades)",
                ));
            }
            total_in += out.value;
        }
        let Some(fee) = total_in.checked_sub(total_out) else {
            return Err(Refusal::rejected(format!(
                "bad-txns-in-belowout, value in ({}) < value out ({})",
                total_in.to_btc(),
                total_out.to_btc()
            )));
        };
        let vsize = tx.vsize() as u64;
        let min_fee = Amount::from_sat(vsize * MIN_RELAY_SAT_PER_VB);
        if fee < min_fee {
            return Err(Refusal::rejected(format!(
                "min relay fee not met, {} < {}",
                fee.to_sat(),
                min_fee.to_sat()
            )));
        }
        tx.verify(|prev: &OutPoint| self.prevout(prev).cloned())
            .map_err(|e| Refusal::rejected(format!("mandatory-script-verify-flag-failed ({e})")))?;
        let mut replaces = Vec::new();
        if !conflicts.is_empty() {
            for conflict in &conflicts {
                let entry = &self.txs[conflict];
                if !entry.tx.is_explicitly_rbf() {
                    return Err(Refusal::rejected("txn-mempool-conflict"));
                }
                for txid in self.with_descendants(*conflict) {
                    if !replaces.contains(&txid) {
                        replaces.push(txid);
                    }
                }
            }
            if tx
                .input
                .iter()
                .any(|i| replaces.contains(&i.previous_output.txid))
            {
                return Err(Refusal::rejected("bad-txns-spends-conflicting-tx"));
            }
            let replaced_fees: Amount = replaces.iter().map(|t| self.fee_of(&self.txs[t].tx)).sum();
            let needed = replaced_fees + Amount::from_sat(vsize * MIN_RELAY_SAT_PER_VB);
            if fee < needed {
                return Err(Refusal::rejected(format!(
                    "insufficient fee, rejecting replacement {}; new fee {} sats < {} sats (the replaced fees plus relay)",
                    tx.compute_txid(),
                    fee.to_sat(),
                    needed.to_sat()
                )));
            }
        }
        Ok(Accepted { replaces })
    }

    /// Validates `tx` and puts it in the mempool (replacing what it conflicts with).
    fn accept(&mut self, tx: Transaction, owner: Option<&str>) -> Result<Txid, Refusal> {
        let accepted = self.validate(&tx)?;
        for txid in accepted.replaces {
            self.remove_with_descendants(txid);
        }
        let txid = self.add_to_mempool(tx);
        if let Some(owner) = owner {
            self.owners.insert(txid, owner.to_string());
        }
        Ok(txid)
    }

    /// Unspent faucet outputs worth at least `need`, confirmed ones first; none
    /// that a mempool transaction already spends.
    fn faucet_coins(&self, need: Amount) -> Result<Vec<(OutPoint, TxOut)>, SimError> {
        let mut coins: Vec<(bool, OutPoint, TxOut)> = Vec::new();
        if let Some(txids) = self.by_script.get(&self.faucet.script) {
            for txid in txids {
                let Some(entry) = self.txs.get(txid) else {
                    continue;
                };
                let confirmed = matches!(entry.place, Place::Block { .. });
                for (vout, out) in entry.tx.output.iter().enumerate() {
                    let point = OutPoint::new(*txid, vout as u32);
                    if out.script_pubkey == self.faucet.script && !self.spends.contains_key(&point)
                    {
                        coins.push((confirmed, point, out.clone()));
                    }
                }
            }
        }
        // Confirmed first, so payments do not chain on each other's change.
        coins.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut picked = Vec::new();
        let mut total = Amount::ZERO;
        for (_, point, out) in coins {
            if total >= need {
                break;
            }
            total += out.value;
            picked.push((point, out));
        }
        if total < need {
            return Err(SimError::Invalid(format!(
                "the sandbox faucet holds less than {} BTC",
                need.to_btc()
            )));
        }
        Ok(picked)
    }

    /// A signed transaction from faucet coins paying `outs`, change back to the faucet.
    fn faucet_payment(&self, mut outs: Vec<TxOut>, rbf: bool) -> Result<Transaction, SimError> {
        let paid: Amount = outs.iter().map(|o| o.value).sum();
        // Enough for the relay fee of any payment of this shape (P2WPKH inputs).
        let fee_for = |inputs: usize| {
            Amount::from_sat(1_000 + 70 * inputs as u64 + 45 * (outs.len() as u64 + 1))
        };
        let mut coins = self.faucet_coins(paid + fee_for(1))?;
        if coins.len() > 1 {
            coins = self.faucet_coins(paid + fee_for(coins.len() + 1))?;
        }
        let total: Amount = coins.iter().map(|(_, o)| o.value).sum();
        let change = total - paid - fee_for(coins.len());
        if change >= self.faucet.script.minimal_non_dust() {
            outs.push(TxOut {
                value: change,
                script_pubkey: self.faucet.script.clone(),
            });
        }
        self.faucet.spend(&coins, outs, rbf)
    }

    /// The items of the transactions and blocks added since the last save
    /// (those still in the chain); clears the list.
    fn take_dirty_items(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        for txid in std::mem::take(&mut self.new_txs) {
            let Some(entry) = self.txs.get(&txid) else {
                continue;
            };
            let mut item = json!({"hex": entry.hex});
            if let Some(owner) = self.owners.get(&txid) {
                item["owner"] = json!(owner);
            }
            items.push(keyed(item, schema::sim_tx(self.network, &txid.to_string())));
        }
        for hash in std::mem::take(&mut self.new_blocks) {
            let Some(height) = self.blocks.iter().rposition(|b| b.hash == hash) else {
                continue;
            };
            let prev = height
                .checked_sub(1)
                .map(|h| self.blocks[h].hash.to_string())
                .unwrap_or_default();
            let txids: Vec<String> = self.blocks[height]
                .txids
                .iter()
                .map(|t| t.to_string())
                .collect();
            let item = json!({"height": height, "prev": prev, "txids": txids});
            items.push(keyed(
                item,
                schema::sim_block(self.network, &hash.to_string()),
            ));
        }
        items
    }

    /// The META item: generation, tip, mempool in order, faucet key.
    fn meta_item(&self) -> Item {
        let mempool: Vec<String> = self.mempool.values().map(|t| t.to_string()).collect();
        let tip = self.blocks.last().map(|b| b.hash.to_string());
        keyed(
            json!({
                "version": SNAPSHOT_VERSION,
                "generation": self.generation,
                "tip": tip,
                "mempool": mempool,
                "faucet": self.faucet.secret.display_secret().to_string(),
            }),
            schema::sim_meta(self.network),
        )
    }

    /// The chain META and the partition's items (by sort key) describe.
    fn from_items(
        network: Network,
        meta: &Item,
        items: &HashMap<String, Item>,
    ) -> Result<State, String> {
        let text = |item: &Item, attr: &str| -> Result<String, String> {
            item.get(attr)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("missing `{attr}`"))
        };
        let faucet = Faucet::new(
            SecretKey::from_str(&text(meta, "faucet")?)
                .map_err(|e| format!("bad faucet key: {e}"))?,
        );
        let mut state = State::empty(network, faucet);
        // The best chain: from the tip down the `prev` links.
        let mut chain: Vec<(BlockHash, &Item)> = Vec::new();
        let mut at = text(meta, "tip")?;
        while !at.is_empty() {
            let block = items
                .get(&schema::sim_block(network, &at).sk)
                .ok_or_else(|| format!("block {at} is missing"))?;
            chain.push((BlockHash::from_str(&at).map_err(|e| e.to_string())?, block));
            at = text(block, "prev")?;
        }
        chain.reverse();
        let tx_of = |txid: &str| -> Result<(Transaction, Option<String>), String> {
            let item = items
                .get(&schema::sim_tx(network, txid).sk)
                .ok_or_else(|| format!("transaction {txid} is missing"))?;
            let tx = deserialize_hex(&text(item, "hex")?)
                .map_err(|e| format!("bad transaction hex: {e}"))?;
            Ok((
                tx,
                item.get("owner")
                    .and_then(|o| o.as_str())
                    .map(str::to_string),
            ))
        };
        let strings = |item: &Item, attr: &str| -> Vec<String> {
            item.get(attr)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (height, (hash, block)) in chain.into_iter().enumerate() {
            let mut txids = Vec::new();
            for (pos, txid) in strings(block, "txids").iter().enumerate() {
                let (tx, owner) = tx_of(txid)?;
                let place = Place::Block {
                    height: height as u32,
                    pos: pos as u32,
                };
                let txid = state.insert(tx, place);
                if let Some(owner) = owner {
                    state.owners.insert(txid, owner);
                }
                txids.push(txid);
            }
            state.blocks.push(Block { hash, txids });
        }
        for txid in strings(meta, "mempool") {
            let (tx, owner) = tx_of(&txid)?;
            let txid = state.add_to_mempool(tx);
            if let Some(owner) = owner {
                state.owners.insert(txid, owner);
            }
        }
        state.generation = meta
            .get("generation")
            .and_then(|g| g.as_u64())
            .ok_or("missing `generation`")?;
        state.new_txs.clear();
        state.new_blocks.clear();
        Ok(state)
    }

    /// The chain a snapshot holds. A version-1 snapshot (written before the
    /// chain had a faucet) gets a new faucet whose coinbase joins block 0.
    fn from_snapshot(snap: SnapshotIn) -> Result<State, String> {
        if snap.version != 1 && snap.version != SNAPSHOT_VERSION {
            return Err(format!("unsupported snapshot version {}", snap.version));
        }
        let faucet = match &snap.faucet {
            Some(hex) => {
                Faucet::new(SecretKey::from_str(hex).map_err(|e| format!("bad faucet key: {e}"))?)
            }
            None => Faucet::random(),
        };
        let old_format = snap.faucet.is_none();
        let mut state = State::empty(snap.network, faucet);
        let decode = |hex: &str| -> Result<Transaction, String> {
            deserialize_hex(hex).map_err(|e| format!("bad transaction hex: {e}"))
        };
        for (height, block) in snap.blocks.into_iter().enumerate() {
            let mut txids = Vec::with_capacity(block.txs.len());
            for (pos, hex) in block.txs.iter().enumerate() {
                let tx = decode(hex)?;
                state.check_loadable(&tx)?;
                let place = Place::Block {
                    height: height as u32,
                    pos: pos as u32,
                };
                txids.push(state.insert(tx, place));
            }
            if height == 0 && old_format {
                let coinbase = state.faucet.coinbase();
                let pos = txids.len() as u32;
                txids.push(state.insert(coinbase, Place::Block { height: 0, pos }));
            }
            state.blocks.push(Block {
                hash: block.hash,
                txids,
            });
        }
        if state.blocks.is_empty() {
            let coinbase = state.faucet.coinbase();
            let txid = state.insert(coinbase, Place::Block { height: 0, pos: 0 });
            state.push_block(vec![txid]);
        }
        for hex in &snap.mempool {
            let tx = decode(hex)?;
            state.check_loadable(&tx)?;
            state.add_to_mempool(tx);
        }
        for (txid, owner) in snap.owners {
            let txid = Txid::from_str(&txid).map_err(|e| format!("bad owner txid: {e}"))?;
            if state.txs.contains_key(&txid) {
                state.owners.insert(txid, owner);
            }
        }
        Ok(state)
    }

    fn check_loadable(&self, tx: &Transaction) -> Result<(), String> {
        let txid = tx.compute_txid();
        if self.txs.contains_key(&txid) {
            return Err(format!("transaction {txid} appears twice"));
        }
        if let Some(input) = tx
            .input
            .iter()
            .find(|i| self.spends.contains_key(&i.previous_output))
        {
            return Err(format!(
                "transaction {txid} double-spends {}",
                input.previous_output
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct SnapshotIn {
    version: u32,
    network: Network,
    blocks: Vec<SnapBlockIn>,
    mempool: Vec<String>,
    /// The faucet's secret key (hex); absent in version 1.
    #[serde(default)]
    faucet: Option<String>,
    /// txid -> the store a sandbox transaction was made for.
    #[serde(default)]
    owners: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SnapBlockIn {
    hash: BlockHash,
    txs: Vec<String>,
}

/// Where a persisted chain lives: items of one partition of the [`Table`]
/// (see `schema::sim_*`). The META item is the commit point: transactions
/// and blocks are written first, then META, conditional on the generation
/// this process saved last, so two writers can never both win.
struct Backing {
    table: Arc<dyn Table>,
    /// The generation META holds as far as this process knows; saves are
    /// serialized by this lock.
    saved: tokio::sync::Mutex<u64>,
}

/// The sandbox chain. Thread-safe; every method takes `&self`.
pub struct SimChain {
    state: Arc<Mutex<State>>,
    backing: Option<Backing>,
}

impl std::fmt::Debug for SimChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimChain")
            .field("network", &state.network)
            .field("tip", &state.tip())
            .field("mempool", &state.mempool.len())
            .field("persisted", &self.backing.is_some())
            .finish()
    }
}

fn storage(e: impl std::fmt::Display) -> SimError {
    SimError::Storage(e.to_string())
}

impl SimChain {
    /// A fresh chain (genesis block only), not persisted.
    pub fn in_memory(network: Network) -> SimChain {
        SimChain {
            state: Arc::new(Mutex::new(State::with_genesis(network))),
            backing: None,
        }
    }

    /// The chain kept in `table` (the embedded database locally, DynamoDB on
    /// AWS, so every process and function instance sees one chain); a fresh
    /// one is created and saved if the table has none.
    pub async fn load(table: Arc<dyn Table>, network: Network) -> Result<SimChain, SimError> {
        Self::load_or_import(table, network, None).await
    }

    /// [`Self::load`], importing the JSON snapshot an older version kept at
    /// `snapshot` when the table has no chain yet (the file is then renamed
    /// to `<name>.imported`).
    pub async fn load_or_import(
        table: Arc<dyn Table>,
        network: Network,
        snapshot: Option<&Path>,
    ) -> Result<SimChain, SimError> {
        let (state, saved) = match read_state(&*table, network).await? {
            Some(state) => {
                let generation = state.generation;
                (state, generation)
            }
            None => {
                let mut state = match snapshot.filter(|p| p.exists()) {
                    Some(path) => import_snapshot(path, network)?,
                    None => State::with_genesis(network),
                };
                state.new_txs = state.txs.keys().copied().collect();
                state.new_blocks = state.blocks.iter().map(|b| b.hash).collect();
                state.generation = 1;
                (state, 0)
            }
        };
        let chain = SimChain {
            state: Arc::new(Mutex::new(state)),
            backing: Some(Backing {
                table,
                saved: tokio::sync::Mutex::new(saved),
            }),
        };
        chain.save().await?;
        if let Some(path) = snapshot.filter(|p| p.exists()) {
            let mut done = path.as_os_str().to_owned();
            done.push(".imported");
            std::fs::rename(path, &done).map_err(storage)?;
            tracing::info!(from = %path.display(), "sandbox chain imported into the table");
        }
        Ok(chain)
    }

    /// Writes every change not yet saved, META last. Sandbox actions call this
    /// before anything records their effect, so the table is never ahead of
    /// the chain. A no-op for an in-memory chain.
    pub async fn save(&self) -> Result<(), SimError> {
        let Some(backing) = &self.backing else {
            return Ok(());
        };
        let mut saved = backing.saved.lock().await;
        let (items, meta, generation) = {
            let mut state = self.lock();
            if state.generation == *saved {
                return Ok(());
            }
            let items = state.take_dirty_items();
            (items, state.meta_item(), state.generation)
        };
        for item in items {
            backing.table.put(item, None).await.map_err(storage)?;
        }
        let cond = if *saved == 0 {
            Cond::NotExists
        } else {
            Cond::eq("generation", json!(*saved))
        };
        match backing.table.put(meta, Some(cond)).await {
            Ok(()) => {
                *saved = generation;
                Ok(())
            }
            Err(e) => {
                // Another process moved the chain on (or the write failed):
                // this process's change is dropped and its view reloaded.
                let network = self.lock().network;
                if let Some(state) = read_state(&*backing.table, network).await? {
                    *saved = state.generation;
                    *self.lock() = state;
                }
                Err(if e.is_condition_failed() {
                    SimError::Storage(
                        "another process changed the sandbox chain at the same time; retry".into(),
                    )
                } else {
                    storage(e)
                })
            }
        }
    }

    /// Reloads the chain if another process saved a newer one (and this one
    /// has nothing unsaved). Sandbox actions and each poller run call it.
    pub async fn refresh(&self) -> Result<(), SimError> {
        let Some(backing) = &self.backing else {
            return Ok(());
        };
        let mut saved = backing.saved.lock().await;
        let network = self.lock().network;
        let meta = backing
            .table
            .get(&schema::sim_meta(network))
            .await
            .map_err(storage)?;
        let stored = meta
            .as_ref()
            .and_then(|m| m.get("generation"))
            .and_then(|g| g.as_u64())
            .unwrap_or(0);
        if stored == *saved || self.lock().generation != *saved {
            return Ok(());
        }
        if let Some(state) = read_state(&*backing.table, network).await? {
            *saved = state.generation;
            *self.lock() = state;
        }
        Ok(())
    }

    pub fn network(&self) -> Network {
        self.lock().network
    }

    /// A mempool tx paying `amount` to `address` at vout 0, funded by the faucet
    /// (change back to it). `rbf` makes its inputs signal replace-by-fee.
    pub fn pay(&self, address: &str, amount: Amount, rbf: bool) -> Result<(Txid, u32), SimError> {
        let txid = self.pay_many(&[(address.to_string(), amount)], rbf)?;
        Ok((txid, 0))
    }

    /// One mempool tx paying every `(address, amount)` in order (vout 0, 1, ...), plus change.
    pub fn pay_many(&self, outputs: &[(String, Amount)], rbf: bool) -> Result<Txid, SimError> {
        self.pay_for(None, outputs, rbf)
    }

    /// [`Self::pay_many`] made for `owner` (a store id), who alone may double-spend it
    /// or send it back to the mempool with a reorg.
    pub fn pay_for(
        &self,
        owner: Option<&str>,
        outputs: &[(String, Amount)],
        rbf: bool,
    ) -> Result<Txid, SimError> {
        let mut state = self.lock();
        let outs = to_txouts(state.network, outputs)?;
        let tx = state.faucet_payment(outs, rbf)?;
        let txid = state
            .accept(tx, owner)
            .map_err(|r| SimError::Refused(r.reason))?;
        self.commit(state);
        Ok(txid)
    }

    /// Mines `count` blocks; the first one confirms the whole mempool. Returns their hashes.
    /// (Callers bound `count`: every block is kept.)
    pub fn mine(&self, count: u32) -> Vec<BlockHash> {
        if count == 0 {
            return Vec::new();
        }
        let mut state = self.lock();
        let hashes = (0..count).map(|i| state.mine_block(i == 0)).collect();
        self.commit(state);
        hashes
    }

    /// Replaces the last `depth` blocks by as many new blocks (new hashes), sending
    /// every transaction in them back to the mempool with the same txid.
    pub fn reorg(&self, depth: u32) -> Result<(), SimError> {
        self.reorg_for(None, depth)
    }

    /// A reorg as `owner` sees it: the last `depth` blocks get new hashes, and
    /// only `owner`'s transactions (and whatever spends them) go back to the
    /// mempool; everyone else's stay confirmed at the same height. `None` sends
    /// every transaction back.
    pub fn reorg_for(&self, owner: Option<&str>, depth: u32) -> Result<(), SimError> {
        let mut state = self.lock();
        let tip = state.tip();
        if depth == 0 || depth > tip {
            return Err(SimError::InvalidDepth { depth, tip });
        }
        let fork = state.blocks.len() - depth as usize;
        let removed = state.blocks.split_off(fork);
        let mut unconfirmed: HashSet<Txid> = HashSet::new();
        for block in removed {
            let mut kept = Vec::new();
            for txid in block.txids {
                let goes_back = match owner {
                    None => true,
                    Some(owner) => {
                        state.owners.get(&txid).map(String::as_str) == Some(owner)
                            || state.txs.get(&txid).is_some_and(|e| {
                                e.tx.input
                                    .iter()
                                    .any(|i| unconfirmed.contains(&i.previous_output.txid))
                            })
                    }
                };
                if goes_back {
                    unconfirmed.insert(txid);
                    let seq = state.next_seq;
                    state.next_seq += 1;
                    if let Some(entry) = state.txs.get_mut(&txid) {
                        entry.place = Place::Mempool { seq };
                        state.mempool.insert(seq, txid);
                    }
                } else {
                    kept.push(txid);
                }
            }
            let height = state.blocks.len() as u32;
            for (pos, txid) in kept.iter().enumerate() {
                if let Some(entry) = state.txs.get_mut(txid) {
                    entry.place = Place::Block {
                        height,
                        pos: pos as u32,
                    };
                }
            }
            state.push_block(kept);
        }
        self.commit(state);
        Ok(())
    }

    /// Replaces an unconfirmed sandbox payment by a conflicting one spending the
    /// same inputs back to the faucet with a higher fee. The original (and
    /// anything spending it) disappears.
    pub fn double_spend(&self, txid: &Txid) -> Result<Txid, SimError> {
        self.double_spend_for(None, txid)
    }

    /// [`Self::double_spend`] by `owner`: only a transaction made for that owner,
    /// and none whose outputs another store's transaction already spends.
    pub fn double_spend_for(&self, owner: Option<&str>, txid: &Txid) -> Result<Txid, SimError> {
        let mut state = self.lock();
        let entry = state.unconfirmed(txid)?;
        if let Some(owner) = owner {
            if state.owners.get(txid).map(String::as_str) != Some(owner) {
                return Err(SimError::NotYours(*txid));
            }
            let others = state
                .with_descendants(*txid)
                .into_iter()
                .any(|t| state.owners.get(&t).map(String::as_str) != Some(owner));
            if others {
                return Err(SimError::CannotReplace {
                    txid: *txid,
                    reason: "another store's transaction spends its outputs; mine a block first"
                        .into(),
                });
            }
        }
        let original = entry.tx.clone();
        let prevouts = original
            .input
            .iter()
            .map(|i| match state.prevout(&i.previous_output) {
                Some(out) if out.script_pubkey == state.faucet.script => Ok(out.clone()),
                _ => Err(SimError::CannotReplace {
                    txid: *txid,
                    reason:
                        "it spends coins the sandbox does not hold (a transaction signed elsewhere)"
                            .into(),
                }),
            })
            .collect::<Result<Vec<TxOut>, SimError>>()?;
        let total_in: Amount = prevouts.iter().map(|o| o.value).sum();
        let replaced_fees: Amount = state
            .with_descendants(*txid)
            .iter()
            .map(|t| state.fee_of(&state.txs[t].tx))
            .sum();
        let fee = replaced_fees + DOUBLE_SPEND_FEE;
        let value = total_in
            .checked_sub(fee)
            .ok_or_else(|| SimError::CannotReplace {
                txid: *txid,
                reason: "its inputs cannot pay a higher fee".into(),
            })?;
        let mut conflict = Transaction {
            version: original.version,
            lock_time: original.lock_time,
            input: original
                .input
                .iter()
                .map(|i| TxIn {
                    sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                    witness: Witness::new(),
                    ..i.clone()
                })
                .collect(),
            output: vec![TxOut {
                value,
                script_pubkey: state.faucet.script.clone(),
            }],
        };
        state.faucet.sign(&mut conflict, &prevouts)?;
        // The sandbox is the miner here: a double-spend need not signal RBF.
        let new_owner = state_owner(&state, txid);
        state.remove_with_descendants(*txid);
        let new_txid = state
            .accept(conflict, new_owner.as_deref())
            .map_err(|r| SimError::Refused(r.reason))?;
        self.commit(state);
        Ok(new_txid)
    }

    /// Replaces an unconfirmed sandbox payment that signalled RBF by one spending
    /// the same faucet coins and paying exactly `new_outputs` (change back to
    /// the faucet), with a higher fee, as a wallet's fee bump would.
    pub fn replace_by_fee(
        &self,
        txid: &Txid,
        new_outputs: &[(String, Amount)],
    ) -> Result<Txid, SimError> {
        let mut state = self.lock();
        let outs = to_txouts(state.network, new_outputs)?;
        let original = state.unconfirmed(txid)?;
        if !original.view.rbf {
            return Err(SimError::NotRbf(*txid));
        }
        let original = original.tx.clone();
        let prevouts = original
            .input
            .iter()
            .map(|i| match state.prevout(&i.previous_output) {
                Some(out) if out.script_pubkey == state.faucet.script => Ok(out.clone()),
                _ => Err(SimError::CannotReplace {
                    txid: *txid,
                    reason: "it spends coins the sandbox does not hold".into(),
                }),
            })
            .collect::<Result<Vec<TxOut>, SimError>>()?;
        let total_in: Amount = prevouts.iter().map(|o| o.value).sum();
        let paid: Amount = outs.iter().map(|o| o.value).sum();
        let fee = state.fee_of(&original) + DOUBLE_SPEND_FEE;
        let mut outputs = outs;
        let change = total_in.checked_sub(paid + fee).ok_or_else(|| {
            SimError::InvalidAmount("the replacement pays more than its inputs hold".into())
        })?;
        if change >= state.faucet.script.minimal_non_dust() {
            outputs.push(TxOut {
                value: change,
                script_pubkey: state.faucet.script.clone(),
            });
        }
        let mut replacement = Transaction {
            version: original.version,
            lock_time: original.lock_time,
            input: original
                .input
                .iter()
                .map(|i| TxIn {
                    witness: Witness::new(),
                    ..i.clone()
                })
                .collect(),
            output: outputs,
        };
        state.faucet.sign(&mut replacement, &prevouts)?;
        let owner = state_owner(&state, txid);
        let new_txid = state
            .accept(replacement, owner.as_deref())
            .map_err(|r| SimError::Refused(r.reason))?;
        self.commit(state);
        Ok(new_txid)
    }

    /// Broadcasts `txs` in order as `owner`'s transactions, all or nothing: if
    /// one is refused, none stays in the mempool. Returns the txids.
    pub fn broadcast_for(
        &self,
        owner: Option<&str>,
        txs: &[Transaction],
    ) -> Result<Vec<Txid>, (usize, ChainError)> {
        let mut state = self.lock();
        let mut undo: Vec<Txid> = Vec::new();
        let mut txids = Vec::with_capacity(txs.len());
        for (i, tx) in txs.iter().enumerate() {
            let txid = tx.compute_txid();
            if let Some(entry) = state.txs.get(&txid) {
                if let Place::Block { .. } = entry.place {
                    let err = rejected(-27, "Transaction already in block chain");
                    for t in undo.into_iter().rev() {
                        state.remove_with_descendants(t);
                    }
                    return Err((i, err));
                }
                txids.push(txid);
                continue;
            }
            // A replacement cannot be undone, so check the whole package first.
            let replaces = match state.validate(tx) {
                Ok(a) => a.replaces,
                Err(r) => {
                    for t in undo.into_iter().rev() {
                        state.remove_with_descendants(t);
                    }
                    return Err((i, rejected(r.code, &r.reason)));
                }
            };
            if !replaces.is_empty() && txs.len() > 1 {
                for t in undo.into_iter().rev() {
                    state.remove_with_descendants(t);
                }
                return Err((
                    i,
                    rejected(
                        -26,
                        "replacement-adds-unconfirmed: send a replacement on its own",
                    ),
                ));
            }
            let txid = match state.accept(tx.clone(), owner) {
                Ok(txid) => txid,
                Err(r) => {
                    for t in undo.into_iter().rev() {
                        state.remove_with_descendants(t);
                    }
                    return Err((i, rejected(r.code, &r.reason)));
                }
            };
            undo.push(txid);
            txids.push(txid);
        }
        if !undo.is_empty() {
            self.commit(state);
        }
        Ok(txids)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic mid-operation cannot leave the indexes half-updated in a way that
        // matters more than refusing every later call would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a mutation: bumps the generation ([`Self::save`] persists it).
    fn commit(&self, mut state: MutexGuard<'_, State>) {
        state.generation += 1;
    }
}

/// The chain saved in `table`, if there is one.
async fn read_state(table: &dyn Table, network: Network) -> Result<Option<State>, SimError> {
    let Some(meta) = table
        .get(&schema::sim_meta(network))
        .await
        .map_err(storage)?
    else {
        return Ok(None);
    };
    let mut items: HashMap<String, Item> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(Query::table(schema::sim_partition(network)).cursor(cursor))
            .await
            .map_err(storage)?;
        for item in page.items {
            if let Some(sk) = item.get(schema::SK).and_then(|v| v.as_str()) {
                items.insert(sk.to_string(), item.clone());
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    State::from_items(network, &meta, &items)
        .map(Some)
        .map_err(|e| SimError::Storage(format!("the saved sandbox chain is unreadable: {e}")))
}

/// The state a JSON snapshot file of an older version holds.
fn import_snapshot(path: &Path, network: Network) -> Result<State, SimError> {
    let invalid = |msg: String| {
        SimError::Storage(format!("sandbox chain snapshot {}: {msg}", path.display()))
    };
    let json = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let snap: SnapshotIn = serde_json::from_str(&json).map_err(|e| invalid(e.to_string()))?;
    if snap.network != network {
        return Err(invalid(format!(
            "holds a {} chain, not {network}",
            snap.network
        )));
    }
    State::from_snapshot(snap).map_err(invalid)
}

#[async_trait::async_trait]
impl Chain for SimChain {
    async fn tip_height(&self) -> Result<u32, ChainError> {
        // Once per poller run: pick up what other processes saved.
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "sandbox chain: reload failed");
        }
        Ok(self.lock().tip())
    }

    async fn block_hash_at(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        Ok(self.lock().blocks.get(height as usize).map(|b| b.hash))
    }

    async fn address_txs(&self, address: &str) -> Result<Vec<ChainTx>, ChainError> {
        let state = self.lock();
        // Esplora refuses addresses of another network the same way.
        let script = parse_address(state.network, address).map_err(|_| ChainError::Http {
            status: 400,
            body: "Invalid Bitcoin address".into(),
        })?;
        let Some(txids) = state.by_script.get(&script) else {
            return Ok(Vec::new());
        };
        let mut entries: Vec<&Entry> = txids.iter().filter_map(|t| state.txs.get(t)).collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.place.recency()));
        Ok(entries.into_iter().map(|e| state.chain_tx(e)).collect())
    }

    async fn tx(&self, txid: &Txid) -> Result<Option<ChainTx>, ChainError> {
        let state = self.lock();
        Ok(state.txs.get(txid).map(|e| state.chain_tx(e)))
    }

    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        let txid = self
            .broadcast_for(None, std::slice::from_ref(tx))
            .map(|txids| txids[0])
            .map_err(|(_, e)| e)?;
        self.save().await.map_err(|e| ChainError::Http {
            status: 503,
            body: e.to_string(),
        })?;
        Ok(txid)
    }

    async fn fee_estimates(&self) -> Result<BTreeMap<u16, Decimal>, ChainError> {
        Ok([(1, 20), (3, 10), (6, 5), (144, 1)]
            .into_iter()
            .map(|(target, rate)| (target, Decimal::from(rate)))
            .collect())
    }
}

/// `item` with the key `key`.
fn keyed(item: serde_json::Value, key: crate::table::Key) -> Item {
    let mut item = match item {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("items are objects"),
    };
    item.insert(schema::PK.into(), json!(key.pk));
    item.insert(schema::SK.into(), json!(key.sk));
    item
}

/// The store a sandbox transaction was made for.
fn state_owner(state: &State, txid: &Txid) -> Option<String> {
    state.owners.get(txid).cloned()
}

/// A refusal worded like Esplora relaying bitcoind.
fn rejected(code: i32, message: &str) -> ChainError {
    ChainError::Rejected(format!(
        r#"sendrawtransaction RPC error: {{"code":{code},"message":"{message}"}}"#
    ))
}

/// The script_pubkey of `address`, which must belong to `network`.
fn parse_address(network: Network, address: &str) -> Result<ScriptBuf, SimError> {
    let unchecked = Address::from_str(address.trim()).map_err(|e| SimError::InvalidAddress {
        address: address.to_string(),
        reason: e.to_string(),
    })?;
    let checked = unchecked
        .require_network(network.to_bitcoin())
        .map_err(|_| SimError::WrongNetwork {
            address: address.to_string(),
            network,
        })?;
    Ok(checked.script_pubkey())
}

/// Payment outputs: at least one, each amount positive, the total within 21M BTC.
fn to_txouts(network: Network, outputs: &[(String, Amount)]) -> Result<Vec<TxOut>, SimError> {
    if outputs.is_empty() {
        return Err(SimError::Invalid("at least one output is needed".into()));
    }
    let mut total = Amount::ZERO;
    let mut outs = Vec::with_capacity(outputs.len() + 1);
    for (address, amount) in outputs {
        if *amount == Amount::ZERO {
            return Err(SimError::InvalidAmount(format!("zero amount to {address}")));
        }
        total = total
            .checked_add(*amount)
            .filter(|t| *t <= Amount::MAX_MONEY)
            .ok_or_else(|| SimError::InvalidAmount("more than 21 million BTC".into()))?;
        outs.push(TxOut {
            value: *amount,
            script_pubkey: parse_address(network, address)?,
        });
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::key::CompressedPublicKey;
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::KnownHrp;

    /// A fresh regtest address (bcrt1q...) from a random key.
    fn regtest_address() -> String {
        let secp = Secp256k1::new();
        let secret = SecretKey::from_slice(&rand::thread_rng().gen::<[u8; 32]>())
            .expect("32 random bytes are a valid key with overwhelming probability");
        let key = CompressedPublicKey(secret.public_key(&secp));
        Address::p2wpkh(&key, KnownHrp::Regtest).to_string()
    }

    fn sats(n: u64) -> Amount {
        Amount::from_sat(n)
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!(
                "satsgate-sim-{}-{}",
                std::process::id(),
                rand::random::<u64>()
            ))
            .join(name)
    }

    #[tokio::test]
    async fn pay_shows_unconfirmed_with_rbf_flag() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addr = regtest_address();
        assert!(addr.starts_with("bcrt1q"), "{addr}");

        let (txid, vout) = chain.pay(&addr, sats(50_000), true).unwrap();
        assert_eq!(vout, 0);
        let txs = chain.address_txs(&addr).await.unwrap();
        assert_eq!(txs.len(), 1);
        let tx = &txs[0];
        assert_eq!(tx.txid, txid);
        assert_eq!(tx.status, TxStatus::unconfirmed());
        assert!(tx.rbf);
        assert_eq!(tx.inputs.len(), 1);
        assert_eq!(tx.outputs.len(), 2, "payment + change");
        assert_eq!(tx.outputs[0].vout, 0);
        assert_eq!(tx.outputs[0].address.as_deref(), Some(addr.as_str()));
        assert_eq!(tx.outputs[0].value, sats(50_000));
        assert!(tx.outputs[1]
            .address
            .as_deref()
            .is_some_and(|a| a.starts_with("bcrt1q")));

        let other = regtest_address();
        let (txid2, _) = chain.pay(&other, sats(1_000), false).unwrap();
        let txs = chain.address_txs(&other).await.unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].txid, txid2);
        assert!(!txs[0].rbf);
        assert_eq!(chain.tx(&txid).await.unwrap().map(|t| t.txid), Some(txid));
    }

    #[tokio::test]
    async fn pay_many_is_one_tx_with_several_outputs() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (a, b) = (regtest_address(), regtest_address());
        let txid = chain
            .pay_many(&[(a.clone(), sats(1_000)), (b.clone(), sats(2_000))], false)
            .unwrap();
        for (addr, vout, value) in [(&a, 0, 1_000), (&b, 1, 2_000)] {
            let txs = chain.address_txs(addr).await.unwrap();
            assert_eq!(txs.len(), 1);
            assert_eq!(txs[0].txid, txid);
            assert_eq!(txs[0].outputs.len(), 3);
            let out = &txs[0].outputs[vout];
            assert_eq!(out.address.as_deref(), Some(addr.as_str()));
            assert_eq!(out.value, sats(value));
        }
        assert!(matches!(
            chain.pay_many(&[], false),
            Err(SimError::Invalid(_))
        ));
        assert!(matches!(
            chain.pay(&a, Amount::ZERO, false),
            Err(SimError::InvalidAmount(_))
        ));
    }

    #[tokio::test]
    async fn mine_confirms_at_tip() {
        let chain = SimChain::in_memory(Network::Regtest);
        assert_eq!(chain.tip_height().await.unwrap(), 0);
        assert!(chain.block_hash_at(0).await.unwrap().is_some(), "genesis");

        let addr = regtest_address();
        let (txid, _) = chain.pay(&addr, sats(10_000), false).unwrap();
        let hashes = chain.mine(1);
        assert_eq!(hashes.len(), 1);
        assert_eq!(chain.tip_height().await.unwrap(), 1);
        assert_eq!(chain.block_hash_at(1).await.unwrap(), Some(hashes[0]));
        assert_eq!(chain.block_hash_at(2).await.unwrap(), None);

        let tx = chain.tx(&txid).await.unwrap().unwrap();
        assert_eq!(tx.status, TxStatus::confirmed_at(1, hashes[0]));
        assert_eq!(tx.status.confirmations(1), 1);

        // later blocks are empty and deepen the confirmation
        let more = chain.mine(2);
        assert_eq!(more.len(), 2);
        assert_eq!(chain.tip_height().await.unwrap(), 3);
        let tx = chain.tx(&txid).await.unwrap().unwrap();
        assert_eq!(tx.status.block_height, Some(1));
        assert_eq!(tx.status.confirmations(3), 3);
        assert!(chain.mine(0).is_empty());
    }

    #[tokio::test]
    async fn address_txs_newest_first() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addr = regtest_address();
        let (at1, _) = chain.pay(&addr, sats(1_000), false).unwrap();
        chain.mine(1);
        let (at2a, _) = chain.pay(&addr, sats(2_000), false).unwrap();
        let (at2b, _) = chain.pay(&addr, sats(3_000), false).unwrap();
        chain.mine(1);
        let (mem1, _) = chain.pay(&addr, sats(4_000), false).unwrap();
        let (mem2, _) = chain.pay(&addr, sats(5_000), false).unwrap();
        let order: Vec<Txid> = chain
            .address_txs(&addr)
            .await
            .unwrap()
            .iter()
            .map(|t| t.txid)
            .collect();
        assert_eq!(order, vec![mem2, mem1, at2b, at2a, at1]);
    }

    #[tokio::test]
    async fn reorg_sends_txs_back_to_mempool_with_new_hashes() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addr = regtest_address();
        let (txid, _) = chain.pay(&addr, sats(10_000), true).unwrap();
        chain.mine(1);
        let old = chain.block_hash_at(1).await.unwrap().unwrap();
        let genesis = chain.block_hash_at(0).await.unwrap();

        chain.reorg(1).unwrap();
        assert_eq!(
            chain.tip_height().await.unwrap(),
            1,
            "same number of blocks"
        );
        let new = chain.block_hash_at(1).await.unwrap().unwrap();
        assert_ne!(new, old);
        assert_eq!(chain.block_hash_at(0).await.unwrap(), genesis);

        let txs = chain.address_txs(&addr).await.unwrap();
        assert_eq!(txs.len(), 1);
        assert_eq!(txs[0].txid, txid, "same txid");
        assert!(!txs[0].status.confirmed);
        assert!(txs[0].rbf);

        let hashes = chain.mine(1);
        let tx = chain.tx(&txid).await.unwrap().unwrap();
        assert_eq!(tx.status, TxStatus::confirmed_at(2, hashes[0]));

        // deeper reorgs replace every block above the fork
        chain.mine(2);
        let before: Vec<_> = [2, 3, 4]
            .iter()
            .map(|h| chain.lock().blocks[*h].hash)
            .collect();
        chain.reorg(3).unwrap();
        assert_eq!(chain.tip_height().await.unwrap(), 4);
        for (i, h) in [2u32, 3, 4].iter().enumerate() {
            assert_ne!(chain.block_hash_at(*h).await.unwrap(), Some(before[i]));
        }
        assert!(!chain.tx(&txid).await.unwrap().unwrap().status.confirmed);

        assert_eq!(
            chain.reorg(0),
            Err(SimError::InvalidDepth { depth: 0, tip: 4 })
        );
        assert_eq!(
            chain.reorg(5),
            Err(SimError::InvalidDepth { depth: 5, tip: 4 })
        );
    }

    #[tokio::test]
    async fn double_spend_replaces_an_unconfirmed_tx() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addr = regtest_address();
        let (txid, _) = chain.pay(&addr, sats(10_000), false).unwrap();
        let original = chain.tx(&txid).await.unwrap().unwrap();

        let conflict = chain.double_spend(&txid).unwrap();
        assert_ne!(conflict, txid);
        assert!(chain.tx(&txid).await.unwrap().is_none(), "original gone");
        assert!(chain.address_txs(&addr).await.unwrap().is_empty());
        let conflict_tx = chain.tx(&conflict).await.unwrap().unwrap();
        assert_eq!(
            conflict_tx.inputs, original.inputs,
            "spends the same inputs"
        );
        assert!(!conflict_tx.status.confirmed);
        assert!(conflict_tx
            .outputs
            .iter()
            .all(|o| o.address.as_deref() != Some(addr.as_str())));

        // the conflict confirms normally
        chain.mine(1);
        assert!(chain.tx(&conflict).await.unwrap().unwrap().status.confirmed);

        assert_eq!(chain.double_spend(&txid), Err(SimError::UnknownTx(txid)));
        assert_eq!(
            chain.double_spend(&conflict),
            Err(SimError::AlreadyConfirmed(conflict))
        );
    }

    #[tokio::test]
    async fn replace_by_fee_only_when_signalled() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addr = regtest_address();

        let (final_tx, _) = chain.pay(&addr, sats(10_000), false).unwrap();
        let outputs = vec![(addr.clone(), sats(9_000))];
        assert_eq!(
            chain.replace_by_fee(&final_tx, &outputs),
            Err(SimError::NotRbf(final_tx))
        );

        let (rbf_tx, _) = chain.pay(&addr, sats(20_000), true).unwrap();
        let other = regtest_address();
        let replacement = chain
            .replace_by_fee(
                &rbf_tx,
                &[(addr.clone(), sats(19_000)), (other.clone(), sats(500))],
            )
            .unwrap();
        assert!(chain.tx(&rbf_tx).await.unwrap().is_none());
        let txs = chain.address_txs(&addr).await.unwrap();
        let ids: Vec<Txid> = txs.iter().map(|t| t.txid).collect();
        assert_eq!(ids, vec![replacement, final_tx]);
        let new = &txs[0];
        assert!(new.rbf, "the replacement keeps signalling");
        assert_eq!(new.outputs.len(), 3, "two payments and the faucet's change");
        assert_eq!(new.outputs[0].value, sats(19_000));
        assert_eq!(new.outputs[1].address.as_deref(), Some(other.as_str()));
        assert_eq!(chain.address_txs(&other).await.unwrap().len(), 1);
        let (old_fee, new_fee) = {
            let state = chain.lock();
            (DOUBLE_SPEND_FEE, state.fee_of(&state.txs[&replacement].tx))
        };
        assert!(new_fee > old_fee, "a replacement pays more fee");

        // the same outputs again are a further fee bump, not the same transaction
        let same: Vec<(String, Amount)> = vec![(addr.clone(), sats(19_000)), (other, sats(500))];
        let bumped = chain.replace_by_fee(&replacement, &same).unwrap();
        assert_ne!(bumped, replacement);

        chain.mine(1);
        assert_eq!(
            chain.replace_by_fee(&bumped, &outputs),
            Err(SimError::AlreadyConfirmed(bumped))
        );
    }

    /// A key of the test's own, with its regtest P2WPKH address.
    fn wallet() -> (Faucet, String) {
        let key = Faucet::random();
        let address = Address::from_script(&key.script, bitcoin::Network::Regtest)
            .unwrap()
            .to_string();
        (key, address)
    }

    /// A transaction spending `inputs` (outpoint, the output it spends) to
    /// `outputs`, signed by `key` (which must own every input).
    fn spend(
        key: &Faucet,
        inputs: &[(OutPoint, TxOut)],
        outputs: Vec<TxOut>,
        rbf: bool,
    ) -> Transaction {
        key.spend(inputs, outputs, rbf).unwrap()
    }

    fn out_to(script: &ScriptBuf, value: u64) -> TxOut {
        TxOut {
            value: sats(value),
            script_pubkey: script.clone(),
        }
    }

    /// The refusal reason of a broadcast that must fail.
    async fn refused(chain: &SimChain, tx: &Transaction) -> String {
        match chain.broadcast(tx).await {
            Err(ChainError::Rejected(reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// A sandbox payment of `value` to the test's own key: (outpoint, output).
    fn funded(chain: &SimChain, address: &str, value: u64) -> (OutPoint, TxOut) {
        let (txid, vout) = chain.pay(address, sats(value), false).unwrap();
        let out = chain.lock().txs[&txid].tx.output[vout as usize].clone();
        (OutPoint::new(txid, vout), out)
    }

    #[tokio::test]
    async fn broadcast_accepts_and_rejects_conflicts() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (merchant_key, merchant) = wallet();
        let (_, refund_to) = wallet();
        let coin = funded(&chain, &merchant, 50_000);
        let paid = coin.0.txid;

        // the merchant spends the payment output to a refund address
        let refund_script = parse_address(Network::Regtest, &refund_to).unwrap();
        let spend_rbf = |value: u64| {
            spend(
                &merchant_key,
                std::slice::from_ref(&coin),
                vec![out_to(&refund_script, value)],
                true,
            )
        };
        let refund = spend_rbf(49_000);
        let refund_id = chain.broadcast(&refund).await.unwrap();
        assert_eq!(refund_id, refund.compute_txid());
        assert_eq!(
            chain.broadcast(&refund).await.unwrap(),
            refund_id,
            "idempotent"
        );

        let at_refund = chain.address_txs(&refund_to).await.unwrap();
        assert_eq!(at_refund.len(), 1);
        assert_eq!(at_refund[0].txid, refund_id);
        assert!(at_refund[0].rbf);
        // the spend touches the merchant address too (it spends from it)
        let at_merchant: Vec<Txid> = chain
            .address_txs(&merchant)
            .await
            .unwrap()
            .iter()
            .map(|t| t.txid)
            .collect();
        assert_eq!(at_merchant, vec![refund_id, paid]);

        // a replacement paying less fee is refused; one paying more replaces it
        let reason = refused(&chain, &spend_rbf(49_500)).await;
        assert!(reason.contains("insufficient fee"), "{reason}");
        let bump = spend_rbf(48_000);
        let bump_id = chain.broadcast(&bump).await.unwrap();
        assert!(chain.tx(&refund_id).await.unwrap().is_none(), "replaced");
        // a conflict with a transaction that did not signal RBF is refused
        let final_spend = spend(
            &merchant_key,
            std::slice::from_ref(&coin),
            vec![out_to(&refund_script, 40_000)],
            false,
        );
        chain.double_spend(&paid).unwrap();
        assert!(
            chain.tx(&bump_id).await.unwrap().is_none(),
            "the child went with its parent"
        );
        assert!(chain.address_txs(&refund_to).await.unwrap().is_empty());
        let reason = refused(&chain, &final_spend).await;
        assert!(
            reason.contains("bad-txns-inputs-missingorspent"),
            "{reason}"
        );

        let coin2 = funded(&chain, &merchant, 60_000);
        let first = spend(
            &merchant_key,
            std::slice::from_ref(&coin2),
            vec![out_to(&refund_script, 59_000)],
            false,
        );
        chain.broadcast(&first).await.unwrap();
        let second = spend(
            &merchant_key,
            std::slice::from_ref(&coin2),
            vec![out_to(&refund_script, 50_000)],
            true,
        );
        let reason = refused(&chain, &second).await;
        assert!(reason.contains("txn-mempool-conflict"), "{reason}");

        let mut bad_vout = first.clone();
        bad_vout.input[0].previous_output.vout = 7;
        let reason = refused(&chain, &bad_vout).await;
        assert!(
            reason.contains("bad-txns-inputs-missingorspent"),
            "{reason}"
        );

        // once confirmed, spending the same input again is refused
        chain.mine(1);
        let reason = refused(&chain, &second).await;
        assert!(
            reason.contains("bad-txns-inputs-missingorspent"),
            "{reason}"
        );
        let reason = refused(&chain, &first).await;
        assert!(reason.contains("already in block chain"), "{reason}");
    }

    #[tokio::test]
    async fn forged_transactions_are_refused_and_not_recorded() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (key, address) = wallet();
        let (thief, _) = wallet();
        let (_, payee) = wallet();
        let payee_script = parse_address(Network::Regtest, &payee).unwrap();
        let coin = funded(&chain, &address, 100_000);
        // `key` (or another) spending the coin to the payee, fee = the rest.
        let to_payee = |k: &Faucet, value: u64| {
            spend(
                k,
                std::slice::from_ref(&coin),
                vec![out_to(&payee_script, value)],
                false,
            )
        };
        let before = chain.lock().txs.len();

        // an input that does not exist
        let ghost = (
            OutPoint::new(Txid::from_byte_array([7; 32]), 0),
            out_to(&key.script, 100_000),
        );
        let tx = spend(&key, &[ghost], vec![out_to(&payee_script, 90_000)], false);
        let reason = refused(&chain, &tx).await;
        assert!(
            reason.contains("bad-txns-inputs-missingorspent") && reason.contains("-25"),
            "{reason}"
        );

        // a real input with no witness
        let mut bare = to_payee(&key, 90_000);
        bare.input[0].witness = Witness::new();
        let reason = refused(&chain, &bare).await;
        assert!(
            reason.contains("mandatory-script-verify-flag-failed"),
            "{reason}"
        );

        // a real input signed by the wrong key
        let stolen = to_payee(&thief, 90_000);
        let reason = refused(&chain, &stolen).await;
        assert!(
            reason.contains("mandatory-script-verify-flag-failed"),
            "{reason}"
        );

        // a valid signature over other outputs (tampered after signing)
        let mut tampered = to_payee(&key, 90_000);
        tampered.output[0].value = sats(95_000);
        let reason = refused(&chain, &tampered).await;
        assert!(
            reason.contains("mandatory-script-verify-flag-failed"),
            "{reason}"
        );

        // spending more than the inputs hold, and paying no relay fee
        let greedy = to_payee(&key, 100_001);
        let reason = refused(&chain, &greedy).await;
        assert!(reason.contains("bad-txns-in-belowout"), "{reason}");
        let free = to_payee(&key, 100_000);
        let reason = refused(&chain, &free).await;
        assert!(reason.contains("min relay fee not met"), "{reason}");

        // dust, oversize, a coinbase, the same input twice
        let dust = to_payee(&key, 100);
        assert!(refused(&chain, &dust).await.contains("dust"));
        let mut big = to_payee(&key, 90_000);
        let mut op_return = vec![0x6a];
        op_return.extend(vec![0u8; 100_001]);
        big.output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(op_return),
        });
        assert!(refused(&chain, &big).await.contains("tx-size"));
        let mut twice = to_payee(&key, 90_000);
        twice.input.push(twice.input[0].clone());
        assert!(refused(&chain, &twice)
            .await
            .contains("bad-txns-inputs-duplicate"));

        assert_eq!(chain.lock().txs.len(), before, "nothing was recorded");
        assert!(chain.address_txs(&payee).await.unwrap().is_empty());

        // the honest spend goes through
        let good = to_payee(&key, 90_000);
        chain.broadcast(&good).await.unwrap();
        assert_eq!(chain.address_txs(&payee).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn taproot_inputs_are_refused_since_the_consensus_library_cannot_check_them() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (key, _) = wallet();
        let (_, payee) = wallet();
        let payee_script = parse_address(Network::Regtest, &payee).unwrap();
        // a P2TR output (witness v1) from the faucet
        let xonly = key.public.0.x_only_public_key().0;
        let tr = Address::p2tr(secp(), xonly, None, bitcoin::KnownHrp::Regtest).to_string();
        let (txid, vout) = chain.pay(&tr, sats(50_000), false).unwrap();
        let out = chain.lock().txs[&txid].tx.output[vout as usize].clone();
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(txid, vout),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                // any 64 bytes: without taproot rules nothing would check them
                witness: Witness::from_slice(&[vec![1u8; 64]]),
            }],
            output: vec![out_to(&payee_script, 40_000)],
        };
        assert_eq!(
            out.script_pubkey.witness_version().map(|v| v.to_num()),
            Some(1)
        );
        let reason = refused(&chain, &tx).await;
        assert!(reason.contains("Witness version reserved"), "{reason}");
    }

    #[tokio::test]
    async fn a_package_is_taken_all_or_nothing() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (key, address) = wallet();
        let (_, payee) = wallet();
        let payee_script = parse_address(Network::Regtest, &payee).unwrap();
        let coin = funded(&chain, &address, 100_000);
        let parent = spend(
            &key,
            std::slice::from_ref(&coin),
            vec![out_to(&key.script, 95_000)],
            false,
        );
        let parent_out = (
            OutPoint::new(parent.compute_txid(), 0),
            parent.output[0].clone(),
        );
        let child = spend(
            &key,
            &[parent_out.clone()],
            vec![out_to(&payee_script, 90_000)],
            false,
        );
        let mut forged_child = child.clone();
        forged_child.input[0].witness = Witness::new();
        let err = chain
            .broadcast_for(Some("store-a"), &[parent.clone(), forged_child])
            .unwrap_err();
        assert_eq!(err.0, 1, "the second transaction is the refused one");
        assert!(
            chain.tx(&parent.compute_txid()).await.unwrap().is_none(),
            "the parent was taken back"
        );
        let ids = chain
            .broadcast_for(Some("store-a"), &[parent, child])
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(chain.address_txs(&payee).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn stores_act_only_on_their_own_sandbox_transactions() {
        let chain = SimChain::in_memory(Network::Regtest);
        let (a, b) = (regtest_address(), regtest_address());
        let of_a = chain
            .pay_for(Some("store-a"), &[(a.clone(), sats(10_000))], false)
            .unwrap();
        let of_b = chain
            .pay_for(Some("store-b"), &[(b.clone(), sats(10_000))], false)
            .unwrap();
        assert_eq!(
            chain.double_spend_for(Some("store-a"), &of_b),
            Err(SimError::NotYours(of_b))
        );
        assert!(chain.tx(&of_b).await.unwrap().is_some());
        chain.mine(1);
        chain.reorg_for(Some("store-a"), 1).unwrap();
        assert!(
            !chain.tx(&of_a).await.unwrap().unwrap().status.confirmed,
            "A's own payment is back in the mempool"
        );
        let b_status = chain.tx(&of_b).await.unwrap().unwrap().status;
        assert!(b_status.confirmed, "B's payment stays confirmed");
        assert_eq!(b_status.block_height, Some(1));
        let replaced = chain.double_spend_for(Some("store-a"), &of_a).unwrap();
        assert!(chain.tx(&of_a).await.unwrap().is_none());
        assert!(chain.tx(&replaced).await.unwrap().is_some());
        // the owners are saved: a reloaded chain keeps them
        let table = mem_table();
        let chain = SimChain::load(table.clone(), Network::Regtest)
            .await
            .unwrap();
        let t = chain
            .pay_for(Some("store-a"), &[(a.clone(), sats(5_000))], false)
            .unwrap();
        chain.save().await.unwrap();
        drop(chain);
        let chain = SimChain::load(table, Network::Regtest).await.unwrap();
        assert_eq!(
            chain.double_spend_for(Some("store-b"), &t),
            Err(SimError::NotYours(t))
        );
        chain.double_spend_for(Some("store-a"), &t).unwrap();
    }

    #[tokio::test]
    async fn fee_estimates_fixed_table() {
        let chain = SimChain::in_memory(Network::Regtest);
        let fees = chain.fee_estimates().await.unwrap();
        let expected: BTreeMap<u16, Decimal> = [(1, 20), (3, 10), (6, 5), (144, 1)]
            .into_iter()
            .map(|(k, v)| (k, Decimal::from(v)))
            .collect();
        assert_eq!(fees, expected);
    }

    #[tokio::test]
    async fn network_is_checked() {
        let chain = SimChain::in_memory(Network::Regtest);
        let mainnet = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
        assert!(matches!(
            chain.pay(mainnet, sats(1_000), false),
            Err(SimError::WrongNetwork {
                network: Network::Regtest,
                ..
            })
        ));
        assert!(matches!(
            chain.pay("not an address", sats(1_000), false),
            Err(SimError::InvalidAddress { .. })
        ));
        assert!(matches!(
            chain.address_txs(mainnet).await,
            Err(ChainError::Http { status: 400, .. })
        ));
        let message = chain
            .pay(mainnet, sats(1_000), false)
            .unwrap_err()
            .to_string();
        assert!(message.contains("regtest"), "{message}");

        // and a regtest address is refused by a mainnet sandbox chain
        let main_chain = SimChain::in_memory(Network::Mainnet);
        assert!(matches!(
            main_chain.pay(&regtest_address(), sats(1_000), false),
            Err(SimError::WrongNetwork { .. })
        ));
        main_chain.pay(mainnet, sats(1_000), false).unwrap();
    }

    /// A table of the embedded engine, in memory.
    fn mem_table() -> Arc<dyn Table> {
        Arc::new(crate::table::sqlite::SqliteTable::in_memory())
    }

    #[tokio::test]
    async fn the_chain_is_kept_in_the_table_and_reloads() {
        let table = mem_table();
        let addr = regtest_address();
        let (confirmed, pending, hashes) = {
            let chain = SimChain::load(table.clone(), Network::Regtest)
                .await
                .unwrap();
            assert!(
                table
                    .get(&schema::sim_meta(Network::Regtest))
                    .await
                    .unwrap()
                    .is_some(),
                "a fresh chain is saved at once"
            );
            let (confirmed, _) = chain.pay(&addr, sats(10_000), false).unwrap();
            let hashes = chain.mine(2);
            let (pending, _) = chain.pay(&addr, sats(20_000), true).unwrap();
            chain.save().await.unwrap();
            // what is not saved is not there after a restart
            chain.pay(&addr, sats(30_000), false).unwrap();
            (confirmed, pending, hashes)
        };

        let chain = SimChain::load(table.clone(), Network::Regtest)
            .await
            .unwrap();
        assert_eq!(chain.tip_height().await.unwrap(), 2);
        assert_eq!(chain.block_hash_at(1).await.unwrap(), Some(hashes[0]));
        assert_eq!(chain.block_hash_at(2).await.unwrap(), Some(hashes[1]));
        let txs = chain.address_txs(&addr).await.unwrap();
        let ids: Vec<Txid> = txs.iter().map(|t| t.txid).collect();
        assert_eq!(ids, vec![pending, confirmed]);
        assert!(txs[0].rbf && !txs[0].status.confirmed);
        assert_eq!(txs[1].status, TxStatus::confirmed_at(1, hashes[0]));
        // the faucet key came back too: new payments are signed and valid
        chain.pay(&addr, sats(1_000), false).unwrap();

        // mutations after reloading are saved too, and a reorg's new blocks
        chain.mine(1);
        chain.reorg(2).unwrap();
        chain.save().await.unwrap();
        let tip_hash = chain.block_hash_at(3).await.unwrap();
        drop(chain);
        let chain = SimChain::load(table.clone(), Network::Regtest)
            .await
            .unwrap();
        assert_eq!(chain.tip_height().await.unwrap(), 3);
        assert_eq!(chain.block_hash_at(3).await.unwrap(), tip_hash);
        assert!(!chain.tx(&pending).await.unwrap().unwrap().status.confirmed);
        assert!(
            chain
                .tx(&confirmed)
                .await
                .unwrap()
                .unwrap()
                .status
                .confirmed
        );

        // each network has its own chain
        let other = SimChain::load(table.clone(), Network::Testnet)
            .await
            .unwrap();
        assert_eq!(other.tip_height().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn two_processes_share_one_chain_and_never_both_win() {
        let table = mem_table();
        let one = SimChain::load(table.clone(), Network::Regtest)
            .await
            .unwrap();
        let two = SimChain::load(table.clone(), Network::Regtest)
            .await
            .unwrap();
        let addr = regtest_address();
        let (paid, _) = one.pay(&addr, sats(10_000), false).unwrap();
        one.save().await.unwrap();
        // the other process sees it at its next refresh (each poller run does one)
        assert_eq!(two.tip_height().await.unwrap(), 0);
        assert!(two.tx(&paid).await.unwrap().is_some());
        // two changes made from the same generation: the second save loses,
        // and its process reloads the winner's chain
        one.mine(1);
        two.pay(&addr, sats(5_000), false).unwrap();
        one.save().await.unwrap();
        let err = two.save().await.unwrap_err();
        assert!(matches!(err, SimError::Storage(_)), "{err}");
        assert_eq!(two.tip_height().await.unwrap(), 1, "reloaded");
        assert_eq!(two.address_txs(&addr).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_old_snapshot_file_is_imported_once() {
        let path = temp_path("sandbox-chain.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // What the chain wrote before it had a faucet: a genesis block, one
        // confirmed payment with a made-up input, nothing in the mempool.
        let old = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(Txid::from_byte_array([9; 32]), 1),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                witness: Witness::new(),
            }],
            output: vec![out_to(
                &parse_address(Network::Regtest, &regtest_address()).unwrap(),
                5_000,
            )],
        };
        let genesis = BlockHash::from_byte_array([1; 32]);
        let block1 = BlockHash::from_byte_array([2; 32]);
        let json = format!(
            r#"{{"version":1,"network":"regtest","blocks":[{{"hash":"{genesis}","txs":[]}},{{"hash":"{block1}","txs":["{}"]}}],"mempool":[]}}"#,
            serialize_hex(&old)
        );
        std::fs::write(&path, json).unwrap();
        let table = mem_table();
        let chain = SimChain::load_or_import(table.clone(), Network::Regtest, Some(&path))
            .await
            .unwrap();
        assert!(!path.exists(), "renamed once imported");
        assert!(path.with_extension("json.imported").exists());
        assert_eq!(chain.tip_height().await.unwrap(), 1);
        assert_eq!(chain.block_hash_at(1).await.unwrap(), Some(block1));
        assert!(
            chain
                .tx(&old.compute_txid())
                .await
                .unwrap()
                .unwrap()
                .status
                .confirmed
        );
        let (txid, _) = chain.pay(&regtest_address(), sats(1_000), false).unwrap();
        chain.save().await.unwrap();
        drop(chain);
        let chain = SimChain::load_or_import(table, Network::Regtest, Some(&path))
            .await
            .unwrap();
        assert!(chain.tx(&txid).await.unwrap().is_some());
        // a snapshot of another network is refused
        let other = temp_path("sandbox-chain.json");
        std::fs::create_dir_all(other.parent().unwrap()).unwrap();
        std::fs::write(
            &other,
            r#"{"version":1,"network":"testnet","blocks":[],"mempool":[]}"#,
        )
        .unwrap();
        assert!(
            SimChain::load_or_import(mem_table(), Network::Regtest, Some(&other))
                .await
                .is_err()
        );
        for p in [&path, &other] {
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[tokio::test]
    async fn many_addresses_are_indexed() {
        let chain = SimChain::in_memory(Network::Regtest);
        let addresses: Vec<String> = (0..2_000).map(|_| regtest_address()).collect();
        for batch in addresses.chunks(100) {
            let outputs: Vec<(String, Amount)> =
                batch.iter().map(|a| (a.clone(), sats(1_000))).collect();
            chain.pay_many(&outputs, false).unwrap();
        }
        chain.mine(1);
        for addr in &addresses {
            let txs = chain.address_txs(addr).await.unwrap();
            assert_eq!(txs.len(), 1);
            assert!(txs[0].status.confirmed);
        }
        assert!(chain
            .address_txs(&regtest_address())
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn chain_is_shareable() {
        fn assert_chain<T: Chain + 'static>() {}
        assert_chain::<SimChain>();
        assert_chain::<crate::chain::Esplora>();
    }
}
