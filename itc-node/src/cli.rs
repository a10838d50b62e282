//! The client commands of the `itc-node` binary: make keys, send the
//! lighting transactions to a node, and read state with its proofs
//! verified.
//!
//! ```text
//! itc-node keygen --out owner.key
//! itc-node tx register-device --device-key lamp.key --node URL --key owner.key
//! itc-node tx grant --device LAMP --grantee GUEST --permissions switch --expiry-height 1000 --node URL --key owner.key
//! itc-node tx revoke --device LAMP --grantee GUEST --node URL --key owner.key
//! itc-node tx transfer-device --device LAMP --new-owner KEY --node URL --key owner.key
//! itc-node tx transfer --to KEY --amount 10 --node URL --key owner.key
//! itc-node query account KEY --node URL --genesis genesis.json [--trust trust.hex]
//! itc-node query device LAMP --node URL --genesis genesis.json
//! itc-node query grant LAMP GUEST --node URL --genesis genesis.json
//! ```
//!
//! A public key argument is 64 hex digits or the path of a key file (its
//! public key is used). Every command prints one line of JSON on stdout.
//! Transactions take the sender's next nonce from the node, are signed
//! locally (the secret never leaves the machine) and, unless `--no-wait`,
//! are waited for until committed. Queries print only what was proven
//! against a header verified from the genesis validator set
//! ([`crate::verify`]); when a proof or a header does not verify, nothing is
//! printed on stdout and the exit status is [`EXIT_UNVERIFIED`].

use crate::client::{Client, ClientError};
use crate::keys::{generate_key, read_key_file, write_key_file, KeyFileError};
use crate::verify::{self, StateQuery, VerifyError};
use clap::{Args, Subcommand};
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{AccountState, DeviceRecord, Grant};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction,
};
use itc_spv::update::TrustOptions;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Exit status when the command failed for another reason than
/// verification (bad arguments, node unreachable, transaction rejected).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when a node's answer did not verify (a header, certificate
/// or state proof was refused): the answer must not be believed.
pub const EXIT_UNVERIFIED: u8 = 3;

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// An argument cannot be used.
    #[error("{0}")]
    Argument(String),
    /// A key file cannot be read or written.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The node refused or could not be reached.
    #[error("node: {0}")]
    Client(#[from] ClientError),
    /// A verified read failed.
    #[error("not verified: {0}")]
    Verify(VerifyError),
}

impl From<VerifyError> for CliError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Client(e) => CliError::Client(e),
            other => CliError::Verify(other),
        }
    }
}

impl CliError {
    /// The process exit status for this error: [`EXIT_UNVERIFIED`] when a
    /// node's answer was refused, [`EXIT_FAILURE`] otherwise (including an
    /// unreadable genesis or trust file).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Verify(VerifyError::Genesis(_) | VerifyError::TrustFile { .. }) => {
                EXIT_FAILURE
            }
            CliError::Verify(_) => EXIT_UNVERIFIED,
            _ => EXIT_FAILURE,
        }
    }
}

/// The client subcommands (flattened into the binary's commands).
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Write a fresh ed25519 key to a file (mode 0600) and print its public key.
    Keygen {
        /// The key file to create (refused if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign and send a transaction to a node.
    Tx {
        /// The transaction.
        #[command(subcommand)]
        tx: TxCommand,
        /// Options common to every transaction.
        #[command(flatten)]
        options: TxOptions,
    },
    /// Read state from a node with its proof verified against a header
    /// certified from the genesis validator set.
    Query {
        /// What to read.
        #[command(subcommand)]
        query: QueryCommand,
        /// Options common to every query.
        #[command(flatten)]
        options: QueryOptions,
    },
}

/// Options of `tx`.
#[derive(Debug, Args)]
pub struct TxOptions {
    /// The node's API (`http://127.0.0.1:PORT`).
    #[arg(long, global = true)]
    pub node: Option<String>,
    /// The sender's key file.
    #[arg(long, global = true)]
    pub key: Option<PathBuf>,
    /// Fee in base units.
    #[arg(long, global = true, default_value_t = 1)]
    pub fee: u64,
    /// Nonce to use instead of the account's next nonce from the node.
    #[arg(long, global = true)]
    pub nonce: Option<u64>,
    /// Chain id to sign for instead of the node's.
    #[arg(long, global = true)]
    pub chain_id: Option<u32>,
    /// Print the hash once the node admitted it; do not wait for the commit.
    #[arg(long, global = true)]
    pub no_wait: bool,
    /// Longest wait for admission and commit, in seconds.
    #[arg(long, global = true, default_value_t = 60)]
    pub timeout_secs: u64,
}

