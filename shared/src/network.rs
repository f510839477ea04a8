//! The Bitcoin network a store runs on.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::wire::wire_words;

/// A store's network. `mainnet|testnet|signet|regtest` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Mainnet,
    Testnet,
    Signet,
    Regtest,
}

wire_words!(Network {
    Mainnet => "mainnet",
    Testnet => "testnet",
    Signet => "signet",
    Regtest => "regtest",
});
crate::wire::wire_schema!(Network);

impl Network {
    /// The `bitcoin` crate's network value.
    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet => bitcoin::Network::Testnet,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// Whether extended keys for this network use test version bytes (tpub/upub/vpub).
    pub fn is_test(self) -> bool {
        !matches!(self, Network::Mainnet)
    }
}

impl FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Network::parse(s).ok_or_else(|| {
            format!("unknown network `{s}`: expected mainnet, testnet, signet or regtest")
        })
    }
}
