//! The node's TOML configuration file, with documented defaults.
//!
//! Every field except `[node] key_file` and `genesis_file` has a default,
//! so the smallest file names the key, the genesis and the peers:
//!
//! ```
//! let config = itc_node::config::NodeConfig::from_toml(r#"
//!     [node]
//!     key_file = "validator.key"
//!     genesis_file = "genesis.json"
//!     data_dir = "data"
//!
//!     [[peers]]
//!     public_key = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
//!     address = "/ip4/127.0.0.1/tcp/26001"
//! "#).unwrap();
//! assert_eq!(config.http.listen, "127.0.0.1:8080");
//! assert_eq!(config.p2p.request_bytes_max, itc_pbft::message::MESSAGE_BYTES_MAX);
//! ```
//!
//! Relative paths are resolved against the configuration file's directory
//! ([`NodeConfig::load`]).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`NodeConfig`].
    #[error("config: {0}")]
    Toml(String),
    /// A value is out of range or inconsistent.
    #[error("config: {0}")]
    Invalid(String),
}

/// The whole configuration file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Identity, chain and storage.
    pub node: NodeSection,
    /// Peer-to-peer networking.
    #[serde(default)]
    pub p2p: P2pSection,
    /// The HTTP client API.
    #[serde(default)]
    pub http: HttpSection,
    /// Consensus timing.
    #[serde(default)]
    pub consensus: ConsensusSection,
    /// Other nodes to connect to (validators at least).
    #[serde(default)]
    pub peers: Vec<PeerEntry>,
}

/// `[node]`: identity, chain and storage.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's key (64 hex digits of an ed25519 seed). Its public key
    /// is the validator key if the genesis (or a later epoch) names it, and
    /// its libp2p identity in any case.
    pub key_file: PathBuf,
    /// The chain's genesis JSON ([`itc_core::genesis::Genesis`]).
    pub genesis_file: PathBuf,
    /// Directory for the database (`chain.redb`). Default `data`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Register ChainCode (private analytics campaigns) as a ledger module.
    /// Every validator of a chain must agree. Default `true`.
    #[serde(default = "default_true")]
    pub chaincode: bool,
    /// If set, the node writes its bound addresses here as JSON once it
    /// listens (`{"http": "127.0.0.1:PORT", "p2p": ["/ip4/..."], "public_key": "hex"}`):
    /// lets scripts and tests use port 0.
    #[serde(default)]
    pub ready_file: Option<PathBuf>,
}

/// `[p2p]`: peer-to-peer networking.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct P2pSection {
    /// Multiaddress to listen on. Default `/ip4/127.0.0.1/tcp/0` (loopback,
    /// any free port): set a public address and a fixed port to deploy.
    pub listen: String,
    /// Largest consensus request or response frame accepted, in bytes.
    /// Default [`itc_pbft::message::MESSAGE_BYTES_MAX`] (32 MiB: a
    /// state-transfer response of full blocks).
    pub request_bytes_max: usize,
    /// Largest gossiped message (a transaction), in bytes. Default 1 MiB.
    pub gossip_bytes_max: usize,
    /// Consensus messages queued per peer for the replica before further
    /// ones from that peer are dropped. Default 1024.
    pub inbound_queue_per_peer: usize,
    /// Consensus messages queued per peer for sending before further ones
    /// are dropped (the protocol retransmits). Default 1024.
    pub outbound_queue_per_peer: usize,
    /// Concurrent request-response streams per connection. Default 64.
    pub streams_per_connection: usize,
    /// Established connections in total. Default 64.
    pub connections_max: u32,
    /// Established connections per peer. Default 2.
    pub connections_per_peer: u32,
    /// First redial delay after a lost connection to a configured peer;
    /// doubles up to `redial_max_ms`. Default 250.
    pub redial_min_ms: u64,
    /// Longest redial delay. Default 5000.
    pub redial_max_ms: u64,
}

/// `[http]`: the client API.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Socket address to listen on. Default `127.0.0.1:8080`; port 0 picks
    /// a free port (see `ready_file`).
    pub listen: String,
    /// Largest request body, in bytes. Default 1 MiB.
    pub body_bytes_max: usize,
    /// Requests served at once; more wait. Default 256.
    pub concurrency_max: usize,
    /// Submitted transactions waiting for the replica before the API
    /// answers 503. Default 4096.
    pub submit_queue_max: usize,
}

/// `[consensus]`: timing (see [`itc_pbft::Config`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// Base view-change timeout in ms. Default 2000.
    pub view_change_timeout_ms: u64,
    /// Retransmission interval in ms. Default 500.
    pub retransmit_interval_ms: u64,
    /// Most transactions per block. Default 1000.
    pub block_transactions_max: usize,
    /// Inputs the replica handles before it persists and sends (group
    /// commit: one fsync per batch). Default 256.
    pub batch_inputs_max: usize,
}