/// The transactions.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Move tokens to another account.
    Transfer {
        /// Receiver (hex public key or key file).
        #[arg(long)]
        to: String,
        /// Amount in base units.
        #[arg(long)]
        amount: u64,
    },
    /// Register a device owned by the sender, with the device's pairing
    /// signature over the sender's key (the device's key file signs it).
    RegisterDevice {
        /// The device's key file (the device signs the pairing message).
        #[arg(long)]
        device_key: PathBuf,
        /// Security level (0..=3).
        #[arg(long, default_value_t = 1)]
        security_level: u8,
        /// Off-chain metadata (model, firmware); its hash goes on chain.
        #[arg(long, default_value = "")]
        metadata: String,
    },
    /// Grant a key access to a device until a height.
    Grant {
        /// The device (hex public key or key file).
        #[arg(long)]
        device: String,
        /// Who gets access (hex public key or key file).
        #[arg(long)]
        grantee: String,
        /// Permission bits: names (`read`, `switch`, `configure`, comma
        /// separated) or a number.
        #[arg(long)]
        permissions: String,
        /// First height at which the grant no longer holds.
        #[arg(long)]
        expiry_height: u64,
    },
    /// Remove a grant.
    Revoke {
        /// The device (hex public key or key file).
        #[arg(long)]
        device: String,
        /// Whose grant to remove (hex public key or key file).
        #[arg(long)]
        grantee: String,
    },
    /// Hand a device over to a new owner.
    TransferDevice {
        /// The device (hex public key or key file).
        #[arg(long)]
        device: String,
        /// The new owner (hex public key or key file).
        #[arg(long)]
        new_owner: String,
    },
}

/// Options of `query`.
#[derive(Debug, Args)]
pub struct QueryOptions {
    /// The node's API (`http://127.0.0.1:PORT`).
    #[arg(long, global = true)]
    pub node: Option<String>,
    /// The chain's genesis file: its validator set is the root of trust.
    #[arg(long, global = true)]
    pub genesis: Option<PathBuf>,
    /// Keep the verified header here between calls (created if missing).
    #[arg(long, global = true)]
    pub trust: Option<PathBuf>,
}

/// The queries.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// An account's balance and next nonce.
    Account {
        /// The account (hex public key or key file).
        key: String,
    },
    /// A device's registration.
    Device {
        /// The device (hex public key or key file).
        device: String,
    },
    /// A device's grant to a grantee.
    Grant {
        /// The device (hex public key or key file).
        device: String,
        /// The grantee (hex public key or key file).
        grantee: String,
    },
}

/// Run a client command; returns the JSON to print.
///
/// # Errors
/// [`CliError`]; see [`CliError::exit_code`].
pub fn run(command: ClientCommand) -> Result<Value, CliError> {
    match command {
        ClientCommand::Keygen { out } => keygen(&out),
        ClientCommand::Tx { tx, options } => send(tx, &options),
        ClientCommand::Query { query, options } => query_verified(query, &options),
    }
}

fn keygen(out: &Path) -> Result<Value, CliError> {
    let key = generate_key();
    write_key_file(out, &key)?;
    Ok(json!({
        "public_key": hex::encode(&key.public().0),
        "file": out.display().to_string(),
    }))
}

/// A public key given as 64 hex digits or as a key file's path.
///
/// # Errors
/// [`CliError::Argument`] if it is neither.
pub fn parse_public_key(text: &str) -> Result<PublicKey, CliError> {
    let trimmed = text.trim();
    if let Ok(bytes) = hex::decode_array::<32>(trimmed.strip_prefix("0x").unwrap_or(trimmed)) {
        return Ok(PublicKey(bytes));
    }
    let path = Path::new(trimmed);
    if path.is_file() {
        return Ok(read_key_file(path)?.public());
    }
    Err(CliError::Argument(format!(
        "{text:?}: expected a public key (64 hex digits) or a key file"
    )))
}

/// Permission bits: `read`, `switch`, `configure` (comma separated, any
/// case), or a decimal or `0x` hexadecimal number.
///
/// # Errors
/// [`CliError::Argument`] for an unknown name or a bad number.
pub fn parse_permissions(text: &str) -> Result<Permissions, CliError> {
    let text = text.trim();
    if let Some(hex_digits) = text.strip_prefix("0x") {
        return u32::from_str_radix(hex_digits, 16)
            .map(Permissions)
            .map_err(|_| CliError::Argument(format!("permissions {text:?}: bad hex number")));
    }
    if let Ok(bits) = text.parse::<u32>() {
        return Ok(Permissions(bits));
    }
    let mut bits = 0;
    for name in text.split(',') {
        bits |= match name.trim().to_ascii_lowercase().as_str() {
            "read" => Permissions::READ.0,
            "switch" => Permissions::SWITCH.0,
            "configure" => Permissions::CONFIGURE.0,
            other => {
                return Err(CliError::Argument(format!(
                    "unknown permission {other:?} (read, switch, configure, or a number)"
                )))
            }
        };
    }
    Ok(Permissions(bits))
}

