//! Verified reads from a node that is not trusted: a light client for
//! gateways, apps and the command-line client.
//!
//! A node's answer is believed only when it is proven against a header the
//! caller trusts. The trust starts from the chain's genesis validator set
//! (the `genesis.json` the operator distributes): the header at height 1
//! must name that set and carry a commit certificate from more than two
//! thirds of its weight. From there, [`sync_to`] follows header updates
//! (`/v1/headers/...`, each with its certificate and signing set) through
//! [`itc_spv::TrustedState::update`], bisecting when a header is too far
//! ahead for the trusted set to vouch for it. A state answer
//! (`/v1/accounts/..`, `/v1/devices/..`, `/v1/grants/..`) is then checked with
//! [`StateEntryProof::verify`] against the trusted header of the answer's
//! height. Nothing the node says is used before it passed these checks.
//!
//! The trusted state is small (a header and a validator set); callers keep
//! it between runs with [`save_trust`] / [`load_trust`].
//!
//! ```no_run
//! use itc_node::client::Client;
//! use itc_node::verify::{bootstrap, verified_state, StateQuery};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let genesis = itc_core::genesis::Genesis::from_json(&std::fs::read_to_string("genesis.json")?)?;
//! let client = Client::new("http://127.0.0.1:8080");
//! let mut trusted = bootstrap(&client, &genesis, &Default::default(), itc_node::verify::now_ms())?;
//! let device = itc_core::keys::PublicKey([4; 32]);
//! let record = verified_state(&client, &mut trusted, &StateQuery::Device(device))?;
//! println!("registered: {}", record.is_some());
//! # Ok(()) }
//! ```

use crate::client::{Client, ClientError};
use itc_core::encoding::{Decode, Encode};
use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::PublicKey;
use itc_core::ledger::state_key;
use itc_core::types::{CertificateError, Threshold};
use itc_spv::proof::{SpvProofError, StateEntryProof};
use itc_spv::trusted::{BootstrapError, TrustedState};
use itc_spv::update::{bisection_pivot, HeaderUpdate, InvalidReason, TrustOptions, Verdict};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

/// Most header updates one [`sync_to`] fetches (bisection takes about
/// `log2(distance)` of them per validator-set change).
pub const SYNC_UPDATES_MAX: usize = 256;

/// How long [`verified_answer`] waits for a node that is behind the
/// caller's trusted header to catch up.
pub const NODE_BEHIND_WAIT: Duration = Duration::from_secs(10);

