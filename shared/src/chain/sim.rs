//! SimChain: the sandbox chain (regtest-like), driven by tests and `/v1/sandbox`.
//!
//! It holds real [`bitcoin::Transaction`]s: outputs pay real script_pubkeys, inputs
//! spend fake random outpoints (or, for broadcast transactions, whatever they
//! spend). There is a mempool and a best chain of blocks; block 0 is an empty
//! genesis-like block. A block's hash commits to the previous hash, the height,
//! the txids and a random salt, so blocks replaced by a reorg get new hashes.
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
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use bitcoin::absolute::LockTime;
use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::hashes::{sha256d, Hash, HashEngine};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, BlockHash, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    WPubkeyHash, Witness,
};
use rand::Rng;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{Chain, ChainError, ChainTx, TxStatus};
use crate::network::Network;

/// Snapshot format version.
const SNAPSHOT_VERSION: u32 = 1;
/// What the sandbox "fee" takes out of a double-spend's outputs.
const DOUBLE_SPEND_FEE: Amount = Amount::from_sat(1_000);

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
    next_seq: u64,
    /// Bumped by every mutation; orders snapshot writes.
    generation: u64,
}

impl State {
    fn empty(network: Network) -> State {
        State {
            network,
            blocks: Vec::new(),
            mempool: BTreeMap::new(),
            txs: HashMap::new(),
            by_script: HashMap::new(),
            spends: HashMap::new(),
            next_seq: 0,
            generation: 0,
        }
    }

    fn with_genesis(network: Network) -> State {
        let mut state = State::empty(network);
        state.push_block(Vec::new());
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
        for input in &tx.input {
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

    /// Bitcoin Core's reason for refusing `tx`, if it would.
    fn broadcast_refusal(&self, tx: &Transaction) -> Option<&'static str> {
        if tx.input.is_empty() {
            return Some("bad-txns-vin-empty");
        }
        if tx.output.is_empty() {
            return Some("bad-txns-vout-empty");
        }
        let mut seen = HashSet::new();
        for input in &tx.input {
            let prev = input.previous_output;
            if prev.is_null() {
                return Some("coinbase");
            }
            if !seen.insert(prev) {
                return Some("bad-txns-inputs-duplicate");
            }
            if let Some(spender) = self.spends.get(&prev) {
                return Some(match self.txs.get(spender).map(|e| e.place) {
                    Some(Place::Mempool { .. }) => "txn-mempool-conflict",
                    _ => "bad-txns-inputs-missingorspent",
                });
            }
            if let Some(parent) = self.txs.get(&prev.txid) {
                if prev.vout as usize >= parent.tx.output.len() {
                    return Some("bad-txns-inputs-missingorspent");
                }
            }
        }
        None
    }

    /// The snapshot as JSON, built by hand: it is rewritten often and holds only hex
    /// strings, hashes and the network name, none of which needs escaping.
    fn snapshot_json(&self) -> String {
        fn push_list<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
            out.push('[');
            for (i, item) in items.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(item);
                out.push('"');
            }
            out.push(']');
        }
        let hex = |txid: &Txid| self.txs.get(txid).map(|e| e.hex.as_str());
        let size: usize = self.txs.values().map(|e| e.hex.len() + 3).sum::<usize>()
            + self.blocks.len() * 96
            + 128;
        let mut out = String::with_capacity(size);
        out.push_str(&format!(
            r#"{{"version":{SNAPSHOT_VERSION},"network":"{}","blocks":["#,
            self.network.as_str()
        ));
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(r#"{{"hash":"{}","txs":"#, block.hash));
            push_list(&mut out, block.txids.iter().filter_map(hex));
            out.push('}');
        }
        out.push_str(r#"],"mempool":"#);
        push_list(&mut out, self.mempool.values().filter_map(hex));
        out.push('}');
        out
    }