fn required<'a, T: ?Sized>(value: Option<&'a T>, flag: &str) -> Result<&'a T, CliError> {
    value.ok_or_else(|| CliError::Argument(format!("{flag} is required")))
}

/// Build the payload of `tx` for `sender` on `chain` (the device's pairing
/// signature is made here, from its key file).
///
/// # Errors
/// [`CliError::Argument`] or [`CliError::Key`].
pub fn payload(tx: &TxCommand, sender: &Keypair, chain: ChainId) -> Result<Payload, CliError> {
    Ok(match tx {
        TxCommand::Transfer { to, amount } => Payload::Transfer {
            to: parse_public_key(to)?,
            amount: Amount(*amount),
        },
        TxCommand::RegisterDevice {
            device_key,
            security_level,
            metadata,
        } => {
            let device = read_key_file(device_key)?;
            let level = SecurityLevel::new(*security_level).ok_or_else(|| {
                CliError::Argument(format!("security level {security_level} is too high"))
            })?;
            let pairing_signature = device.sign(
                SigningDomain::DevicePairing,
                chain,
                &pairing_message(&sender.public(), level),
            );
            Payload::RegisterDevice {
                device: device.public(),
                security_level: level,
                metadata_hash: Hash::of(itc_core::Domain::StateValue, metadata.as_bytes()),
                pairing_signature,
            }
        }
        TxCommand::Grant {
            device,
            grantee,
            permissions,
            expiry_height,
        } => Payload::GrantAccess {
            device: parse_public_key(device)?,
            grantee: parse_public_key(grantee)?,
            permissions: parse_permissions(permissions)?,
            expiry_height: *expiry_height,
        },
        TxCommand::Revoke { device, grantee } => Payload::RevokeAccess {
            device: parse_public_key(device)?,
            grantee: parse_public_key(grantee)?,
        },
        TxCommand::TransferDevice { device, new_owner } => Payload::TransferDevice {
            device: parse_public_key(device)?,
            new_owner: parse_public_key(new_owner)?,
        },
    })
}

fn kind(tx: &TxCommand) -> &'static str {
    match tx {
        TxCommand::Transfer { .. } => "transfer",
        TxCommand::RegisterDevice { .. } => "register-device",
        TxCommand::Grant { .. } => "grant",
        TxCommand::Revoke { .. } => "revoke",
        TxCommand::TransferDevice { .. } => "transfer-device",
    }
}

