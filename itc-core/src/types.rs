//! Ledger types: transactions, blocks, votes, certificates and validator sets.
//!
//! Every type here has a canonical encoding ([`Encode`]/[`Decode`]); hashes and
//! signatures are computed over exactly those bytes.

use crate::encoding::{write_bytes, write_option, write_vec, Decode, DecodeError, Encode, Reader};
use crate::firmware::FirmwareManifest;
use crate::hash::{Domain, Hash};
use crate::keys::{Keypair, PublicKey, Signature, SignatureError, SigningDomain};
use crate::merkle;
use crate::seal::Suite;
use alloc::vec::Vec;

/// Most transactions one block may carry.
pub const BLOCK_TRANSACTIONS_MAX: usize = 10_000;
/// Most validators one set may hold.
pub const VALIDATORS_MAX: usize = 256;
/// Most tips one DAG anchor may name.
pub const ANCHOR_TIPS_MAX: usize = 64;
/// Most bytes of a [`Payload::Module`] body (256 KiB).
///
/// Large enough for a ChainCode contract's WebAssembly or a batch of
/// encrypted contributions, small enough that a block of such transactions
/// stays within what consensus messages carry (proposers still budget a
/// block's bytes: [`BLOCK_TRANSACTIONS_MAX`] bodies of this size would not
/// fit one message).
pub const MODULE_BODY_MAX: usize = 256 * 1024;
/// Highest device security level.
pub const SECURITY_LEVEL_MAX: u8 = 3;
/// Upper bound of a validator set's total weight, so that quorum arithmetic
/// can never overflow.
pub const TOTAL_WEIGHT_MAX: u64 = 1 << 60;

/// Identifier of one ITC network. Bound into every signature and header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ChainId(pub u32);

/// An amount of the ITC token in integer base units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(pub u64);