/// `[[peers]]`: a node to connect to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// Its ITC public key (64 hex digits); its peer id follows from it.
    pub public_key: String,
    /// Its libp2p multiaddress, e.g. `/ip4/10.0.0.2/tcp/26000`.
    pub address: String,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_true() -> bool {
    true
}

impl Default for P2pSection {
    fn default() -> Self {
        P2pSection {
            listen: "/ip4/127.0.0.1/tcp/0".into(),
            request_bytes_max: itc_pbft::message::MESSAGE_BYTES_MAX,
            gossip_bytes_max: 1024 * 1024,
            inbound_queue_per_peer: 1024,
            outbound_queue_per_peer: 1024,
            streams_per_connection: 64,
            connections_max: 64,
            connections_per_peer: 2,
            redial_min_ms: 250,
            redial_max_ms: 5_000,
        }
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8080".into(),
            body_bytes_max: 1024 * 1024,
            concurrency_max: 256,
            submit_queue_max: 4096,
        }
    }
}

impl Default for ConsensusSection {
    fn default() -> Self {
        ConsensusSection {
            view_change_timeout_ms: 2_000,
            retransmit_interval_ms: 500,
            block_transactions_max: 1_000,
            batch_inputs_max: 256,
        }
    }
}

impl NodeConfig {
    /// Parse a configuration (paths stay as written).
    ///
    /// # Errors
    /// [`ConfigError::Toml`] or [`ConfigError::Invalid`].
    pub fn from_toml(text: &str) -> Result<NodeConfig, ConfigError> {
        let config: NodeConfig =
            toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Read `path` and resolve relative paths against its directory.
    ///
    /// # Errors
    /// [`ConfigError`] if it cannot be read or is invalid.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = NodeConfig::from_toml(&text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut config.node.key_file);
        resolve(&mut config.node.genesis_file);
        resolve(&mut config.node.data_dir);
        if let Some(ready) = config.node.ready_file.as_mut() {
            resolve(ready);
        }
        Ok(config)
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.p2p.request_bytes_max < 1024 {
            return invalid("p2p.request_bytes_max must be at least 1024");
        }
        if self.p2p.inbound_queue_per_peer == 0 || self.p2p.outbound_queue_per_peer == 0 {
            return invalid("p2p queues must hold at least one message");
        }
        if self.p2p.streams_per_connection == 0 || self.http.concurrency_max == 0 {
            return invalid("stream and request limits must be positive");
        }
        if self.p2p.redial_min_ms == 0 || self.p2p.redial_max_ms < self.p2p.redial_min_ms {
            return invalid("p2p.redial_min_ms must be positive and at most redial_max_ms");
        }
        if self.consensus.batch_inputs_max == 0 || self.consensus.block_transactions_max == 0 {
            return invalid("consensus batch and block sizes must be positive");
        }
        if self.http.submit_queue_max == 0 {
            return invalid("http.submit_queue_max must be positive");
        }
        for peer in &self.peers {
            if itc_core::hex::decode_array::<32>(&peer.public_key).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "peer public_key {:?} is not 64 hex digits",
                    peer.public_key
                )));
            }
            if peer.address.parse::<libp2p::Multiaddr>().is_err() {
                return Err(ConfigError::Invalid(format!(
                    "peer address {:?} is not a multiaddress",
                    peer.address
                )));
            }
        }
        if self.p2p.listen.parse::<libp2p::Multiaddr>().is_err() {
            return invalid("p2p.listen is not a multiaddress");
        }
        if self.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("http.listen is not a socket address (ip:port)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_bad_values_are_refused() {
        let text = "[node]\nkey_file = \"k\"\ngenesis_file = \"g\"\n";
        let config = NodeConfig::from_toml(text).unwrap();
        assert_eq!(config.p2p, P2pSection::default());
        assert_eq!(NodeConfig::from_toml(&config.to_toml()).unwrap(), config);
        assert!(matches!(
            NodeConfig::from_toml(&format!("{text}[http]\nlisten = \"nowhere\"\n")),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            NodeConfig::from_toml(&format!("{text}[p2p]\nsurprise = 1\n")),
            Err(ConfigError::Toml(_))
        ));
        assert!(matches!(
            NodeConfig::from_toml(&format!(
                "{text}[[peers]]\npublic_key = \"00\"\naddress = \"/ip4/127.0.0.1/tcp/1\"\n"
            )),
            Err(ConfigError::Invalid(_))
        ));
    }
}