/// Submit, retrying while the node is busy or briefly unreachable.
fn submit(client: &Client, tx: &Transaction, deadline: Instant) -> Result<Hash, ClientError> {
    loop {
        match client.submit(tx) {
            Ok(hash) => return Ok(hash),
            Err(ClientError::Api { status: 503, .. }) | Err(ClientError::Transport(_))
                if Instant::now() < deadline => {}
            Err(e) => return Err(e),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send(tx: TxCommand, options: &TxOptions) -> Result<Value, CliError> {
    let client = Client::new(required(options.node.as_deref(), "--node")?);
    let sender = read_key_file(required(options.key.as_deref(), "--key")?)?;
    let deadline = Instant::now() + Duration::from_secs(options.timeout_secs);
    let chain = match options.chain_id {
        Some(id) => ChainId(id),
        None => {
            let status = client.status()?;
            let id = status["chain_id"]
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| {
                    CliError::Client(ClientError::Transport("status without chain_id".into()))
                })?;
            ChainId(id)
        }
    };
    let nonce = match options.nonce {
        Some(nonce) => nonce,
        None => client.account(&sender.public())?.1,
    };
    let payload = payload(&tx, &sender, chain)?;
    let transaction = Transaction::new_signed(&sender, chain, nonce, Amount(options.fee), payload);
    let hash = submit(&client, &transaction, deadline)?;
    let mut out = json!({
        "kind": kind(&tx),
        "hash": hex::encode(&hash.0),
        "sender": hex::encode(&sender.public().0),
        "nonce": nonce,
        "chain_id": chain.0,
    });
    if let TxCommand::RegisterDevice { device_key, .. } = &tx {
        out["device"] = json!(hex::encode(&read_key_file(device_key)?.public().0));
    }
    if options.no_wait {
        out["committed"] = json!(false);
        return Ok(out);
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    let height = client.wait_committed(&hash, remaining)?;
    out["committed"] = json!(true);
    out["height"] = json!(height);
    Ok(out)
}

fn query_verified(query: QueryCommand, options: &QueryOptions) -> Result<Value, CliError> {
    let client = Client::new(required(options.node.as_deref(), "--node")?);
    let genesis = options
        .genesis
        .as_deref()
        .map(verify::read_genesis)
        .transpose()?;
    let trust_options = TrustOptions::DEFAULT;
    let now = verify::now_ms();
    let mut trusted = verify::open_trust(
        &client,
        genesis.as_ref(),
        options.trust.as_deref(),
        &trust_options,
        now,
    )?;
    let state_query = match &query {
        QueryCommand::Account { key } => StateQuery::Account(parse_public_key(key)?),
        QueryCommand::Device { device } => StateQuery::Device(parse_public_key(device)?),
        QueryCommand::Grant { device, grantee } => StateQuery::Grant {
            device: parse_public_key(device)?,
            grantee: parse_public_key(grantee)?,
        },
    };
    let result = verify::verified_answer(&client, &mut trusted, &state_query, &trust_options, now);
    // Keep whatever was verified, even if the answer itself was refused.
    if let Some(path) = options.trust.as_deref() {
        verify::save_trust(path, &trusted)?;
    }
    let (_, entry) = result?;
    let value = entry.value.as_deref();
    let mut out = match state_query {
        StateQuery::Account(key) => {
            let state: AccountState = verify::decode_value(value, "account")?.unwrap_or_default();
            json!({
                "account": hex::encode(&key.0),
                "balance": state.balance.0,
                "nonce": state.nonce,
            })
        }
        StateQuery::Device(device) => {
            let record: Option<DeviceRecord> = verify::decode_value(value, "device record")?;
            json!({
                "device": hex::encode(&device.0),
                "registered": record.is_some(),
                "record": record.map(|r| json!({
                    "owner": hex::encode(&r.owner.0),
                    "security_level": r.security_level.get(),
                    "metadata_hash": hex::encode(&r.metadata_hash.0),
                    "ownership_seq": r.ownership_seq,
                })),
            })
        }
        StateQuery::Grant { device, grantee } => {
            let grant: Option<Grant> = verify::decode_value(value, "grant")?;
            json!({
                "device": hex::encode(&device.0),
                "grantee": hex::encode(&grantee.0),
                "granted": grant.is_some(),
                "grant": grant.map(|g| json!({
                    "permissions": g.permissions.0,
                    "expiry_height": g.expiry_height,
                    "expired": g.expiry_height <= entry.height,
                    "granted_by": hex::encode(&g.granted_by.0),
                    "ownership_seq": g.ownership_seq,
                })),
            })
        }
    };
    out["verified"] = json!(true);
    out["height"] = json!(entry.height);
    out["header_hash"] = json!(hex::encode(&entry.header_hash.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_names_and_numbers() {
        assert_eq!(parse_permissions("switch").unwrap(), Permissions::SWITCH);
        assert_eq!(
            parse_permissions("READ, switch").unwrap(),
            Permissions(Permissions::READ.0 | Permissions::SWITCH.0)
        );
        assert_eq!(parse_permissions("6").unwrap(), Permissions(6));
        assert_eq!(parse_permissions("0x7").unwrap(), Permissions(7));
        assert!(matches!(
            parse_permissions("dim"),
            Err(CliError::Argument(_))
        ));
    }

    #[test]
    fn public_keys_parse_from_hex_or_key_file() {
        let key = Keypair::from_seed([5; 32]);
        let text = hex::encode(&key.public().0);
        assert_eq!(parse_public_key(&text).unwrap(), key.public());
        assert!(parse_public_key("12ab").is_err());
        let dir = std::env::temp_dir().join(format!("itc-cli-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.key");
        let _ = std::fs::remove_file(&path);
        write_key_file(&path, &key).unwrap();
        assert_eq!(
            parse_public_key(path.to_str().unwrap()).unwrap(),
            key.public()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn registration_carries_the_devices_pairing_signature_over_the_owner() {
        let dir = std::env::temp_dir().join(format!("itc-cli-pair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lamp.key");
        let _ = std::fs::remove_file(&path);
        let lamp = Keypair::from_seed([4; 32]);
        write_key_file(&path, &lamp).unwrap();
        let owner = Keypair::from_seed([1; 32]);
        let chain = ChainId(7);
        let tx = TxCommand::RegisterDevice {
            device_key: path,
            security_level: 1,
            metadata: "lamp".into(),
        };
        let Payload::RegisterDevice {
            device,
            security_level,
            pairing_signature,
            ..
        } = payload(&tx, &owner, chain).unwrap()
        else {
            panic!("not a registration");
        };
        assert_eq!(device, lamp.public());
        lamp.public()
            .verify(
                SigningDomain::DevicePairing,
                chain,
                &pairing_message(&owner.public(), security_level),
                &pairing_signature,
            )
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