/// Why a verified read failed. Every variant except [`VerifyError::Client`]
/// means the node's answer was *not* believed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The node could not be asked (down, refused, timed out).
    #[error("node: {0}")]
    Client(#[from] ClientError),
    /// The genesis file cannot be used.
    #[error("genesis: {0}")]
    Genesis(String),
    /// The node's answer is not what the API documents.
    #[error("malformed answer ({what}): {detail}")]
    Malformed {
        /// Which field.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The first header is not certified by the genesis validator set.
    #[error("header 1 is not certified by the genesis validator set: {0}")]
    NotGenesisChain(String),
    /// The light client refused to bootstrap.
    #[error("bootstrap refused: {0}")]
    Bootstrap(BootstrapError),
    /// A header update failed verification.
    #[error("header {height} refused: {reason}")]
    Header {
        /// Height of the refused header.
        height: u64,
        /// Why.
        reason: InvalidReason,
    },
    /// The node served a header at another height than asked for.
    #[error("asked for header {asked}, got {got}")]
    WrongHeight {
        /// Height asked for.
        asked: u64,
        /// Height served.
        got: u64,
    },
    /// Bisection did not reach the target within [`SYNC_UPDATES_MAX`].
    #[error("no trust path from height {from} to {to} within {SYNC_UPDATES_MAX} updates")]
    NoTrustPath {
        /// Trusted height.
        from: u64,
        /// Target height.
        to: u64,
    },
    /// The answer's header is not the trusted header of its height.
    #[error("answer is against header {answered} at height {height}, the verified header there is {trusted}")]
    HeaderMismatch {
        /// The height.
        height: u64,
        /// The header hash the answer names.
        answered: String,
        /// The verified header hash.
        trusted: String,
    },
    /// The state proof does not hold against the trusted header.
    #[error("state proof refused: {0}")]
    Proof(#[from] SpvProofError),
    /// The proven value is not a record of the expected kind.
    #[error("proven value is not a valid {0}")]
    BadValue(&'static str),
    /// The node stays behind the caller's trusted header.
    #[error("node is at height {node}, behind the trusted height {trusted}")]
    NodeBehind {
        /// The node's answer height.
        node: u64,
        /// The trusted height.
        trusted: u64,
    },
    /// The trusted-state file cannot be read or written.
    #[error("trust file {path}: {detail}")]
    TrustFile {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The trusted state is for another chain than the genesis.
    #[error("trusted state is for chain {trusted}, the genesis for chain {genesis}")]
    ChainMismatch {
        /// The trusted state's chain.
        trusted: u32,
        /// The genesis chain.
        genesis: u32,
    },
}

/// What to read: the state entry and the API route that proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateQuery {
    /// An account's balance and nonce ([`itc_core::ledger::AccountState`]).
    Account(PublicKey),
    /// A device's registration ([`itc_core::ledger::DeviceRecord`]).
    Device(PublicKey),
    /// A grant of a device to a grantee ([`itc_core::ledger::Grant`]).
    Grant {
        /// The device.
        device: PublicKey,
        /// The grantee.
        grantee: PublicKey,
    },
}

impl StateQuery {
    /// The API route that answers it.
    pub fn path(&self) -> String {
        match self {
            StateQuery::Account(key) => format!("/v1/accounts/{}", hex::encode(&key.0)),
            StateQuery::Device(key) => format!("/v1/devices/{}", hex::encode(&key.0)),
            StateQuery::Grant { device, grantee } => format!(
                "/v1/grants/{}/{}",
                hex::encode(&device.0),
                hex::encode(&grantee.0)
            ),
        }
    }

    /// The state key whose value is proven.
    pub fn state_key(&self) -> Hash {
        match self {
            StateQuery::Account(key) => state_key::account(key),
            StateQuery::Device(key) => state_key::device(key),
            StateQuery::Grant { device, grantee } => state_key::grant(device, grantee),
        }
    }
}

/// A state value proven against a trusted header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// Height of the header the value was proven at.
    pub height: u64,
    /// Hash of that header.
    pub header_hash: Hash,
    /// The proven value's canonical bytes, or `None` if the key is proven
    /// absent.
    pub value: Option<Vec<u8>>,
}

/// Milliseconds since the Unix epoch by the system clock (the light
/// client's `now_ms`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn malformed(what: &'static str, detail: impl Into<String>) -> VerifyError {
    VerifyError::Malformed {
        what,
        detail: detail.into(),
    }
}

fn hex_field<T: Decode>(answer: &Value, field: &'static str) -> Result<T, VerifyError> {
    let text = answer[field]
        .as_str()
        .ok_or_else(|| malformed(field, "missing"))?;
    let bytes = hex::decode(text).map_err(|_| malformed(field, "not hex"))?;
    T::decode(&bytes).map_err(|e| malformed(field, e.to_string()))
}

/// Decode a header update served as hex in field `field` of `answer`.
///
/// # Errors
/// [`VerifyError::Malformed`].
pub fn decode_update(answer: &Value, field: &'static str) -> Result<HeaderUpdate, VerifyError> {
    hex_field(answer, field)
}

/// Fetch the header update at `height` (`None`: the latest).
///
/// # Errors
/// [`VerifyError::Client`] or [`VerifyError::Malformed`]; the update is not
/// verified here.
pub fn fetch_update(client: &Client, height: Option<u64>) -> Result<HeaderUpdate, VerifyError> {
    let path = match height {
        Some(h) => format!("/v1/headers/{h}"),
        None => "/v1/headers/latest".to_string(),
    };
    let answer = client.get(&path)?;
    let update = decode_update(&answer, "update")?;
    if let Some(asked) = height {
        if update.header.height != asked {
            return Err(VerifyError::WrongHeight {
                asked,
                got: update.header.height,
            });
        }
    }
    Ok(update)
}

/// Read a `genesis.json`.
///
/// # Errors
/// [`VerifyError::Genesis`].
pub fn read_genesis(path: &Path) -> Result<Genesis, VerifyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| VerifyError::Genesis(format!("{}: {e}", path.display())))?;
    Genesis::from_json(&text).map_err(|e| VerifyError::Genesis(format!("{}: {e}", path.display())))
}

