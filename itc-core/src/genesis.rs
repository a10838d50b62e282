//! Genesis configuration: chain id, parameters, funded accounts and the first
//! validator set, loaded from JSON.
//!
//! ```
//! use itc_core::genesis::Genesis;
//! let json = r#"{
//!   "chain_id": 7,
//!   "epoch_length": 100,
//!   "accounts": [
//!     {"public_key": "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c", "balance": 1000}
//!   ],
//!   "validators": [
//!     {"public_key": "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394", "weight": 10}
//!   ]
//! }"#;
//! let genesis = Genesis::from_json(json).unwrap();
//! assert_eq!(genesis.chain_id, 7);
//! assert_eq!(genesis.validator_set().unwrap().total_weight(), 10);
//! ```

use crate::hash::{Domain, Hash};
use crate::keys::PublicKey;
use crate::ledger::{LedgerParams, STAKE_MAX, SUPPLY_MAX};
use crate::types::{Amount, ChainId, Validator, ValidatorSet, ValidatorSetError};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Most accounts a genesis file may fund.
pub const GENESIS_ACCOUNTS_MAX: usize = 1_000_000;

/// Why a genesis configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The JSON could not be parsed.
    #[error("invalid genesis json: {0}")]
    Json(String),
    /// `epoch_length` is zero.
    #[error("epoch length must be positive")]
    ZeroEpochLength,
    /// `dag_anchor_depth_max` is zero.
    #[error("dag anchor depth must be positive")]
    ZeroAnchorDepth,
    /// The validator list is not a valid set.
    #[error("invalid validators: {0}")]
    Validators(ValidatorSetError),
    /// Too many accounts.
    #[error("too many genesis accounts: {0}")]
    TooManyAccounts(usize),
    /// Balances of one account add up past `u64::MAX`.
    #[error("genesis balance overflow")]
    BalanceOverflow,
    /// A validator's weight is above [`STAKE_MAX`], the most stake a `Bond`
    /// may reach (so that no set of [`crate::types::VALIDATORS_MAX`]
    /// validators can exceed [`crate::types::TOTAL_WEIGHT_MAX`]).
    #[error("validator weight {weight} above maximum {maximum}")]
    ValidatorWeightTooLarge {
        /// The validator's weight.
        weight: u64,
        /// [`STAKE_MAX`].
        maximum: u64,
    },
    /// A validator's weight is below `min_validator_stake`: it could never
    /// be elected again, and the first set must be one the staking rules
    /// would elect.
    #[error("validator weight {weight} below the minimum stake {minimum}")]
    ValidatorWeightTooSmall {
        /// The validator's weight.
        weight: u64,
        /// `min_validator_stake`.
        minimum: u64,
    },
    /// Account balances plus validator stakes add up past [`SUPPLY_MAX`].
    #[error("total supply above maximum {maximum}")]
    SupplyTooLarge {
        /// [`SUPPLY_MAX`].
        maximum: u64,
    },
}

/// A funded account at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// The account's key (hex in JSON).
    #[serde(with = "hex_key")]
    pub public_key: PublicKey,
    /// Initial balance in base units.
    pub balance: u64,
}

/// A validator at genesis (its weight is bonded as its stake).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// The validator's key (hex in JSON).
    #[serde(with = "hex_key")]
    pub public_key: PublicKey,
    /// Voting weight.
    pub weight: u64,
}

/// The genesis configuration of a chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id, bound into every signature.
    pub chain_id: u32,
    /// Genesis time in milliseconds since the Unix epoch.
    #[serde(default)]
    pub genesis_time_ms: u64,
    /// Blocks per epoch.
    #[serde(default = "default_epoch_length")]
    pub epoch_length: u64,
    /// Minimum transaction fee.
    #[serde(default = "default_min_fee")]
    pub min_fee: u64,
    /// Minimum bonded stake to become a validator.
    #[serde(default = "default_min_validator_stake")]
    pub min_validator_stake: u64,
    /// DAG side chain: how far back, in main-chain heights from the last
    /// anchor, a newly anchored DAG transaction may approve confirmed
    /// history (itc-dag's depth rule; a consensus parameter).
    #[serde(default = "default_dag_anchor_depth_max")]
    pub dag_anchor_depth_max: u64,
    /// Funded accounts.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// The first validator set.
    pub validators: Vec<GenesisValidator>,
}

fn default_epoch_length() -> u64 {
    1000
}
fn default_min_fee() -> u64 {
    1
}
fn default_min_validator_stake() -> u64 {
    1
}
fn default_dag_anchor_depth_max() -> u64 {
    DAG_ANCHOR_DEPTH_MAX_DEFAULT
}

/// Default [`Genesis::dag_anchor_depth_max`].
pub const DAG_ANCHOR_DEPTH_MAX_DEFAULT: u64 = 20;

