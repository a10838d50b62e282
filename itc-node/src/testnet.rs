//! `itc-node init --testnet N --dir DIR`: keys, genesis and one
//! configuration per node for a local network on loopback.
//!
//! Ports are chosen free at init time (the operating system assigns them),
//! written into every configuration, and stay fixed across restarts.

use crate::config::{NodeConfig, NodeSection, PeerEntry};
use crate::keys::{generate_key, write_key_file};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::keys::Keypair;
use std::path::{Path, PathBuf};

/// Balance of each funded test account.
pub const TESTNET_BALANCE: u64 = 1_000_000_000;

/// What [`init`] wrote.
#[derive(Debug, Clone)]
pub struct Testnet {
    /// One configuration file per node.
    pub configs: Vec<PathBuf>,
    /// The genesis file.
    pub genesis: PathBuf,
    /// Key files of funded accounts (`DIR/accounts/N.key`).
    pub accounts: Vec<PathBuf>,
}

/// Options of [`init`].
#[derive(Debug, Clone)]
pub struct TestnetOptions {
    /// Validators.
    pub validators: usize,
    /// Funded client accounts.
    pub accounts: usize,
    /// Chain id.
    pub chain_id: u32,
    /// Blocks per epoch.
    pub epoch_length: u64,
    /// Deterministic keys from this seed (tests), or fresh random keys.
    pub seed: Option<u8>,
}

impl Default for TestnetOptions {
    fn default() -> Self {
        TestnetOptions {
            validators: 4,
            accounts: 4,
            chain_id: 1,
            epoch_length: 1000,
            seed: None,
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn key(options: &TestnetOptions, kind: u8, index: usize) -> Keypair {
    match options.seed {
        Some(seed) => {
            let mut bytes = [seed; 32];
            bytes[0] = kind;
            bytes[1..9].copy_from_slice(&(index as u64 + 1).to_le_bytes());
            Keypair::from_seed(bytes)
        }
        None => generate_key(),
    }
}

/// Write a testnet under `dir` (which must not hold one already).
///
/// # Errors
/// A readable message if a file cannot be written or a port found.
pub fn init(dir: &Path, options: &TestnetOptions) -> Result<Testnet, String> {
    if options.validators == 0 {
        return Err("a testnet needs at least one validator".into());
    }
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(dir.join("accounts")).map_err(io)?;
    let validators: Vec<Keypair> = (0..options.validators)
        .map(|i| key(options, 1, i))
        .collect();
    let accounts: Vec<Keypair> = (0..options.accounts).map(|i| key(options, 2, i)).collect();
    let genesis = Genesis {
        chain_id: options.chain_id,
        genesis_time_ms: crate::consensus::wall_clock_ms(),
        epoch_length: options.epoch_length,
        accounts: accounts
            .iter()
            .map(|k| GenesisAccount {
                public_key: k.public(),
                balance: TESTNET_BALANCE,
            })
            .collect(),
        validators: validators
            .iter()
            .map(|k| GenesisValidator {
                public_key: k.public(),
                weight: 1,
            })
            .collect(),
        ..Genesis::default()
    };
    let genesis_path = dir.join("genesis.json");
    std::fs::write(&genesis_path, genesis.to_json()).map_err(io)?;
    let mut account_files = Vec::new();
    for (i, k) in accounts.iter().enumerate() {
        let path = dir.join("accounts").join(format!("{i}.key"));
        write_key_file(&path, k).map_err(|e| e.to_string())?;
        account_files.push(path);
    }
    let ports: Vec<(u16, u16)> = (0..validators.len())
        .map(|_| Ok((free_port()?, free_port()?)))
        .collect::<std::io::Result<_>>()
        .map_err(io)?;
    let peers: Vec<PeerEntry> = validators
        .iter()
        .zip(&ports)
        .map(|(k, (p2p, _))| PeerEntry {
            public_key: itc_core::hex::encode(&k.public().0),
            address: format!("/ip4/127.0.0.1/tcp/{p2p}"),
        })
        .collect();
    let mut configs = Vec::new();
    for (i, (k, (p2p, http))) in validators.iter().zip(&ports).enumerate() {
        let node_dir = dir.join(format!("node-{i}"));
        std::fs::create_dir_all(&node_dir).map_err(io)?;
        write_key_file(&node_dir.join("node.key"), k).map_err(|e| e.to_string())?;
        let mut config = NodeConfig {
            node: NodeSection {
                key_file: "node.key".into(),
                genesis_file: "../genesis.json".into(),
                data_dir: "data".into(),
                chaincode: true,
                ready_file: Some("ready.json".into()),
            },
            p2p: Default::default(),
            http: Default::default(),
            consensus: Default::default(),
            peers: peers
                .iter()
                .filter(|p| p.public_key != itc_core::hex::encode(&k.public().0))
                .cloned()
                .collect(),
        };
        config.p2p.listen = format!("/ip4/127.0.0.1/tcp/{p2p}");
        config.http.listen = format!("127.0.0.1:{http}");
        let path = node_dir.join("config.toml");
        let text = format!(
            "# itc-node configuration written by `itc-node init --testnet`.\n\
             # Every field is documented in itc-node/src/config.rs (NodeConfig).\n{}",
            config.to_toml()
        );
        std::fs::write(&path, text).map_err(io)?;
        configs.push(path);
    }
    Ok(Testnet {
        configs,
        genesis: genesis_path,
        accounts: account_files,
    })
}