    fn from_snapshot(snap: SnapshotIn) -> Result<State, String> {
        if snap.version != SNAPSHOT_VERSION {
            return Err(format!("unsupported snapshot version {}", snap.version));
        }
        let mut state = State::empty(snap.network);
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
            state.blocks.push(Block {
                hash: block.hash,
                txids,
            });
        }
        if state.blocks.is_empty() {
            state.push_block(Vec::new());
        }
        for hex in &snap.mempool {
            let tx = decode(hex)?;
            state.check_loadable(&tx)?;
            state.add_to_mempool(tx);
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
}

#[derive(Deserialize)]
struct SnapBlockIn {
    hash: BlockHash,
    txs: Vec<String>,
}

/// Write-behind persistence: mutations ask for a snapshot, a writer thread saves the
/// latest state (coalescing requests that arrive while it writes), so a mutation costs
/// O(1) however big the chain is. `flush` and `Drop` wait for the last request.
struct Store {
    path: PathBuf,
    sync: Arc<WriterSync>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct WriterSync {
    flags: Mutex<WriterFlags>,
    changed: Condvar,
}

#[derive(Default)]
struct WriterFlags {
    /// Highest state generation asked to be saved.
    wanted: u64,
    /// Highest state generation the last write attempt covered.
    written: u64,
    /// Why that attempt failed, if it did.
    error: Option<String>,
    shutdown: bool,
}

impl WriterSync {
    fn flags(&self) -> MutexGuard<'_, WriterFlags> {
        self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn request(&self, generation: u64) {
        let mut flags = self.flags();
        flags.wanted = flags.wanted.max(generation);
        self.changed.notify_all();
    }
}

impl Store {
    fn start(path: PathBuf, state: Arc<Mutex<State>>, generation: u64) -> io::Result<Store> {
        let sync = Arc::new(WriterSync {
            flags: Mutex::new(WriterFlags {
                wanted: generation,
                written: generation,
                ..WriterFlags::default()
            }),
            changed: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("sim-chain-writer".into())
            .spawn({
                let (sync, path) = (sync.clone(), path.clone());
                move || writer_loop(&sync, &state, &path)
            })?;
        Ok(Store {
            path,
            sync,
            thread: Some(thread),
        })
    }
}

fn writer_loop(sync: &WriterSync, state: &Mutex<State>, path: &Path) {
    loop {
        {
            let mut flags = sync.flags();
            while flags.written >= flags.wanted && !flags.shutdown {
                flags = sync.changed.wait(flags).unwrap_or_else(|e| e.into_inner());
            }
            if flags.written >= flags.wanted {
                return; // shut down with nothing left to save
            }
        }
        let (generation, json) = {
            let state = state.lock().unwrap_or_else(|e| e.into_inner());
            (state.generation, state.snapshot_json())
        };
        let result = write_atomically(path, &json);
        let mut flags = sync.flags();
        flags.written = flags.written.max(generation);
        flags.error = match result {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "sandbox chain: cannot save snapshot");
                Some(e.to_string())
            }
        };
        sync.changed.notify_all();
    }
}

fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// The sandbox chain. Thread-safe; every method takes `&self`.
pub struct SimChain {
    state: Arc<Mutex<State>>,
    store: Option<Store>,
}

impl std::fmt::Debug for SimChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimChain")
            .field("network", &state.network)
            .field("tip", &state.tip())
            .field("mempool", &state.mempool.len())
            .field("path", &self.store.as_ref().map(|s| &s.path))
            .finish()
    }
}

impl SimChain {
    /// A fresh chain (genesis block only), not persisted.
    pub fn in_memory(network: Network) -> SimChain {
        SimChain {
            state: Arc::new(Mutex::new(State::with_genesis(network))),
            store: None,
        }
    }

