//! # itc-node
//!
//! The node that partners deploy: a PBFT validator (or observer) of an ITC
//! chain as its own process. It composes the sans-IO crates — the
//! [`itc_pbft::Replica`] with the [`itc_dag::Tangle`] side chain it
//! anchors and ChainCode registered as a ledger module — with well-kept
//! libraries for everything else:
//!
//! - [`net`]: rust-libp2p (TCP, Noise, Yamux; request-response for
//!   consensus, gossipsub for transactions; identify, ping). The libp2p
//!   identity is the node's ITC key.
//! - [`consensus`]: one thread owns the replica and its **redb** database
//!   and persists before it sends (group commit), so `kill -9` at any
//!   moment never makes it equivocate.
//! - [`api`]: an HTTP API on axum for gateways, apps and light clients,
//!   with state proofs, header updates and Prometheus [`metrics`].
//! - [`config`]: a TOML file with documented defaults; [`testnet`] writes
//!   keys, genesis and configs for a local network.
//!
//! The `itc-node` binary wraps it: `itc-node init --testnet 4 --dir DIR`,
//! `itc-node run --config DIR/node-0/config.toml`, and client commands.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = itc_node::config::NodeConfig::load("net/node-0/config.toml".as_ref())?;
//! let node = itc_node::node::start(config).await?;
//! println!("API on http://{}", node.http_addr);
//! node.handle.wait_for_height(1).await;
//! node.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod consensus;
pub mod harness;
pub mod keys;
pub mod metrics;
pub mod net;
pub mod node;
pub mod testnet;
pub mod verify;