/// Start trusting the chain of `genesis`: fetch the header at height 1 and
/// accept it only if it is on the genesis chain, names the genesis
/// validator set and carries a certificate from more than two thirds of
/// that set's weight.
///
/// # Errors
/// [`VerifyError::NotGenesisChain`] if another set (another chain) signed
/// it, [`VerifyError::Bootstrap`] if the header is older than the trust
/// period (keep a trust file instead), or a fetch error.
pub fn bootstrap(
    client: &Client,
    genesis: &Genesis,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<TrustedState, VerifyError> {
    let set = genesis
        .validator_set()
        .map_err(|e| VerifyError::Genesis(e.to_string()))?;
    let first = fetch_update(client, Some(1))?;
    let header = &first.header;
    if header.chain_id.0 != genesis.chain_id {
        return Err(VerifyError::NotGenesisChain(format!(
            "header is for chain {}, the genesis for chain {}",
            header.chain_id.0, genesis.chain_id
        )));
    }
    if header.validator_set_hash != set.hash() {
        return Err(VerifyError::NotGenesisChain(
            "header names another validator set".into(),
        ));
    }
    let certificate = &first.certificate;
    if certificate.chain_id != header.chain_id
        || certificate.height != header.height
        || certificate.block_hash != header.hash()
    {
        return Err(VerifyError::NotGenesisChain(
            "certificate is for another header".into(),
        ));
    }
    certificate
        .verify(&set, Threshold::TWO_THIRDS)
        .map_err(|e: CertificateError| VerifyError::NotGenesisChain(e.to_string()))?;
    TrustedState::bootstrap(header.clone(), set, &header.hash(), options, now_ms)
        .map_err(VerifyError::Bootstrap)
}

/// Move `trusted` forward to exactly `target` by verified header updates,
/// bisecting when the trusted set cannot vouch for a header directly.
/// Nothing changes if `trusted` is already at or above `target`.
///
/// # Errors
/// [`VerifyError::Header`] naming a refused header,
/// [`VerifyError::NoTrustPath`] if bisection does not converge, or a fetch
/// error. `trusted` keeps every header verified before the failure.
pub fn sync_to(
    client: &Client,
    trusted: &mut TrustedState,
    target: u64,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<(), VerifyError> {
    follow(client, trusted, target, target, options, now_ms)
}

/// Fetch and apply updates from `pivot` on until `trusted` is at `target`.
fn follow(
    client: &Client,
    trusted: &mut TrustedState,
    target: u64,
    mut pivot: u64,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<(), VerifyError> {
    let mut fetched = 0;
    while trusted.height() < target {
        if fetched == SYNC_UPDATES_MAX {
            return Err(VerifyError::NoTrustPath {
                from: trusted.height(),
                to: target,
            });
        }
        fetched += 1;
        let update = fetch_update(client, Some(pivot))?;
        pivot = advance(trusted, &update, target, options, now_ms)?;
    }
    Ok(())
}

/// Apply one update; returns the next height to fetch.
fn advance(
    trusted: &mut TrustedState,
    update: &HeaderUpdate,
    target: u64,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<u64, VerifyError> {
    let height = update.header.height;
    match trusted.update(update, options, now_ms) {
        Verdict::Success => Ok(target),
        Verdict::NotEnoughTrust => {
            let next = bisection_pivot(trusted.height(), height);
            if next >= height {
                // Adjacent headers never lack trust; a node that says so
                // serves a bad header.
                return Err(VerifyError::Header {
                    height,
                    reason: InvalidReason::NotEnoughSignatures,
                });
            }
            Ok(next)
        }
        Verdict::Invalid(reason) => Err(VerifyError::Header { height, reason }),
    }
}

/// Move `trusted` to the node's latest header (`/v1/headers/latest`,
/// verified). Returns the trusted height, which may be above the node's if
/// the node is behind.
///
/// # Errors
/// As [`sync_to`].
pub fn sync_latest(
    client: &Client,
    trusted: &mut TrustedState,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<u64, VerifyError> {
    let latest = fetch_update(client, None)?;
    let target = latest.header.height;
    if target > trusted.height() {
        let pivot = advance(trusted, &latest, target, options, now_ms)?;
        follow(client, trusted, target, pivot, options, now_ms)?;
    }
    Ok(trusted.height())
}

/// Fetch `query`'s answer and prove it: `trusted` follows the node to its
/// latest header and to the answer's height, the answer must name the
/// trusted header of that height, and its state proof must hold against it.
/// Returns the answer (JSON, for fields the caller prints only after this
/// check) and the proven entry.
///
/// # Errors
/// [`VerifyError`]; on any error other than [`VerifyError::Client`] the
/// node's answer is wrong and must not be used.
pub fn verified_answer(
    client: &Client,
    trusted: &mut TrustedState,
    query: &StateQuery,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<(Value, VerifiedEntry), VerifyError> {
    sync_latest(client, trusted, options, now_ms)?;
    let deadline = Instant::now() + NODE_BEHIND_WAIT;
    let answer = loop {
        let answer = client.get(&query.path())?;
        let height = answer["height"]
            .as_u64()
            .ok_or_else(|| malformed("height", "missing"))?;
        if height >= trusted.height() {
            break answer;
        }
        if Instant::now() >= deadline {
            return Err(VerifyError::NodeBehind {
                node: height,
                trusted: trusted.height(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let height = answer["height"].as_u64().unwrap_or_default();
    sync_to(client, trusted, height, options, now_ms)?;
    let header = trusted.header();
    let named: [u8; 32] = answer["header_hash"]
        .as_str()
        .and_then(|t| hex::decode_array::<32>(t).ok())
        .ok_or_else(|| malformed("header_hash", "expected 64 hex digits"))?;
    if named != header.hash().0 {
        return Err(VerifyError::HeaderMismatch {
            height,
            answered: hex::encode(&named),
            trusted: hex::encode(&header.hash().0),
        });
    }
    let proof: StateEntryProof = hex_field(&answer, "proof")?;
    let value = proof
        .verify(header, &query.state_key())?
        .map(<[u8]>::to_vec);
    let entry = VerifiedEntry {
        height,
        header_hash: header.hash(),
        value,
    };
    Ok((answer, entry))
}

/// [`verified_answer`] with the default trust options and the system clock,
/// returning only the proven value (`None`: proven absent).
///
/// # Errors
/// As [`verified_answer`].
pub fn verified_state(
    client: &Client,
    trusted: &mut TrustedState,
    query: &StateQuery,
) -> Result<Option<Vec<u8>>, VerifyError> {
    verified_answer(client, trusted, query, &TrustOptions::DEFAULT, now_ms()).map(|(_, e)| e.value)
}

/// Decode a proven value as a record of type `T` (`what` names it in the
/// error).
///
/// # Errors
/// [`VerifyError::BadValue`] if the bytes are not a canonical `T`.
pub fn decode_value<T: Decode>(
    value: Option<&[u8]>,
    what: &'static str,
) -> Result<Option<T>, VerifyError> {
    value
        .map(|bytes| T::decode(bytes).map_err(|_| VerifyError::BadValue(what)))
        .transpose()
}

/// Read a trusted state written by [`save_trust`]; `None` if the file does
/// not exist.
///
/// # Errors
/// [`VerifyError::TrustFile`] if it exists but cannot be read or decoded.
pub fn load_trust(path: &Path) -> Result<Option<TrustedState>, VerifyError> {
    let error = |detail: String| VerifyError::TrustFile {
        path: path.display().to_string(),
        detail,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(e.to_string())),
    };
    let bytes = hex::decode(text.trim()).map_err(|_| error("not hex".into()))?;
    TrustedState::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| error(e.to_string()))
}

/// Write `trusted` to `path` as hex of its versioned bytes, atomically
/// (a temporary file renamed over the old one).
///
/// # Errors
/// [`VerifyError::TrustFile`].
pub fn save_trust(path: &Path, trusted: &TrustedState) -> Result<(), VerifyError> {
    let error = |e: std::io::Error| VerifyError::TrustFile {
        path: path.display().to_string(),
        detail: e.to_string(),
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = std::path::PathBuf::from(temporary);
    std::fs::write(&temporary, format!("{}\n", hex::encode(&trusted.encode()))).map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

/// The trusted state to start from: the trust file if given and present
/// (checked against the genesis chain when a genesis is given), else a
/// bootstrap from `genesis`.
///
/// # Errors
/// [`VerifyError::Genesis`] if neither is available, else as
/// [`load_trust`] and [`bootstrap`].
pub fn open_trust(
    client: &Client,
    genesis: Option<&Genesis>,
    trust_file: Option<&Path>,
    options: &TrustOptions,
    now_ms: u64,
) -> Result<TrustedState, VerifyError> {
    if let Some(path) = trust_file {
        if let Some(trusted) = load_trust(path)? {
            if let Some(genesis) = genesis {
                if trusted.chain_id().0 != genesis.chain_id {
                    return Err(VerifyError::ChainMismatch {
                        trusted: trusted.chain_id().0,
                        genesis: genesis.chain_id,
                    });
                }
            }
            return Ok(trusted);
        }
    }
    match genesis {
        Some(genesis) => bootstrap(client, genesis, options, now_ms),
        None => Err(VerifyError::Genesis(
            "no trusted state: give the chain's genesis file (--genesis)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_core::keys::Keypair;
    use itc_core::types::{BlockHeader, ChainId, Validator, ValidatorSet};

    fn trusted() -> TrustedState {
        let key = Keypair::from_seed([3; 32]).public();
        let set = ValidatorSet::new(vec![Validator { key, weight: 1 }]).unwrap();
        let header = BlockHeader {
            chain_id: ChainId(7),
            height: 5,
            previous_hash: Hash::ZERO,
            tx_root: Hash::ZERO,
            tx_count: 0,
            state_root: Hash::ZERO,
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: set.hash(),
            next_validator_set_hash: set.hash(),
            time_ms: 1_000,
            proposer: key,
            view: 0,
        };
        let hash = header.hash();
        TrustedState::bootstrap(header, set, &hash, &TrustOptions::DEFAULT, 2_000).unwrap()
    }

    #[test]
    fn trust_file_round_trips_and_refuses_damage() {
        let dir = std::env::temp_dir().join(format!("itc-verify-trust-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trust.hex");
        assert!(
            load_trust(&path).unwrap().is_none(),
            "missing file: no state"
        );
        let state = trusted();
        save_trust(&path, &state).unwrap();
        assert_eq!(load_trust(&path).unwrap(), Some(state));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert!(matches!(
            load_trust(&path),
            Err(VerifyError::TrustFile { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn queries_name_their_route_and_state_key() {
        let device = PublicKey([1; 32]);
        let grantee = PublicKey([2; 32]);
        let grant = StateQuery::Grant { device, grantee };
        assert_eq!(
            grant.path(),
            format!("/v1/grants/{}/{}", "01".repeat(32), "02".repeat(32))
        );
        assert_eq!(grant.state_key(), state_key::grant(&device, &grantee));
        assert_eq!(
            StateQuery::Account(device).state_key(),
            state_key::account(&device)
        );
        assert_ne!(
            StateQuery::Device(device).state_key(),
            StateQuery::Account(device).state_key()
        );
    }
}