    /// Loads the snapshot at `path`, or starts a fresh chain there if the file does
    /// not exist. Every later mutation rewrites the snapshot.
    pub fn open(path: &Path, network: Network) -> io::Result<SimChain> {
        let invalid = |msg: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("sandbox chain snapshot {}: {msg}", path.display()),
            )
        };
        let state = match std::fs::read_to_string(path) {
            Ok(json) => {
                let snap: SnapshotIn =
                    serde_json::from_str(&json).map_err(|e| invalid(e.to_string()))?;
                if snap.network != network {
                    return Err(invalid(format!(
                        "holds a {} chain, not {network}",
                        snap.network
                    )));
                }
                State::from_snapshot(snap).map_err(invalid)?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let state = State::with_genesis(network);
                write_atomically(path, &state.snapshot_json())?;
                state
            }
            Err(e) => return Err(e),
        };
        let generation = state.generation;
        let state = Arc::new(Mutex::new(state));
        let store = Store::start(path.to_path_buf(), state.clone(), generation)?;
        Ok(SimChain {
            state,
            store: Some(store),
        })
    }

    pub fn network(&self) -> Network {
        self.lock().network
    }

    /// A mempool tx paying `amount` to `address` at vout 0, plus change to a random
    /// P2WPKH at vout 1. `rbf` makes its input signal replace-by-fee.
    pub fn pay(&self, address: &str, amount: Amount, rbf: bool) -> Result<(Txid, u32), SimError> {
        let txid = self.pay_many(&[(address.to_string(), amount)], rbf)?;
        Ok((txid, 0))
    }

    /// One mempool tx paying every `(address, amount)` in order (vout 0, 1, ...), plus change.
    pub fn pay_many(&self, outputs: &[(String, Amount)], rbf: bool) -> Result<Txid, SimError> {
        let mut state = self.lock();
        let mut outs = to_txouts(state.network, outputs)?;
        let mut rng = rand::thread_rng();
        outs.push(TxOut {
            value: Amount::from_sat(rng.gen_range(10_000..5_000_000)),
            script_pubkey: random_p2wpkh(),
        });
        let sequence = if rbf {
            Sequence::ENABLE_RBF_NO_LOCKTIME
        } else {
            Sequence::ENABLE_LOCKTIME_NO_RBF
        };
        let input = TxIn {
            previous_output: OutPoint::new(Txid::from_byte_array(rng.gen()), rng.gen_range(0..4)),
            script_sig: ScriptBuf::new(),
            sequence,
            witness: fake_witness(),
        };
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![input],
            output: outs,
        };
        let txid = state.add_to_mempool(tx);
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

    /// Replaces the last `depth` blocks by as many new empty blocks (new hashes).
    /// Their transactions go back to the mempool with the same txids.
    pub fn reorg(&self, depth: u32) -> Result<(), SimError> {
        let mut state = self.lock();
        let tip = state.tip();
        if depth == 0 || depth > tip {
            return Err(SimError::InvalidDepth { depth, tip });
        }
        let fork = state.blocks.len() - depth as usize;
        let removed = state.blocks.split_off(fork);
        for block in removed {
            for txid in block.txids {
                let seq = state.next_seq;
                state.next_seq += 1;
                if let Some(entry) = state.txs.get_mut(&txid) {
                    entry.place = Place::Mempool { seq };
                    state.mempool.insert(seq, txid);
                }
            }
        }
        for _ in 0..depth {
            state.mine_block(false);
        }
        self.commit(state);
        Ok(())
    }

    /// Replaces an unconfirmed tx by a conflicting one spending the same inputs and
    /// paying a random address. The original (and anything spending it) disappears.
    pub fn double_spend(&self, txid: &Txid) -> Result<Txid, SimError> {
        let mut state = self.lock();
        let original = &state.unconfirmed(txid)?.tx;
        let total: Amount = original.output.iter().map(|o| o.value).sum();
        let conflict = Transaction {
            version: original.version,
            lock_time: original.lock_time,
            input: original
                .input
                .iter()
                .map(|i| TxIn {
                    sequence: Sequence::ENABLE_LOCKTIME_NO_RBF,
                    ..i.clone()
                })
                .collect(),
            output: vec![TxOut {
                value: total.checked_sub(DOUBLE_SPEND_FEE).unwrap_or(total),
                script_pubkey: random_p2wpkh(),
            }],
        };
        state.remove_with_descendants(*txid);
        let new_txid = state.add_to_mempool(conflict);
        self.commit(state);
        Ok(new_txid)
    }

    /// Replaces an unconfirmed tx that signalled RBF by one spending the same inputs
    /// and paying exactly `new_outputs`.
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
        let replacement = Transaction {
            version: original.tx.version,
            lock_time: original.tx.lock_time,
            input: original.tx.input.clone(),
            output: outs,
        };
        if replacement.compute_txid() == *txid {
            return Err(SimError::Invalid(
                "the replacement is identical to the original transaction".into(),
            ));
        }
        state.remove_with_descendants(*txid);
        let new_txid = state.add_to_mempool(replacement);
        self.commit(state);
        Ok(new_txid)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic mid-operation cannot leave the indexes half-updated in a way that
        // matters more than refusing every later call would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a mutation: bumps the generation and asks the writer to save it.
    fn commit(&self, mut state: MutexGuard<'_, State>) {
        state.generation += 1;
        let generation = state.generation;
        drop(state);
        if let Some(store) = &self.store {
            store.sync.request(generation);
        }
    }

    /// Waits until the snapshot file holds every mutation made so far (snapshots are
    /// written behind the mutations; dropping the chain flushes too). Reports the
    /// last write error, if any. A no-op for an in-memory chain.
    pub fn flush(&self) -> io::Result<()> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let generation = self.lock().generation;
        let sync = &store.sync;
        let mut flags = sync.flags();
        flags.wanted = flags.wanted.max(generation);
        sync.changed.notify_all();
        while flags.written < generation {
            flags = sync.changed.wait(flags).unwrap_or_else(|e| e.into_inner());
        }
        match &flags.error {
            None => Ok(()),
            Some(e) => Err(io::Error::other(format!(
                "sandbox chain snapshot {}: {e}",
                store.path.display()
            ))),
        }
    }
}