impl Amount {
    /// Zero tokens.
    pub const ZERO: Amount = Amount(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    /// `self - other`, or `None` if `other` is larger.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

/// A device's security level (0 = least capable, [`SECURITY_LEVEL_MAX`] = most).
///
/// It sets the DAG proof-of-work difficulty the device must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SecurityLevel(u8);

impl SecurityLevel {
    /// A level, or `None` above [`SECURITY_LEVEL_MAX`].
    pub const fn new(level: u8) -> Option<Self> {
        if level <= SECURITY_LEVEL_MAX {
            Some(SecurityLevel(level))
        } else {
            None
        }
    }

    /// The numeric level.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// Length of a [`pairing_message`]: the owner's key and the security level.
pub const PAIRING_MESSAGE_LEN: usize = 33;

/// What a device signs ([`SigningDomain::DevicePairing`]) to prove it was
/// paired with `owner` at security `level`: the owner's 32-byte key followed
/// by the level's byte.
///
/// The level sets the device's DAG proof-of-work difficulty, so it is bound
/// to the device's signature: an owner cannot register the device at another
/// level than the one the device agreed to at pairing.
///
/// ```
/// use itc_core::keys::{Keypair, SigningDomain};
/// use itc_core::types::{pairing_message, ChainId, SecurityLevel};
/// let owner = Keypair::from_seed([1; 32]).public();
/// let lamp = Keypair::from_seed([3; 32]);
/// let level = SecurityLevel::new(1).unwrap();
/// let proof = lamp.sign(SigningDomain::DevicePairing, ChainId(7), &pairing_message(&owner, level));
/// assert!(lamp.public()
///     .verify(SigningDomain::DevicePairing, ChainId(7), &pairing_message(&owner, level), &proof)
///     .is_ok());
/// ```
pub fn pairing_message(owner: &PublicKey, level: SecurityLevel) -> [u8; PAIRING_MESSAGE_LEN] {
    let mut message = [0u8; PAIRING_MESSAGE_LEN];
    message[..32].copy_from_slice(&owner.0);
    message[32] = level.get();
    message
}

/// Permission bits an owner grants on a device (meaning is up to the product;
/// see the constants for the conventional ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Permissions(pub u32);

impl Permissions {
    /// Read the device's state.
    pub const READ: Permissions = Permissions(1);
    /// Switch the device on or off.
    pub const SWITCH: Permissions = Permissions(2);
    /// Change settings (brightness, colour, ...).
    pub const CONFIGURE: Permissions = Permissions(4);

    /// Whether every bit of `required` is present.
    pub const fn contains(self, required: Permissions) -> bool {
        self.0 & required.0 == required.0
    }

    /// Whether no bit is set. Every set contains the empty set, so a device
    /// refuses a command that asks for no permission at all.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// Move tokens to another account.
    Transfer {
        /// Receiver.
        to: PublicKey,
        /// Amount moved (fee is separate).
        amount: Amount,
    },
    /// Register a device owned by the sender.
    RegisterDevice {
        /// The device's own key.
        device: PublicKey,
        /// The device's security level.
        security_level: SecurityLevel,
        /// Hash of off-chain metadata (model, firmware, ...).
        metadata_hash: Hash,
        /// The device's signature ([`SigningDomain::DevicePairing`]) over
        /// [`pairing_message`] of the sender and `security_level`: proof of
        /// physical pairing at that level.
        pairing_signature: Signature,
    },
    /// Hand a device over to a new owner. Grants made by the old owner stop
    /// counting, because each grant records who made it.
    TransferDevice {
        /// The device.
        device: PublicKey,
        /// Its new owner.
        new_owner: PublicKey,
    },
    /// Grant someone access to a device until a height.
    GrantAccess {
        /// The device.
        device: PublicKey,
        /// Who may use it.
        grantee: PublicKey,
        /// What they may do.
        permissions: Permissions,
        /// First height at which the grant no longer holds.
        expiry_height: u64,
    },
    /// Remove a grant.
    RevokeAccess {
        /// The device.
        device: PublicKey,
        /// Whose grant to remove.
        grantee: PublicKey,
    },
    /// Lock tokens as validator stake; weight changes at the next epoch.
    Bond {
        /// Amount to bond.
        amount: Amount,
    },
    /// Unlock stake; the weight drops and the tokens return at the next epoch.
    Unbond {
        /// Amount to unbond.
        amount: Amount,
    },
    /// Move tokens from the sender's main-chain account to its balance on
    /// the DAG side chain (micro-payments). The main ledger debits them;
    /// validators credit the DAG ledger when the block executes (itc-dag,
    /// through itc-pbft's anchoring hook). One way: nothing moves back.
    DagDeposit {
        /// Amount to deposit.
        amount: Amount,
    },
    /// A transaction for a ledger module (see [`crate::module`]): the
    /// registered module with id `module` decodes and executes `body`. A
    /// ledger with no such module refuses it.
    Module {
        /// The module's id ([`crate::module::LedgerModule::id`]).
        module: u8,
        /// The module's own encoding of what to do, at most
        /// [`MODULE_BODY_MAX`] bytes.
        body: Vec<u8>,
    },
    /// Publish, or rotate, the sealing (HPKE) public key of `subject` for
    /// `suite` ([`crate::seal`]): the sender's own key (`subject` is the
    /// sender, no `subject_signature`), or the key of a device the sender
    /// owns, with the device's signature
    /// ([`SigningDomain::SealKeyBinding`])
    /// over [`crate::seal::key_binding_message`].
    PublishSealKey {
        /// The account or device whose key it is.
        subject: PublicKey,
        /// The suite.
        suite: Suite,
        /// The public key, [`Suite::public_key_len`] bytes.
        public_key: Vec<u8>,
        /// 0 for the first key of (`subject`, `suite`), then one more at
        /// every rotation.
        key_seq: u32,
        /// The device's binding signature when `subject` is a device.
        subject_signature: Option<Signature>,
    },
    /// Register a firmware product line with the sender as its manufacturer
    /// and `release_key` as the key that signs its releases; the
    /// manufacturer sends it again to rotate the release key
    /// ([`crate::firmware`]).
    RegisterProduct {
        /// The product's id, claimed by the first to register it.
        product: u64,
        /// The key that signs the product's manifests.
        release_key: PublicKey,
    },
    /// Publish a firmware release: a manifest signed by the product's
    /// release key, newer than the product's current release.
    PublishRelease {
        /// The manifest.
        manifest: FirmwareManifest,
        /// The release key's signature
        /// ([`FirmwareManifest::sign`](crate::firmware::FirmwareManifest::sign)).
        signature: Signature,
    },
    /// Revoke a product's current release (the manufacturer only): devices
    /// refuse it until a newer release is published.
    RevokeRelease {
        /// The product.
        product: u64,
        /// The current release's version (a guard against revoking a newer
        /// release than intended).
        version: u32,
    },
}

impl Payload {
    fn tag(&self) -> u8 {
        match self {
            Payload::Transfer { .. } => 0,
            Payload::RegisterDevice { .. } => 1,
            Payload::TransferDevice { .. } => 2,
            Payload::GrantAccess { .. } => 3,
            Payload::RevokeAccess { .. } => 4,
            Payload::Bond { .. } => 5,
            Payload::Unbond { .. } => 6,
            Payload::DagDeposit { .. } => 7,
            Payload::Module { .. } => 8,
            Payload::PublishSealKey { .. } => 9,
            Payload::RegisterProduct { .. } => 10,
            Payload::PublishRelease { .. } => 11,
            Payload::RevokeRelease { .. } => 12,
        }
    }
}

impl Encode for Payload {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            Payload::Transfer { to, amount } => {
                to.encode_to(out);
                amount.encode_to(out);
            }
            Payload::RegisterDevice {
                device,
                security_level,
                metadata_hash,
                pairing_signature,
            } => {
                device.encode_to(out);
                security_level.encode_to(out);
                metadata_hash.encode_to(out);
                pairing_signature.encode_to(out);
            }
            Payload::TransferDevice { device, new_owner } => {
                device.encode_to(out);
                new_owner.encode_to(out);
            }
            Payload::GrantAccess {
                device,
                grantee,
                permissions,
                expiry_height,
            } => {
                device.encode_to(out);
                grantee.encode_to(out);
                permissions.0.encode_to(out);
                expiry_height.encode_to(out);
            }
            Payload::RevokeAccess { device, grantee } => {
                device.encode_to(out);
                grantee.encode_to(out);
            }
            Payload::Bond { amount }
            | Payload::Unbond { amount }
            | Payload::DagDeposit { amount } => amount.encode_to(out),
            Payload::Module { module, body } => {
                out.push(*module);
                write_bytes(out, body);
            }
            Payload::PublishSealKey {
                subject,
                suite,
                public_key,
                key_seq,
                subject_signature,
            } => {
                subject.encode_to(out);
                suite.encode_to(out);
                write_bytes(out, public_key);
                key_seq.encode_to(out);
                write_option(out, subject_signature);
            }
            Payload::RegisterProduct {
                product,
                release_key,
            } => {
                product.encode_to(out);
                release_key.encode_to(out);
            }
            Payload::PublishRelease {
                manifest,
                signature,
            } => {
                manifest.encode_to(out);
                signature.encode_to(out);
            }
            Payload::RevokeRelease { product, version } => {
                product.encode_to(out);
                version.encode_to(out);
            }
        }
    }
}

impl Decode for Payload {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.read_u8()? {
            0 => Payload::Transfer {
                to: Decode::decode_from(r)?,
                amount: Decode::decode_from(r)?,
            },
            1 => Payload::RegisterDevice {
                device: Decode::decode_from(r)?,
                security_level: Decode::decode_from(r)?,
                metadata_hash: Decode::decode_from(r)?,
                pairing_signature: Decode::decode_from(r)?,
            },
            2 => Payload::TransferDevice {
                device: Decode::decode_from(r)?,
                new_owner: Decode::decode_from(r)?,
            },
            3 => Payload::GrantAccess {
                device: Decode::decode_from(r)?,
                grantee: Decode::decode_from(r)?,
                permissions: Permissions(r.read_u32()?),
                expiry_height: r.read_u64()?,
            },
            4 => Payload::RevokeAccess {
                device: Decode::decode_from(r)?,
                grantee: Decode::decode_from(r)?,
            },
            5 => Payload::Bond {
                amount: Decode::decode_from(r)?,
            },
            6 => Payload::Unbond {
                amount: Decode::decode_from(r)?,
            },
            7 => Payload::DagDeposit {
                amount: Decode::decode_from(r)?,
            },
            8 => Payload::Module {
                module: r.read_u8()?,
                body: r.read_bytes("module body", MODULE_BODY_MAX)?,
            },
            9 => {
                let subject = Decode::decode_from(r)?;
                let suite = Suite::decode_from(r)?;
                Payload::PublishSealKey {
                    subject,
                    suite,
                    public_key: crate::seal::read_public_key(r, suite)?,
                    key_seq: r.read_u32()?,
                    subject_signature: r.read_option()?,
                }
            }
            10 => Payload::RegisterProduct {
                product: r.read_u64()?,
                release_key: Decode::decode_from(r)?,
            },
            11 => Payload::PublishRelease {
                manifest: Decode::decode_from(r)?,
                signature: Decode::decode_from(r)?,
            },
            12 => Payload::RevokeRelease {
                product: r.read_u64()?,
                version: r.read_u32()?,
            },
            tag => {
                return Err(DecodeError::InvalidTag {
                    what: "payload",
                    tag,
                })
            }
        })
    }
}

