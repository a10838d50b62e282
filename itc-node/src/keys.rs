//! Key files and the mapping between ITC keys and libp2p peer ids.
//!
//! A node's libp2p identity *is* its ITC ed25519 key (validator or
//! observer): the same 32-byte RFC 8032 seed gives the same public key in
//! both, so the peer id that Noise authenticates names the validator, and a
//! consensus message from a peer outside the validator set is dropped before
//! it is decoded.
//!
//! ```
//! use itc_core::keys::Keypair;
//! use itc_node::keys::{itc_key_of, libp2p_identity, peer_id_of};
//!
//! let key = Keypair::from_seed([7; 32]);
//! let identity = libp2p_identity(&key);
//! assert_eq!(identity.public().to_peer_id(), peer_id_of(&key.public()));
//! assert_eq!(itc_key_of(&peer_id_of(&key.public())), Some(key.public()));
//! ```

use itc_core::keys::{Keypair, PublicKey};
use libp2p::identity;
use libp2p::PeerId;
use std::path::Path;

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not hold 64 hex digits (a 32-byte seed).
    #[error("key file {0}: expected 64 hex digits (a 32-byte ed25519 seed)")]
    Malformed(String),
    /// The seed is all zeros (refused: it is no one's secret).
    #[error("key file {0}: the all-zero seed is not a key")]
    AllZero(String),
}

/// Read a key file: the 32-byte ed25519 seed as 64 hex digits (surrounding
/// whitespace ignored).
///
/// # Errors
/// [`KeyFileError`] if the file is missing or malformed.
pub fn read_key_file(path: &Path) -> Result<Keypair, KeyFileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        path: name.clone(),
        source,
    })?;
    let seed = zeroize::Zeroizing::new(
        itc_core::hex::decode_array::<32>(text.trim())
            .map_err(|_| KeyFileError::Malformed(name.clone()))?,
    );
    Keypair::try_from_seed(*seed).map_err(|_| KeyFileError::AllZero(name))
}

/// Write `key`'s seed to `path` as hex, readable by its owner only (mode
/// 0600 on Unix). Refuses to overwrite an existing file.
///
/// # Errors
/// [`KeyFileError::Io`] if the file exists or cannot be written.
pub fn write_key_file(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    use std::io::Write;
    let io = |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    let text = zeroize::Zeroizing::new(format!("{}\n", itc_core::hex::encode(&*key.seed())));
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// A fresh key from the operating system's randomness.
pub fn generate_key() -> Keypair {
    loop {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom(&mut seed);
        if let Ok(key) = Keypair::try_from_seed(*seed) {
            return key;
        }
    }
}

fn getrandom(out: &mut [u8; 32]) {
    use rand_core::RngCore;
    rand_core::OsRng.fill_bytes(out);
}

/// The libp2p identity of an ITC key (same seed, same public key).
pub fn libp2p_identity(key: &Keypair) -> identity::Keypair {
    let mut seed = *key.seed();
    // Infallible for 32 bytes; the copy is wiped by libp2p.
    identity::Keypair::ed25519_from_bytes(&mut seed).expect("a 32-byte seed is an ed25519 key")
}

/// The peer id of an ITC public key.
pub fn peer_id_of(key: &PublicKey) -> PeerId {
    match identity::ed25519::PublicKey::try_from_bytes(&key.0) {
        Ok(public) => identity::PublicKey::from(public).to_peer_id(),
        // Not a curve point: no peer can authenticate as it; a peer id
        // that matches no connection.
        Err(_) => PeerId::from_multihash(
            libp2p::multihash::Multihash::wrap(0, &key.0).expect("32 bytes fit"),
        )
        .expect("identity multihash"),
    }
}

/// The ITC public key behind a peer id, if it is an ed25519 identity.
pub fn itc_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if multihash.code() != 0 {
        return None;
    }
    let public = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    Some(PublicKey(public.try_into_ed25519().ok()?.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_refuses_bad_files() {
        let dir = std::env::temp_dir().join(format!("itc-node-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        let _ = std::fs::remove_file(&path);
        let key = generate_key();
        write_key_file(&path, &key).unwrap();
        assert_eq!(read_key_file(&path).unwrap().public(), key.public());
        assert!(matches!(
            write_key_file(&path, &key),
            Err(KeyFileError::Io { .. })
        ));
        std::fs::write(&path, "zz").unwrap();
        assert!(matches!(
            read_key_file(&path),
            Err(KeyFileError::Malformed(_))
        ));
        std::fs::write(&path, "00".repeat(32)).unwrap();
        assert!(matches!(
            read_key_file(&path),
            Err(KeyFileError::AllZero(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signatures_agree_between_the_two_libraries() {
        let key = Keypair::from_seed([9; 32]);
        let identity = libp2p_identity(&key);
        let ed = identity.clone().try_into_ed25519().unwrap();
        assert_eq!(ed.public().to_bytes(), key.public().0);
        assert_eq!(peer_id_of(&key.public()), identity.public().to_peer_id());
        assert_eq!(
            itc_key_of(&identity.public().to_peer_id()),
            Some(key.public())
        );
    }
}
