//! Sealing figures for itc-bench: HPKE seal and open of a 64-byte reading
//! with each suite, to 1 and 4 recipients, the bytes a sealed payload adds,
//! and the device's firmware check (manifest and a 64 KiB image hash).
//! Each figure is the median of several rounds.

use itc_core::firmware::ImageHasher;
use itc_core::keys::Keypair;
use itc_core::seal::rand_core::SeedableRng;
use itc_core::seal::{seal, ChaCha20Rng, SealContext, SealSecretKey, Suite};
use itc_core::types::ChainId;
use itc_core::Encode;
use std::hint::black_box;
use std::time::Instant;

/// Microseconds per call of `f`, the median of `rounds` rounds of
/// `per_round` calls.
fn median_us(rounds: usize, per_round: usize, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_round {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / per_round as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The figures: `seal_us_<suite>_<n>r`, `open_us_<suite>_<n>r`,
/// `sealed_overhead_bytes_<suite>` (one recipient; each further recipient
/// adds `sealed_recipient_bytes_<suite>`), `image_hash_64k_us`.
pub fn figures(quick: bool) -> Vec<(&'static str, f64)> {
    let (rounds, per_round) = if quick { (3, 4) } else { (7, 40) };
    let reading = [0x42u8; 64];
    let context = SealContext {
        chain_id: ChainId(1),
        device: Keypair::from_seed([0x11; 32]).public(),
        sequence: 9,
    };
    // Figure names per suite: seal and open to 1 and to 4 recipients, the
    // overhead for one recipient, the bytes each further recipient adds.
    const NAMES: [(Suite, [&str; 6]); 2] = [
        (
            Suite::X25519,
            [
                "seal_us_x25519_1r",
                "open_us_x25519_1r",
                "seal_us_x25519_4r",
                "open_us_x25519_4r",
                "sealed_overhead_bytes_x25519",
                "sealed_recipient_bytes_x25519",
            ],
        ),
        (
            Suite::XWing,
            [
                "seal_us_xwing_1r",
                "open_us_xwing_1r",
                "seal_us_xwing_4r",
                "open_us_xwing_4r",
                "sealed_overhead_bytes_xwing",
                "sealed_recipient_bytes_xwing",
            ],
        ),
    ];
    let mut out = Vec::new();
    for (suite, [seal_1, open_1, seal_4, open_4, overhead, per_recipient]) in NAMES {
        let keys: Vec<SealSecretKey> = (0..4u8)
            .map(|i| SealSecretKey::derive(&[i + 1; 32], suite, 0))
            .collect();
        let publics: Vec<Vec<u8>> = keys.iter().map(SealSecretKey::public_key).collect();
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        // Encoded sizes of the payloads to 1 and to 4 recipients.
        let mut sizes = [0usize; 2];
        for (slot, (recipients, seal_name, open_name)) in
            [(1usize, seal_1, open_1), (4, seal_4, open_4)]
                .into_iter()
                .enumerate()
        {
            let refs: Vec<&[u8]> = publics[..recipients].iter().map(Vec::as_slice).collect();
            out.push((
                seal_name,
                median_us(rounds, per_round, || {
                    black_box(seal(suite, &context, &refs, &reading, &mut rng).expect("seal"));
                }),
            ));
            let sealed = seal(suite, &context, &refs, &reading, &mut rng).expect("seal");
            // The last recipient's entry: the worst case for a reader.
            let reader = &keys[recipients - 1];
            out.push((
                open_name,
                median_us(rounds, per_round, || {
                    black_box(sealed.open(reader, &context).expect("open"));
                }),
            ));
            sizes[slot] = sealed.encode().len();
        }
        out.push((overhead, (sizes[0] - reading.len()) as f64));
        out.push((per_recipient, ((sizes[1] - sizes[0]) / 3) as f64));
    }
    let image = vec![0x5Au8; 64 * 1024];
    out.push((
        "image_hash_64k_us",
        median_us(rounds, per_round.max(8), || {
            black_box(ImageHasher::hash(&image));
        }),
    ));
    out
}