/// A signed main-chain transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// Network this transaction is valid on.
    pub chain_id: ChainId,
    /// Signer and fee payer.
    pub sender: PublicKey,
    /// The sender's next nonce (0, 1, 2, ...).
    pub nonce: u64,
    /// Fee paid to the block's proposer.
    pub fee: Amount,
    /// What the transaction does.
    pub payload: Payload,
    /// The sender's signature over [`Transaction::signing_bytes`].
    pub signature: Signature,
}

impl Transaction {
    /// Build and sign a transaction.
    pub fn new_signed(
        sender: &Keypair,
        chain_id: ChainId,
        nonce: u64,
        fee: Amount,
        payload: Payload,
    ) -> Self {
        let mut tx = Transaction {
            chain_id,
            sender: sender.public(),
            nonce,
            fee,
            payload,
            signature: Signature::EMPTY,
        };
        tx.signature = sender.sign(SigningDomain::Transaction, chain_id, &tx.signing_bytes());
        tx
    }

    /// The bytes the sender signs: the canonical encoding without the signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        self.encode_unsigned(&mut out);
        out
    }

    fn encode_unsigned(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.sender.encode_to(out);
        self.nonce.encode_to(out);
        self.fee.encode_to(out);
        self.payload.encode_to(out);
    }

    /// Check the sender's signature (strict ed25519, bound to this chain id).
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.sender.verify(
            SigningDomain::Transaction,
            self.chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }

    /// The transaction's identifier: the hash of its full encoding.
    pub fn hash(&self) -> Hash {
        // A transfer encodes in about 160 bytes.
        Hash::of(Domain::Transaction, &self.encode_with_capacity(256))
    }
}

impl Encode for Transaction {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_unsigned(out);
        self.signature.encode_to(out);
    }
}