impl Default for Genesis {
    fn default() -> Self {
        Genesis {
            chain_id: 0,
            genesis_time_ms: 0,
            epoch_length: default_epoch_length(),
            min_fee: default_min_fee(),
            min_validator_stake: default_min_validator_stake(),
            dag_anchor_depth_max: default_dag_anchor_depth_max(),
            accounts: Vec::new(),
            validators: Vec::new(),
        }
    }
}

impl Genesis {
    /// Parse a genesis JSON document.
    ///
    /// # Errors
    /// [`GenesisError::Json`] for malformed JSON, bad hex or unknown fields.
    pub fn from_json(json: &str) -> Result<Genesis, GenesisError> {
        serde_json::from_str(json).map_err(|e| GenesisError::Json(e.to_string()))
    }

    /// Serialize to pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }

    /// The chain parameters.
    ///
    /// # Errors
    /// [`GenesisError::ZeroEpochLength`], [`GenesisError::ZeroAnchorDepth`],
    /// [`GenesisError::TooManyAccounts`], [`GenesisError::SupplyTooLarge`].
    pub fn params(&self) -> Result<LedgerParams, GenesisError> {
        if self.epoch_length == 0 {
            return Err(GenesisError::ZeroEpochLength);
        }
        if self.dag_anchor_depth_max == 0 {
            return Err(GenesisError::ZeroAnchorDepth);
        }
        if self.accounts.len() > GENESIS_ACCOUNTS_MAX {
            return Err(GenesisError::TooManyAccounts(self.accounts.len()));
        }
        self.total_supply()?;
        Ok(LedgerParams {
            chain_id: ChainId(self.chain_id),
            epoch_length: self.epoch_length,
            min_fee: Amount(self.min_fee),
            min_validator_stake: Amount(self.min_validator_stake),
            dag_anchor_depth_max: self.dag_anchor_depth_max,
        })
    }

    /// Every token in existence at genesis: the account balances plus the
    /// validators' weights (which are bonded as their stake).
    ///
    /// The ledger only ever moves tokens (transfers, fees, bonds, unbonds,
    /// evictions; a DAG deposit only debits), so no balance can ever exceed
    /// this total, and a total of at most [`SUPPLY_MAX`] keeps every credit
    /// far from `u64::MAX`.
    ///
    /// # Errors
    /// [`GenesisError::SupplyTooLarge`] above [`SUPPLY_MAX`].
    pub fn total_supply(&self) -> Result<u64, GenesisError> {
        let too_large = GenesisError::SupplyTooLarge {
            maximum: SUPPLY_MAX,
        };
        self.accounts
            .iter()
            .map(|a| a.balance)
            .chain(self.validators.iter().map(|v| v.weight))
            .try_fold(0u64, |total, amount| {
                total.checked_add(amount).filter(|t| *t <= SUPPLY_MAX)
            })
            .ok_or(too_large)
    }

    /// The first validator set.
    ///
    /// # Errors
    /// [`GenesisError::Validators`] if the list is not a valid set,
    /// [`GenesisError::ValidatorWeightTooLarge`] for a weight above
    /// [`STAKE_MAX`] (what `Bond` allows a candidate), and
    /// [`GenesisError::ValidatorWeightTooSmall`] for a weight below
    /// `min_validator_stake`.
    pub fn validator_set(&self) -> Result<ValidatorSet, GenesisError> {
        let set = ValidatorSet::new(
            self.validators
                .iter()
                .map(|v| Validator {
                    key: v.public_key,
                    weight: v.weight,
                })
                .collect(),
        )
        .map_err(GenesisError::Validators)?;
        for v in set.validators() {
            if v.weight > STAKE_MAX {
                return Err(GenesisError::ValidatorWeightTooLarge {
                    weight: v.weight,
                    maximum: STAKE_MAX,
                });
            }
            if v.weight < self.min_validator_stake {
                return Err(GenesisError::ValidatorWeightTooSmall {
                    weight: v.weight,
                    minimum: self.min_validator_stake,
                });
            }
        }
        Ok(set)
    }

    /// A hash identifying this genesis (over its canonical JSON).
    pub fn hash(&self) -> Hash {
        Hash::of(
            Domain::Genesis,
            serde_json::to_string(self)
                .expect("genesis serializes")
                .as_bytes(),
        )
    }
}

mod hex_key {
    use crate::keys::PublicKey;
    use alloc::string::String;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(key: &PublicKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hex::encode(&key.0))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PublicKey, D::Error> {
        let text = String::deserialize(d)?;
        crate::hex::decode_array::<32>(&text)
            .map(PublicKey)
            .map_err(serde::de::Error::custom)
    }
}