impl Drop for SimChain {
    fn drop(&mut self) {
        if let Some(store) = &mut self.store {
            store.sync.flags().shutdown = true;
            store.sync.changed.notify_all();
            if let Some(thread) = store.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

#[async_trait::async_trait]
impl Chain for SimChain {
    async fn tip_height(&self) -> Result<u32, ChainError> {
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
        let mut state = self.lock();
        let txid = tx.compute_txid();
        if let Some(entry) = state.txs.get(&txid) {
            return match entry.place {
                // bitcoind answers an already-known mempool tx with its txid
                Place::Mempool { .. } => Ok(txid),
                Place::Block { .. } => Err(rejected(-27, "Transaction already in block chain")),
            };
        }
        if let Some(reason) = state.broadcast_refusal(tx) {
            return Err(rejected(-26, reason));
        }
        state.add_to_mempool(tx.clone());
        self.commit(state);
        Ok(txid)
    }

    async fn fee_estimates(&self) -> Result<BTreeMap<u16, Decimal>, ChainError> {
        Ok([(1, 20), (3, 10), (6, 5), (144, 1)]
            .into_iter()
            .map(|(target, rate)| (target, Decimal::from(rate)))
            .collect())
    }
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

fn random_p2wpkh() -> ScriptBuf {
    ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array(rand::thread_rng().gen()))
}

/// A plausible P2WPKH witness (DER-looking signature + compressed key); never verified.
fn fake_witness() -> Witness {
    let mut rng = rand::thread_rng();
    let mut sig = vec![0x30, 0x44, 0x02, 0x20];
    sig.extend(rng.gen::<[u8; 32]>());
    sig.extend([0x02, 0x20]);
    sig.extend(rng.gen::<[u8; 32]>());
    sig.push(0x01); // SIGHASH_ALL
    let mut key = vec![0x02];
    key.extend(rng.gen::<[u8; 32]>());
    Witness::from_slice(&[sig, key])
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

    fn temp_path(name: &str) -> PathBuf {
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
        assert_eq!(new.outputs.len(), 2);
        assert_eq!(new.outputs[0].value, sats(19_000));
        assert_eq!(new.outputs[1].address.as_deref(), Some(other.as_str()));
        assert_eq!(chain.address_txs(&other).await.unwrap().len(), 1);

        // identical outputs would be the same transaction
        let same: Vec<(String, Amount)> = vec![(addr.clone(), sats(19_000)), (other, sats(500))];
        assert!(matches!(
            chain.replace_by_fee(&replacement, &same),
            Err(SimError::Invalid(_))
        ));

        chain.mine(1);
        assert_eq!(
            chain.replace_by_fee(&replacement, &outputs),
            Err(SimError::AlreadyConfirmed(replacement))
        );
    }

    #[tokio::test]
    async fn broadcast_accepts_and_rejects_conflicts() {
        let chain = SimChain::in_memory(Network::Regtest);
        let merchant = regtest_address();
        let refund_to = regtest_address();
        let (paid, _) = chain.pay(&merchant, sats(50_000), false).unwrap();

        // the merchant spends the payment output to a refund address
        let refund_script = parse_address(Network::Regtest, &refund_to).unwrap();
        let spend = |value: u64| Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(paid, 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: fake_witness(),
            }],
            output: vec![TxOut {
                value: sats(value),
                script_pubkey: refund_script.clone(),
            }],
        };
        let refund = spend(49_000);
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

        match chain.broadcast(&spend(48_000)).await {
            Err(ChainError::Rejected(reason)) => {
                assert!(reason.contains("txn-mempool-conflict"), "{reason}")
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        let mut bad_vout = spend(1_000);
        bad_vout.input[0].previous_output.vout = 7;
        assert!(matches!(
            chain.broadcast(&bad_vout).await,
            Err(ChainError::Rejected(_))
        ));

        // double-spending the parent takes the child with it
        chain.double_spend(&paid).unwrap();
        assert!(chain.tx(&refund_id).await.unwrap().is_none());
        assert!(chain.address_txs(&refund_to).await.unwrap().is_empty());

        // once confirmed, spending the same input again is refused
        let (paid2, _) = chain.pay(&merchant, sats(1_000), false).unwrap();
        let tx = chain.lock().txs[&paid2].tx.clone();
        chain.mine(1);
        assert!(matches!(
            chain.broadcast(&tx).await,
            Err(ChainError::Rejected(_))
        ));
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

    #[tokio::test]
    async fn open_persists_and_reopens() {
        let path = temp_path("chain.json");
        let addr = regtest_address();
        let (confirmed, pending, hashes) = {
            let chain = SimChain::open(&path, Network::Regtest).unwrap();
            assert!(path.exists(), "a fresh chain is saved at once");
            let (confirmed, _) = chain.pay(&addr, sats(10_000), false).unwrap();
            let hashes = chain.mine(2);
            let (pending, _) = chain.pay(&addr, sats(20_000), true).unwrap();
            chain.flush().unwrap();
            let saved = std::fs::read_to_string(&path).unwrap();
            let snap: SnapshotIn = serde_json::from_str(&saved).unwrap();
            assert_eq!(snap.blocks.len(), 3);
            assert_eq!(snap.mempool.len(), 1);
            (confirmed, pending, hashes)
        };

        let chain = SimChain::open(&path, Network::Regtest).unwrap();
        assert_eq!(chain.tip_height().await.unwrap(), 2);
        assert_eq!(chain.block_hash_at(1).await.unwrap(), Some(hashes[0]));
        assert_eq!(chain.block_hash_at(2).await.unwrap(), Some(hashes[1]));
        let txs = chain.address_txs(&addr).await.unwrap();
        let ids: Vec<Txid> = txs.iter().map(|t| t.txid).collect();
        assert_eq!(ids, vec![pending, confirmed]);
        assert!(txs[0].rbf && !txs[0].status.confirmed);
        assert_eq!(txs[1].status, TxStatus::confirmed_at(1, hashes[0]));

        // mutations after reopening are saved too
        chain.mine(1);
        drop(chain);
        let chain = SimChain::open(&path, Network::Regtest).unwrap();
        assert_eq!(chain.tip_height().await.unwrap(), 3);
        assert!(chain.tx(&pending).await.unwrap().unwrap().status.confirmed);

        // a snapshot of another network is refused
        let err = SimChain::open(&path, Network::Testnet).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        // a corrupt file is an error, not a panic
        std::fs::write(&path, "{not json").unwrap();
        assert!(SimChain::open(&path, Network::Regtest).is_err());

        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
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