impl Decode for Transaction {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Transaction {
            chain_id: Decode::decode_from(r)?,
            sender: Decode::decode_from(r)?,
            nonce: r.read_u64()?,
            fee: Decode::decode_from(r)?,
            payload: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// A main-chain block header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// Network.
    pub chain_id: ChainId,
    /// Height (sequence number); genesis state is height 0, the first block is 1.
    pub height: u64,
    /// Hash of the previous header ([`Hash::ZERO`] for height 1).
    pub previous_hash: Hash,
    /// RFC 6962 Merkle root of the transactions' hashes.
    pub tx_root: Hash,
    /// Number of transactions in the block (at most
    /// [`BLOCK_TRANSACTIONS_MAX`]). The Merkle root does not commit to the
    /// tree's size, so a light client checks an inclusion proof's
    /// `tree_size` against this count to pin the transaction's position.
    pub tx_count: u64,
    /// Sparse-Merkle root of the ledger state after applying this block.
    pub state_root: Hash,
    /// What confirming the block's DAG anchor produced: the hash of the
    /// anchor's commitment (itc-spv's `AnchorCommitment`: the Merkle roots of
    /// the confirmed cone and of the applied transactions). [`Hash::ZERO`] if
    /// the block carries no anchor.
    pub dag_anchor_root: Hash,
    /// The anchor's own hash ([`DagAnchor::hash`], the tip list), so the
    /// body's anchor is bound to the header without the side chain: a tip
    /// list swapped under a certified header fails [`Block::check_body`].
    /// [`Hash::ZERO`] if the block carries no anchor.
    pub dag_anchor_hash: Hash,
    /// Hash of the validator set that signs this block.
    pub validator_set_hash: Hash,
    /// Hash of the validator set that signs the next block.
    pub next_validator_set_hash: Hash,
    /// Proposer's time in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The proposing validator, who receives the fees.
    pub proposer: PublicKey,
    /// Consensus view in which the block was proposed.
    pub view: u64,
}

/// Bytes of an encoded [`BlockHeader`]: thirteen fixed-size fields.
const BLOCK_HEADER_ENCODED_LEN: usize = 4 + 8 + 32 + 32 + 8 + 32 + 32 + 32 + 32 + 32 + 8 + 32 + 8;

/// Bytes of an encoded [`Vote`]: its signed fields and the signature.
const VOTE_ENCODED_LEN: usize = 4 + 1 + 8 + 8 + 32 + 32 + 64;

impl BlockHeader {
    /// The header's hash, which votes and certificates sign.
    pub fn hash(&self) -> Hash {
        let bytes = self.encode_with_capacity(BLOCK_HEADER_ENCODED_LEN);
        debug_assert_eq!(bytes.len(), BLOCK_HEADER_ENCODED_LEN);
        Hash::of(Domain::BlockHeader, &bytes)
    }
}

impl Encode for BlockHeader {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.height.encode_to(out);
        self.previous_hash.encode_to(out);
        self.tx_root.encode_to(out);
        self.tx_count.encode_to(out);
        self.state_root.encode_to(out);
        self.dag_anchor_root.encode_to(out);
        self.dag_anchor_hash.encode_to(out);
        self.validator_set_hash.encode_to(out);
        self.next_validator_set_hash.encode_to(out);
        self.time_ms.encode_to(out);
        self.proposer.encode_to(out);
        self.view.encode_to(out);
    }
}

impl Decode for BlockHeader {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(BlockHeader {
            chain_id: Decode::decode_from(r)?,
            height: r.read_u64()?,
            previous_hash: Decode::decode_from(r)?,
            tx_root: Decode::decode_from(r)?,
            tx_count: {
                let count = r.read_u64()?;
                if count > BLOCK_TRANSACTIONS_MAX as u64 {
                    return Err(DecodeError::InvalidValue(
                        "header transaction count above BLOCK_TRANSACTIONS_MAX",
                    ));
                }
                count
            },
            state_root: Decode::decode_from(r)?,
            dag_anchor_root: Decode::decode_from(r)?,
            dag_anchor_hash: Decode::decode_from(r)?,
            validator_set_hash: Decode::decode_from(r)?,
            next_validator_set_hash: Decode::decode_from(r)?,
            time_ms: r.read_u64()?,
            proposer: Decode::decode_from(r)?,
            view: r.read_u64()?,
        })
    }
}

/// A main-chain block's commitment to DAG side-chain transactions: the tips
/// whose past cone it confirms. itc-dag defines how the cone is ordered and
/// applied.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DagAnchor {
    /// Confirmed tips, strictly ascending, at most [`ANCHOR_TIPS_MAX`].
    pub tips: Vec<Hash>,
}

impl DagAnchor {
    /// The hash of the tip list: [`BlockHeader::dag_anchor_hash`], so a
    /// block's body is checked against its header without the side chain.
    /// [`BlockHeader::dag_anchor_root`] is the hash of the anchor's
    /// commitment (itc-spv's `AnchorCommitment`), which includes this hash
    /// too, together with the Merkle roots of the cone the anchor confirms.
    pub fn hash(&self) -> Hash {
        Hash::of(Domain::DagAnchor, &self.encode())
    }
}

impl Encode for DagAnchor {
    fn encode_to(&self, out: &mut Vec<u8>) {
        write_vec(out, &self.tips);
    }
}

impl Decode for DagAnchor {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tips: Vec<Hash> = r.read_vec("anchor tips", ANCHOR_TIPS_MAX)?;
        if tips.windows(2).any(|w| w[0] >= w[1]) {
            return Err(DecodeError::NonCanonical(
                "anchor tips not strictly ascending",
            ));
        }
        Ok(DagAnchor { tips })
    }
}

/// A block: header, transactions and an optional DAG anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// Transactions, applied in order.
    pub transactions: Vec<Transaction>,
    /// DAG anchor, if the block confirms side-chain transactions.
    pub anchor: Option<DagAnchor>,
}

/// Why a block's body does not match its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockBodyError {
    /// The transactions do not hash to the header's `tx_root`.
    #[error("transaction root mismatch")]
    TxRootMismatch,
    /// The number of transactions is not the header's `tx_count`.
    #[error("transaction count mismatch")]
    TxCountMismatch,
    /// An anchor without a `dag_anchor_root`, a `dag_anchor_root` without
    /// an anchor, or an anchor without tips.
    #[error("dag anchor and dag anchor root disagree")]
    AnchorRootMismatch,
    /// The anchor's tip list does not hash to the header's
    /// `dag_anchor_hash` (a body swapped under a certified header).
    #[error("dag anchor does not match the header's dag anchor hash")]
    AnchorHashMismatch,
}

impl Block {
    /// The Merkle root of a transaction list.
    pub fn compute_tx_root(transactions: &[Transaction]) -> Hash {
        let leaves: Vec<Hash> = transactions.iter().map(|tx| tx.hash()).collect();
        merkle::root(&leaves)
    }

    /// Check that the body matches the header's commitments: the
    /// transactions hash to `tx_root`; a block carries an anchor (with at
    /// least one tip) exactly when its `dag_anchor_root` is not
    /// [`Hash::ZERO`]; and the anchor's tip list hashes to
    /// `dag_anchor_hash` ([`Hash::ZERO`] without an anchor). A body that
    /// passes is the one the header's signers saw, so a certified header
    /// with a body that fails is a forged message, not a fault of the chain.
    ///
    /// The anchor's commitment itself (the roots of the cone it confirms)
    /// depends on the DAG: a validator recomputes it with itc-dag before it
    /// votes, and a light client checks DAG finality proofs against it.
    ///
    /// # Errors
    /// [`BlockBodyError`] naming the mismatching commitment.
    pub fn check_body(&self) -> Result<(), BlockBodyError> {
        if self.transactions.len() as u64 != self.header.tx_count {
            return Err(BlockBodyError::TxCountMismatch);
        }
        if Self::compute_tx_root(&self.transactions) != self.header.tx_root {
            return Err(BlockBodyError::TxRootMismatch);
        }
        let anchor_hash = match &self.anchor {
            Some(anchor) if anchor.tips.is_empty() => {
                return Err(BlockBodyError::AnchorRootMismatch)
            }
            Some(anchor) => anchor.hash(),
            None => Hash::ZERO,
        };
        if (anchor_hash == Hash::ZERO) != (self.header.dag_anchor_root == Hash::ZERO) {
            return Err(BlockBodyError::AnchorRootMismatch);
        }
        if anchor_hash != self.header.dag_anchor_hash {
            return Err(BlockBodyError::AnchorHashMismatch);
        }
        Ok(())
    }
}

impl Encode for Block {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.header.encode_to(out);
        write_vec(out, &self.transactions);
        write_option(out, &self.anchor);
    }
}

impl Decode for Block {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Block {
            header: Decode::decode_from(r)?,
            transactions: r.read_vec("block transactions", BLOCK_TRANSACTIONS_MAX)?,
            anchor: r.read_option()?,
        })
    }
}

/// The phase a vote belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VoteKind {
    /// PBFT prepare.
    Prepare,
    /// PBFT commit; commit votes form [`CommitCertificate`]s.
    Commit,
}

impl Encode for VoteKind {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(match self {
            VoteKind::Prepare => 0,
            VoteKind::Commit => 1,
        });
    }
}

impl Decode for VoteKind {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.read_u8()? {
            0 => Ok(VoteKind::Prepare),
            1 => Ok(VoteKind::Commit),
            tag => Err(DecodeError::InvalidTag {
                what: "vote kind",
                tag,
            }),
        }
    }
}

/// A validator's signed vote for a block at a height and view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Network.
    pub chain_id: ChainId,
    /// Phase.
    pub kind: VoteKind,
    /// Height (sequence number).
    pub height: u64,
    /// View.
    pub view: u64,
    /// Hash of the header voted for.
    pub block_hash: Hash,
    /// The voter.
    pub validator: PublicKey,
    /// Signature over [`Vote::signing_bytes`] under [`SigningDomain::Vote`].
    pub signature: Signature,
}

impl Vote {
    /// Build and sign a vote.
    pub fn new_signed(
        keypair: &Keypair,
        chain_id: ChainId,
        kind: VoteKind,
        height: u64,
        view: u64,
        block_hash: Hash,
    ) -> Self {
        let mut vote = Vote {
            chain_id,
            kind,
            height,
            view,
            block_hash,
            validator: keypair.public(),
            signature: Signature::EMPTY,
        };
        vote.signature = keypair.sign(SigningDomain::Vote, chain_id, &vote.signing_bytes());
        vote
    }

    /// The signed bytes: the canonical encoding without the signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        self.encode_unsigned(&mut out);
        out
    }

    fn encode_unsigned(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.kind.encode_to(out);
        self.height.encode_to(out);
        self.view.encode_to(out);
        self.block_hash.encode_to(out);
        self.validator.encode_to(out);
    }

    /// Check the validator's signature.
    ///
    /// # Errors
    /// [`SignatureError`] if it does not verify.
    pub fn verify_signature(&self) -> Result<(), SignatureError> {
        self.validator.verify(
            SigningDomain::Vote,
            self.chain_id,
            &self.signing_bytes(),
            &self.signature,
        )
    }

    /// Hash of the vote (for deduplication and evidence).
    pub fn hash(&self) -> Hash {
        let bytes = self.encode_with_capacity(VOTE_ENCODED_LEN);
        debug_assert_eq!(bytes.len(), VOTE_ENCODED_LEN);
        Hash::of(Domain::Vote, &bytes)
    }
}

impl Encode for Vote {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.encode_unsigned(out);
        self.signature.encode_to(out);
    }
}

impl Decode for Vote {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Vote {
            chain_id: Decode::decode_from(r)?,
            kind: Decode::decode_from(r)?,
            height: r.read_u64()?,
            view: r.read_u64()?,
            block_hash: Decode::decode_from(r)?,
            validator: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// One validator's commit signature inside a [`CommitCertificate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitSignature {
    /// The validator.
    pub validator: PublicKey,
    /// Its signature over the commit [`Vote`] for the certificate's block.
    pub signature: Signature,
}

impl Encode for CommitSignature {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.validator.encode_to(out);
        self.signature.encode_to(out);
    }
}

impl Decode for CommitSignature {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommitSignature {
            validator: Decode::decode_from(r)?,
            signature: Decode::decode_from(r)?,
        })
    }
}

/// A fraction of total weight that signed weight must strictly exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Numerator.
    pub numerator: u64,
    /// Denominator (non-zero).
    pub denominator: u64,
}

impl Threshold {
    /// More than two thirds: a PBFT quorum.
    pub const TWO_THIRDS: Threshold = Threshold {
        numerator: 2,
        denominator: 3,
    };
    /// More than one third: at least one honest validator.
    pub const ONE_THIRD: Threshold = Threshold {
        numerator: 1,
        denominator: 3,
    };

    /// Whether `weight` strictly exceeds this fraction of `total`.
    pub fn is_met(self, weight: u64, total: u64) -> bool {
        weight as u128 * self.denominator as u128 > total as u128 * self.numerator as u128
    }
}

/// Why a commit certificate was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A validator's signature does not verify.
    #[error("invalid signature from a validator")]
    InvalidSignature,
    /// Signatures are not strictly ascending by validator (a validator
    /// appears twice, or the certificate was not built canonically).
    #[error("duplicate or unsorted validator signatures")]
    DuplicateOrUnsorted,
    /// The valid signatures from set members do not reach the threshold.
    #[error("not enough voting weight: {signed} of {total}")]
    NotEnoughWeight {
        /// Weight of valid signatures from members.
        signed: u64,
        /// Total weight of the set.
        total: u64,
    },
}

/// Proof that a block was committed: commit votes whose weight exceeds two
/// thirds of the validator set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCertificate {
    /// Network.
    pub chain_id: ChainId,
    /// Height of the block.
    pub height: u64,
    /// View of the commit votes.
    pub view: u64,
    /// Hash of the committed header.
    pub block_hash: Hash,
    /// Signatures, strictly ascending by validator key.
    pub signatures: Vec<CommitSignature>,
}

/// What a set of votes is about: every field of a [`Vote`] except the voter
/// and the signature. Certificates of either phase (commit certificates here,
/// prepared certificates in itc-pbft) are a target plus signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteTarget {
    /// Network.
    pub chain_id: ChainId,
    /// Phase.
    pub kind: VoteKind,
    /// Height (sequence number).
    pub height: u64,
    /// View.
    pub view: u64,
    /// Hash of the header voted for.
    pub block_hash: Hash,
}

impl VoteTarget {
    /// Signatures of the votes for this target, strictly ascending by
    /// validator (votes for anything else are ignored; duplicates dropped).
    pub fn signatures_from<'a>(
        &self,
        votes: impl IntoIterator<Item = &'a Vote>,
    ) -> Vec<CommitSignature> {
        let mut signatures: Vec<CommitSignature> = votes
            .into_iter()
            .filter(|v| {
                v.kind == self.kind
                    && v.chain_id == self.chain_id
                    && v.height == self.height
                    && v.view == self.view
                    && v.block_hash == self.block_hash
            })
            .map(|v| CommitSignature {
                validator: v.validator,
                signature: v.signature,
            })
            .collect();
        signatures.sort_by_key(|s| s.validator);
        signatures.dedup_by(|a, b| a.validator == b.validator);
        signatures
    }

    /// The vote a signature for this target must be over.
    pub fn vote(&self, signature: &CommitSignature) -> Vote {
        Vote {
            chain_id: self.chain_id,
            kind: self.kind,
            height: self.height,
            view: self.view,
            block_hash: self.block_hash,
            validator: signature.validator,
            signature: signature.signature,
        }
    }

    /// Verify that `signatures` from `set` exceed `threshold` of its weight.
    ///
    /// Members are checked heaviest first and verification stops as soon as
    /// the threshold is met; keys outside the set count as zero and are not
    /// verified; each validator counts once. Returns the verified weight.
    ///
    /// # Errors
    /// [`CertificateError::DuplicateOrUnsorted`] if a validator appears twice,
    /// [`CertificateError::InvalidSignature`] if a checked signature fails,
    /// [`CertificateError::NotEnoughWeight`] if the threshold is not met.
    pub fn verify_signatures(
        &self,
        signatures: &[CommitSignature],
        set: &ValidatorSet,
        threshold: Threshold,
    ) -> Result<u64, CertificateError> {
        if signatures
            .windows(2)
            .any(|w| w[0].validator >= w[1].validator)
        {
            // A hand-built certificate could otherwise count a validator twice.
            return Err(CertificateError::DuplicateOrUnsorted);
        }
        let total = set.total_weight();
        let mut members: Vec<(u64, &CommitSignature)> = signatures
            .iter()
            .filter_map(|s| set.weight_of(&s.validator).map(|w| (w, s)))
            .collect();
        members.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.validator.cmp(&b.1.validator)));
        let mut signed = 0u64;
        for (weight, signature) in members {
            if threshold.is_met(signed, total) {
                break;
            }
            self.vote(signature)
                .verify_signature()
                .map_err(|_| CertificateError::InvalidSignature)?;
            signed += weight;
        }
        if threshold.is_met(signed, total) {
            Ok(signed)
        } else {
            Err(CertificateError::NotEnoughWeight { signed, total })
        }
    }
}

/// Read a certificate's signature list: at most [`VALIDATORS_MAX`], strictly
/// ascending by validator.
///
/// # Errors
/// [`DecodeError`] for a malformed or non-canonical list.
pub fn read_certificate_signatures(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<CommitSignature>, DecodeError> {
    let signatures: Vec<CommitSignature> = r.read_vec(what, VALIDATORS_MAX)?;
    if signatures
        .windows(2)
        .any(|w| w[0].validator >= w[1].validator)
    {
        return Err(DecodeError::NonCanonical(
            "certificate signatures not strictly ascending by validator",
        ));
    }
    Ok(signatures)
}

impl CommitCertificate {
    /// Assemble a certificate from commit votes for one block (votes for other
    /// blocks, heights or views are ignored; duplicates are dropped).
    pub fn from_votes<'a>(
        chain_id: ChainId,
        height: u64,
        view: u64,
        block_hash: Hash,
        votes: impl IntoIterator<Item = &'a Vote>,
    ) -> Self {
        let target = VoteTarget {
            chain_id,
            kind: VoteKind::Commit,
            height,
            view,
            block_hash,
        };
        CommitCertificate {
            chain_id,
            height,
            view,
            block_hash,
            signatures: target.signatures_from(votes),
        }
    }

    /// What the certificate's commit votes are for.
    pub fn target(&self) -> VoteTarget {
        VoteTarget {
            chain_id: self.chain_id,
            kind: VoteKind::Commit,
            height: self.height,
            view: self.view,
            block_hash: self.block_hash,
        }
    }

    /// The commit vote a signature in this certificate must be over.
    pub fn vote_for(&self, signature: &CommitSignature) -> Vote {
        self.target().vote(signature)
    }

    /// Verify that signatures from `set` exceed `threshold` of its weight
    /// ([`VoteTarget::verify_signatures`]). Returns the verified weight.
    ///
    /// # Errors
    /// As [`VoteTarget::verify_signatures`].
    pub fn verify(
        &self,
        set: &ValidatorSet,
        threshold: Threshold,
    ) -> Result<u64, CertificateError> {
        self.target()
            .verify_signatures(&self.signatures, set, threshold)
    }
}

impl Encode for CommitCertificate {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.height.encode_to(out);
        self.view.encode_to(out);
        self.block_hash.encode_to(out);
        write_vec(out, &self.signatures);
    }
}

impl Decode for CommitCertificate {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(CommitCertificate {
            chain_id: Decode::decode_from(r)?,
            height: r.read_u64()?,
            view: r.read_u64()?,
            block_hash: Decode::decode_from(r)?,
            signatures: read_certificate_signatures(r, "certificate signatures")?,
        })
    }
}

/// A validator and its voting weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validator {
    /// The validator's key.
    pub key: PublicKey,
    /// Its weight (bonded stake in base units).
    pub weight: u64,
}

impl Encode for Validator {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.key.encode_to(out);
        self.weight.encode_to(out);
    }
}

impl Decode for Validator {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Validator {
            key: Decode::decode_from(r)?,
            weight: r.read_u64()?,
        })
    }
}

/// Why a list of validators is not a valid set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorSetError {
    /// No validators.
    #[error("validator set is empty")]
    Empty,
    /// More than [`VALIDATORS_MAX`] validators.
    #[error("too many validators: {0}")]
    TooMany(usize),
    /// A validator has weight zero.
    #[error("validator with zero weight")]
    ZeroWeight,
    /// A key appears twice.
    #[error("duplicate validator key")]
    Duplicate,
    /// The total weight exceeds [`TOTAL_WEIGHT_MAX`].
    #[error("total weight exceeds maximum")]
    TotalWeightTooLarge,
}

/// A set of validators with weights; quorums are counted in weight.
///
/// ```
/// use itc_core::keys::Keypair;
/// use itc_core::types::{Validator, ValidatorSet};
/// let v = |seed: u8, weight| Validator { key: Keypair::from_seed([seed; 32]).public(), weight };
/// let set = ValidatorSet::new(vec![v(1, 40), v(2, 30), v(3, 20), v(4, 10)]).unwrap();
/// assert_eq!(set.total_weight(), 100);
/// assert!(!set.is_quorum(66)); // exactly 2/3 is not enough
/// assert!(set.is_quorum(67));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total_weight: u64,
}

impl ValidatorSet {
    /// Build a set (sorted by key).
    ///
    /// # Errors
    /// [`ValidatorSetError`] if the list is empty, too long, has a zero
    /// weight, a duplicate key, or too much total weight.
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, ValidatorSetError> {
        if validators.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        if validators.len() > VALIDATORS_MAX {
            return Err(ValidatorSetError::TooMany(validators.len()));
        }
        validators.sort_by_key(|v| v.key);
        if validators.windows(2).any(|w| w[0].key == w[1].key) {
            return Err(ValidatorSetError::Duplicate);
        }
        let mut total: u64 = 0;
        for v in &validators {
            if v.weight == 0 {
                return Err(ValidatorSetError::ZeroWeight);
            }
            total = total
                .checked_add(v.weight)
                .filter(|t| *t <= TOTAL_WEIGHT_MAX)
                .ok_or(ValidatorSetError::TotalWeightTooLarge)?;
        }
        Ok(ValidatorSet {
            validators,
            total_weight: total,
        })
    }

    /// Validators in ascending key order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// Number of validators.
    pub fn len(&self) -> usize {
        self.validators.len()
    }

    /// Always false: a set has at least one validator.
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    /// Sum of all weights.
    pub fn total_weight(&self) -> u64 {
        self.total_weight
    }

    /// Weight of `key`, or `None` if it is not a member.
    pub fn weight_of(&self, key: &PublicKey) -> Option<u64> {
        self.index_of(key).map(|i| self.validators[i].weight)
    }

    /// Position of `key` in the set.
    pub fn index_of(&self, key: &PublicKey) -> Option<usize> {
        self.validators.binary_search_by(|v| v.key.cmp(key)).ok()
    }

    /// Whether `weight` is a quorum: more than two thirds of the total.
    pub fn is_quorum(&self, weight: u64) -> bool {
        Threshold::TWO_THIRDS.is_met(weight, self.total_weight)
    }

    /// Whether `weight` exceeds one third of the total (so it contains at
    /// least one honest validator when fewer than a third are faulty).
    pub fn exceeds_one_third(&self, weight: u64) -> bool {
        Threshold::ONE_THIRD.is_met(weight, self.total_weight)
    }

    /// Largest faulty weight the set tolerates: the greatest `f` with
    /// `3f < total`.
    pub fn fault_tolerance(&self) -> u64 {
        (self.total_weight - 1) / 3
    }

    /// Hash committed in headers.
    pub fn hash(&self) -> Hash {
        // Sized up front (a length, then a 32-byte key and an 8-byte weight
        // per validator): growing the buffer field by field cost more than
        // hashing it.
        let bytes = self.encode_with_capacity(4 + self.validators.len() * 40);
        Hash::of(Domain::ValidatorSet, &bytes)
    }
}

impl Encode for ValidatorSet {
    fn encode_to(&self, out: &mut Vec<u8>) {
        write_vec(out, &self.validators);
    }
}

impl Decode for ValidatorSet {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let validators: Vec<Validator> = r.read_vec("validators", VALIDATORS_MAX)?;
        if validators.windows(2).any(|w| w[0].key >= w[1].key) {
            return Err(DecodeError::NonCanonical(
                "validators not strictly ascending by key",
            ));
        }
        ValidatorSet::new(validators).map_err(|_| DecodeError::InvalidValue("validator set"))
    }
}

macro_rules! newtype_codec {
    ($($t:ident($inner:ty, $read:ident)),*) => {$(
        impl Encode for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                self.0.encode_to(out);
            }
        }
        impl Decode for $t {
            fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($t(r.$read()?))
            }
        }
    )*};
}
newtype_codec!(
    ChainId(u32, read_u32),
    Amount(u64, read_u64),
    Permissions(u32, read_u32)
);

impl Encode for SecurityLevel {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(self.0);
    }
}

impl Decode for SecurityLevel {
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        SecurityLevel::new(r.read_u8()?).ok_or(DecodeError::InvalidValue("security level"))
    }
}
