//! A lamp gateway over the network: the smart-lighting flow end to end
//! across processes.
//!
//! The gateway talks to validator nodes only through their HTTP API. It
//! sends the owner's transactions (register the lamp with its pairing
//! signature, grant a guest, revoke), reads state with proofs verified from
//! the genesis validator set ([`itc_node::verify`]), and fetches header
//! updates and command proofs (`/v1/headers/...`,
//! `/v1/command-proof/{device}/{grantee}`) that it hands, as bytes, to an
//! `itc-spv` [`Lamp`] — the light client a real lamp runs. Mid-flow the
//! primary validator is killed with `kill -9`; the flow continues after the
//! view change.
//!
//! Steps: register the lamp; grant the guest; the guest's command is
//! allowed; its replay is refused; a command forged in the guest's name is
//! refused; the primary is killed; the owner revokes (committed after a
//! view change); the guest's command with a current proof is refused
//! (revoked); the guest's old proof is refused once the lamp has seen the
//! newer header (stale); the owner's own command is allowed.
//!
//! # Running it
//! Against its own 4-process cluster on loopback (the `itc-node` binary is
//! `$ITC_NODE_BIN`, or `itc-node` in the target directory this example was
//! built into):
//! ```text
//! cargo build -p itc-node --bins --examples
//! target/debug/examples/lamp_gateway
//! ```
//! Against running nodes (as `scripts/testnet.sh` does), with the funded
//! owner's key and the chain's genesis; `--crash-cmd` is run with `sh -c`
//! and `ITC_PRIMARY` (the primary's public key, hex) in its environment:
//! ```text
//! lamp_gateway --node http://127.0.0.1:P0 --node http://127.0.0.1:P1 ... \
//!     --genesis DIR/genesis.json --owner-key DIR/accounts/0.key --crash-cmd 'kill -9 ...'
//! ```
//! Every step is printed; the exit status is 0 only if every step had its
//! expected outcome. Every wait has a deadline.

use clap::Parser;
use itc_core::encoding::{Decode, Encode};
use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::{Keypair, PublicKey, SigningDomain};
use itc_core::ledger::{DeviceRecord, Grant};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Transaction,
};
use itc_node::client::{Client, ClientError};
use itc_node::harness::Cluster;
use itc_node::keys::{generate_key, read_key_file};
use itc_node::verify::{self, StateQuery};
use itc_spv::command::{CommandProof, DenyReason, Handled, Lamp, LampConfig, LampVerdict};
use itc_spv::replay::ReplayTable;
use itc_spv::update::{HeaderUpdate, TrustOptions, Verdict};
use itc_spv::{InvalidReason, SignedCommand, TrustedState};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Longest wait for a transaction to commit (covers a view change).
const COMMIT_WAIT: Duration = Duration::from_secs(60);
/// Longest wait for the surviving nodes to report the view change.
const VIEW_CHANGE_WAIT: Duration = Duration::from_secs(30);
/// How old the lamp's trusted header may be before it obeys nothing.
const LAMP_FRESHNESS_MS: u64 = 60_000;
/// The lamp's security level.
const LAMP_LEVEL: SecurityLevel = match SecurityLevel::new(1) {
    Some(level) => level,
    None => panic!("level 1 exists"),
};

#[derive(Parser)]
#[command(
    about = "Drive an itc-spv lamp from a node's API: the smart-lighting flow across processes"
)]
struct Args {
    /// A node's API URL (repeat for every node; the gateway fails over).
    /// Without it, the gateway starts its own 4-node cluster.
    #[arg(long)]
    node: Vec<String>,
    /// The chain's genesis file (with --node).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// The funded owner's key file (with --node).
    #[arg(long)]
    owner_key: Option<PathBuf>,
    /// Shell command that kills the primary (with --node); it gets the
    /// primary's key in ITC_PRIMARY.
    #[arg(long)]
    crash_cmd: Option<String>,
    /// Skip the primary crash.
    #[arg(long)]
    no_crash: bool,
}

/// How the primary is crashed.
enum Crash<'a> {
    None,
    Cluster(&'a mut Cluster),
    Command(String),
}

struct Gateway {
    nodes: Vec<Client>,
    chain: ChainId,
    owner: Keypair,
    nonce: u64,
    trusted: TrustedState,
    options: TrustOptions,
    last_time: std::collections::HashMap<PublicKey, u64>,
    failures: usize,
}

/// What a guest's phone sends the lamp: a header update, the command and
/// the proofs, as bytes.
#[derive(Clone)]
struct Packet {
    update: Vec<u8>,
    proof: Vec<u8>,
    command: Vec<u8>,
}

fn now_ms() -> u64 {
    verify::now_ms()
}

impl Gateway {
    /// Run `f` against the first node that answers.
    fn any<T>(&self, f: impl Fn(&Client) -> Result<T, ClientError>) -> Result<T, ClientError> {
        let mut last = ClientError::Transport("no node".into());
        for client in &self.nodes {
            match f(client) {
                Ok(value) => return Ok(value),
                Err(e @ ClientError::Api { status, .. }) if status != 503 => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The first node that answers its status (for verified reads).
    fn live(&self) -> Result<&Client, String> {
        self.nodes
            .iter()
            .find(|c| c.status().is_ok())
            .ok_or_else(|| "no node answers".to_string())
    }

    fn step(&mut self, name: &str, expected: &str, outcome: Result<String, String>) -> bool {
        let (ok, text) = match outcome {
            Ok(text) => (true, text),
            Err(text) => (false, text),
        };
        println!(
            "[{}] {name}\n       expected: {expected}\n       got:      {text}",
            if ok { " ok " } else { "FAIL" }
        );
        if !ok {
            self.failures += 1;
        }
        ok
    }

    /// Sign, submit (to any live node) and wait for the commit.
    fn commit(&mut self, payload: Payload) -> Result<u64, String> {
        let tx = Transaction::new_signed(&self.owner, self.chain, self.nonce, Amount(1), payload);
        let deadline = Instant::now() + COMMIT_WAIT;
        let hash: Hash = loop {
            match self.any(|c| c.submit(&tx)) {
                Ok(hash) => break hash,
                Err(ClientError::Api {
                    status, message, ..
                }) if status != 503 => return Err(format!("rejected: {message}")),
                Err(e) if Instant::now() >= deadline => return Err(e.to_string()),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        self.nonce += 1;
        loop {
            if let Ok(Some(height)) = self.any(|c| c.committed_at(&hash)) {
                return Ok(height);
            }
            if Instant::now() >= deadline {
                return Err(format!("not committed within {COMMIT_WAIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A state value proven against a header verified from genesis.
    fn verified(&mut self, query: StateQuery) -> Result<(u64, Option<Vec<u8>>), String> {
        let client = self.live()?.clone();
        let (_, entry) =
            verify::verified_answer(&client, &mut self.trusted, &query, &self.options, now_ms())
                .map_err(|e| e.to_string())?;
        Ok((entry.height, entry.value))
    }

    /// The current command proof of `grantee` on `device`, with the header
    /// update it is against, as a phone would fetch it.
    fn proof_packet(
        &mut self,
        device: &PublicKey,
        grantee: &PublicKey,
    ) -> Result<(Vec<u8>, Vec<u8>), String> {
        let path = format!(
            "/v1/command-proof/{}/{}",
            hex::encode(&device.0),
            hex::encode(&grantee.0)
        );
        let answer = self.any(|c| c.get(&path)).map_err(|e| e.to_string())?;
        let field = |name: &str| {
            answer[name]
                .as_str()
                .and_then(|t| hex::decode(t).ok())
                .ok_or_else(|| format!("command proof without {name}"))
        };
        Ok((field("header_update")?, field("proof")?))
    }

    /// A command from `signer`, claiming to be `claimed`, at a time after
    /// the claimed sender's last one.
    fn command(&mut self, signer: &Keypair, claimed: PublicKey, device: PublicKey) -> Vec<u8> {
        let last = self.last_time.entry(claimed).or_default();
        let time = now_ms().max(*last + 1);
        *last = time;
        let mut command =
            SignedCommand::new_signed(signer, self.chain, device, Permissions::SWITCH, time);
        if claimed != signer.public() {
            command.grantee = claimed;
        }
        command.encode()
    }

    fn status_of_live(&self) -> Option<serde_json::Value> {
        self.nodes.iter().find_map(|c| c.status().ok())
    }
}

/// The lamp's side: decode what arrived over the air and decide.
fn lamp_receives(lamp: &mut Lamp, packet: &Packet) -> Result<Handled, String> {
    let update = HeaderUpdate::decode(&packet.update).map_err(|e| e.to_string())?;
    let proof = CommandProof::decode(&packet.proof).map_err(|e| e.to_string())?;
    let command = SignedCommand::decode(&packet.command).map_err(|e| e.to_string())?;
    Ok(lamp.handle(now_ms(), Some(&update), &command, &proof))
}

fn describe(handled: &Handled) -> String {
    let update = match handled.update {
        None
        | Some(Verdict::Success)
        | Some(Verdict::Invalid(InvalidReason::NonIncreasingHeight)) => String::new(),
        Some(Verdict::Invalid(reason)) => format!(" (header update refused: {reason})"),
        Some(Verdict::NotEnoughTrust) => " (header update needs bisection)".into(),
    };
    match handled.command {
        LampVerdict::Allowed => format!("allowed{update}"),
        LampVerdict::Denied(reason) => format!("refused: {reason}{update}"),
    }
}

fn expect(handled: Result<Handled, String>, want: Option<DenyReason>) -> Result<String, String> {
    let handled = handled?;
    let text = describe(&handled);
    let good = match want {
        None => handled.command == LampVerdict::Allowed,
        Some(reason) => handled.command == LampVerdict::Denied(reason),
    };
    if good {
        Ok(text)
    } else {
        Err(text)
    }
}

fn flow(g: &mut Gateway, mut crash: Crash<'_>) {
    let lamp_key = generate_key();
    let guest = generate_key();
    let attacker = generate_key();
    let device = lamp_key.public();
    let owner = g.owner.public();
    println!(
        "lamp {}\nowner {}\nguest {}",
        hex::encode(&device.0),
        hex::encode(&owner.0),
        hex::encode(&guest.public().0)
    );

    // 1. Register the lamp: the lamp signs the owner's key (pairing).
    let level = LAMP_LEVEL;
    let pairing = lamp_key.sign(
        SigningDomain::DevicePairing,
        g.chain,
        &pairing_message(&owner, level),
    );
    let outcome = g
        .commit(Payload::RegisterDevice {
            device,
            security_level: level,
            metadata_hash: Hash::of(itc_core::Domain::StateValue, b"lamp model L1"),
            pairing_signature: pairing,
        })
        .and_then(|height| {
            let (at, value) = g.verified(StateQuery::Device(device))?;
            let record: Option<DeviceRecord> =
                verify::decode_value(value.as_deref(), "device").map_err(|e| e.to_string())?;
            match record {
                Some(r) if r.owner == owner => Ok(format!(
                    "committed at height {height}; verified at height {at}: owner is the owner"
                )),
                other => Err(format!("verified record: {other:?}")),
            }
        });
    if !g.step(
        "owner registers the lamp (pairing signature)",
        "committed, registration proven",
        outcome,
    ) {
        return;
    }

    // The lamp is paired: it starts from the gateway's verified header.
    let mut lamp = Lamp::new(
        LampConfig {
            device,
            freshness_ms: LAMP_FRESHNESS_MS,
            command_window_ms: LampConfig::COMMAND_WINDOW_MS_DEFAULT,
        },
        g.options,
        g.trusted.clone(),
        ReplayTable::new(),
    );

    // 2. Grant the guest.
    let guest_key = guest.public();
    let expiry = g.trusted.height() + 1_000;
    let outcome = g
        .commit(Payload::GrantAccess {
            device,
            grantee: guest_key,
            permissions: Permissions::SWITCH,
            expiry_height: expiry,
        })
        .and_then(|height| {
            let (at, value) = g.verified(StateQuery::Grant {
                device,
                grantee: guest_key,
            })?;
            let grant: Option<Grant> =
                verify::decode_value(value.as_deref(), "grant").map_err(|e| e.to_string())?;
            match grant {
                Some(grant) if grant.permissions.contains(Permissions::SWITCH) => Ok(format!(
                    "committed at height {height}; grant proven at height {at}"
                )),
                other => Err(format!("verified grant: {other:?}")),
            }
        });
    g.step(
        &format!("owner grants the guest SWITCH until height {expiry}"),
        "committed, grant proven",
        outcome,
    );

    // 3. The guest turns the lamp on.
    let granted = g.proof_packet(&device, &guest_key);
    let on = granted.clone().map(|(update, proof)| Packet {
        update,
        proof,
        command: g.command(&guest, guest_key, device),
    });
    let outcome = on
        .clone()
        .and_then(|p| expect(lamp_receives(&mut lamp, &p), None));
    g.step("guest turns the lamp on", "allowed", outcome);

    // 4. The same packet again.
    let outcome = on.and_then(|p| expect(lamp_receives(&mut lamp, &p), Some(DenyReason::Replayed)));
    g.step(
        "the guest's packet is replayed",
        "refused: replayed",
        outcome,
    );

    // 5. The attacker signs a command in the guest's name.
    let outcome = granted.clone().and_then(|(update, proof)| {
        let packet = Packet {
            update,
            proof,
            command: g.command(&attacker, guest_key, device),
        };
        expect(
            lamp_receives(&mut lamp, &packet),
            Some(DenyReason::BadSignature),
        )
    });
    g.step(
        "attacker forges a command in the guest's name",
        "refused: bad signature",
        outcome,
    );

    // 6. The primary is killed.
    let before = g.status_of_live();
    let view_before = before
        .as_ref()
        .and_then(|s| s["view"].as_u64())
        .unwrap_or(0);
    let primary = before
        .as_ref()
        .and_then(|s| s["primary"].as_str())
        .unwrap_or("")
        .to_string();
    let crashed = match &mut crash {
        Crash::None => None,
        Crash::Cluster(cluster) => {
            let index =
                (0..cluster.nodes.len()).find(|i| hex::encode(&cluster.nodes[*i].key.0) == primary);
            Some(match index {
                Some(i) => {
                    cluster.kill(i);
                    g.nodes.retain(|c| {
                        cluster.nodes[i]
                            .client
                            .as_ref()
                            .is_none_or(|k| k.base() != c.base())
                    });
                    Ok(format!(
                        "node {i} (primary, view {view_before}) killed with SIGKILL"
                    ))
                }
                None => Err(format!("primary {primary} is not a cluster node")),
            })
        }
        Crash::Command(cmd) => Some(
            std::process::Command::new("sh")
                .args(["-c", cmd])
                .env("ITC_PRIMARY", &primary)
                .status()
                .map_err(|e| e.to_string())
                .and_then(|status| {
                    if status.success() {
                        Ok(format!(
                            "primary {}… (view {view_before}) killed by the crash command",
                            &primary[..primary.len().min(16)]
                        ))
                    } else {
                        Err(format!("crash command failed: {status}"))
                    }
                }),
        ),
    };
    if let Some(outcome) = crashed {
        g.step(
            "the primary validator is killed (kill -9)",
            "killed",
            outcome,
        );
    }

    // 7. The owner revokes; it commits after the view change.
    let revoke = g.commit(Payload::RevokeAccess {
        device,
        grantee: guest_key,
    });
    let outcome = revoke.and_then(|height| {
        let (at, value) = g.verified(StateQuery::Grant {
            device,
            grantee: guest_key,
        })?;
        if value.is_some() {
            return Err(format!("grant still proven at height {at}"));
        }
        let mut text = format!("committed at height {height}; grant proven absent at height {at}");
        if !matches!(crash, Crash::None) {
            let deadline = Instant::now() + VIEW_CHANGE_WAIT;
            loop {
                let status = g.status_of_live();
                let view = status
                    .as_ref()
                    .and_then(|s| s["view"].as_u64())
                    .unwrap_or(0);
                let now_primary = status
                    .as_ref()
                    .and_then(|s| s["primary"].as_str())
                    .unwrap_or("")
                    .to_string();
                if view > view_before && now_primary != primary {
                    text.push_str(&format!(
                        "; view {view_before} -> {view}, new primary {}…",
                        &now_primary[..now_primary.len().min(16)]
                    ));
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!("{text}; but no view change seen (view {view})"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(text)
    });
    g.step(
        "owner revokes the guest",
        if matches!(crash, Crash::None) {
            "committed, grant proven absent"
        } else {
            "committed after a view change, grant proven absent"
        },
        outcome,
    );

    // 8. The guest tries again with a current proof (at the newer header).
    let outcome = g
        .proof_packet(&device, &guest_key)
        .and_then(|(update, proof)| {
            let packet = Packet {
                update,
                proof,
                command: g.command(&guest, guest_key, device),
            };
            expect(lamp_receives(&mut lamp, &packet), Some(DenyReason::Revoked))
        });
    g.step(
        "guest tries again (proof at the newer header)",
        "refused: revoked",
        outcome,
    );

    // 9. The guest presents its proof from before the revocation.
    let outcome = granted.and_then(|(update, proof)| {
        let packet = Packet {
            update,
            proof,
            command: g.command(&guest, guest_key, device),
        };
        expect(
            lamp_receives(&mut lamp, &packet),
            Some(DenyReason::StaleHeader),
        )
    });
    g.step(
        "guest replays its proof from before the revocation",
        "refused: stale header",
        outcome,
    );

    // 10. The owner needs no grant.
    let outcome = g.proof_packet(&device, &owner).and_then(|(update, proof)| {
        let owner_keys = g.owner.clone();
        let packet = Packet {
            update,
            proof,
            command: g.command(&owner_keys, owner, device),
        };
        expect(lamp_receives(&mut lamp, &packet), None)
    });
    g.step("owner turns the lamp on", "allowed", outcome);
    println!(
        "lamp trusts height {} ({} bytes of trusted state)",
        lamp.trusted().height(),
        lamp.trusted().to_bytes().len()
    );
}

fn node_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ITC_NODE_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/<profile>/examples/lamp_gateway -> target/<profile>/itc-node
    let candidate = exe
        .parent()
        .and_then(|examples| examples.parent())
        .map(|profile| profile.join("itc-node"))
        .ok_or("cannot locate the target directory")?;
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "{} not found: build it (cargo build -p itc-node --bins) or set ITC_NODE_BIN",
            candidate.display()
        ))
    }
}

fn gateway(urls: &[String], genesis: &Genesis, owner: Keypair) -> Result<Gateway, String> {
    let nodes: Vec<Client> = urls.iter().map(|u| Client::new(u)).collect();
    let options = TrustOptions::DEFAULT;
    let first = nodes
        .iter()
        .find(|c| c.status().is_ok())
        .ok_or("no node answers")?
        .clone();
    // Height 1 must exist to bootstrap from genesis: make one if needed.
    let (_, mut nonce) = first.account(&owner.public()).map_err(|e| e.to_string())?;
    let chain = ChainId(genesis.chain_id);
    if first.height().map_err(|e| e.to_string())? == 0 {
        let tx = Transaction::new_signed(
            &owner,
            chain,
            nonce,
            Amount(1),
            Payload::Transfer {
                to: generate_key().public(),
                amount: Amount(1),
            },
        );
        let hash = first.submit(&tx).map_err(|e| e.to_string())?;
        first
            .wait_committed(&hash, COMMIT_WAIT)
            .map_err(|e| e.to_string())?;
        nonce += 1;
    }
    let mut trusted = verify::bootstrap(&first, genesis, &options, now_ms())
        .map_err(|e| format!("bootstrap from genesis: {e}"))?;
    verify::sync_latest(&first, &mut trusted, &options, now_ms())
        .map_err(|e| format!("header sync: {e}"))?;
    println!(
        "gateway trusts height {} (verified from the genesis validator set)",
        trusted.height()
    );
    Ok(Gateway {
        nodes,
        chain,
        owner,
        nonce,
        trusted,
        options,
        last_time: Default::default(),
        failures: 0,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let started = Instant::now();
    let result = if args.node.is_empty() {
        own_cluster(&args)
    } else {
        remote(&args)
    };
    match result {
        Ok(0) => {
            println!(
                "all steps as expected ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            println!("{failures} step(s) misbehaved");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("lamp_gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

fn own_cluster(args: &Args) -> Result<usize, String> {
    let binary = node_binary()?;
    println!("starting 4 validators ({})", binary.display());
    let mut cluster = Cluster::start(&binary, "lamp-gateway", 4);
    let urls: Vec<String> = (0..4)
        .map(|i| cluster.client(i).base().to_string())
        .collect();
    let genesis =
        verify::read_genesis(&cluster.dir.join("genesis.json")).map_err(|e| e.to_string())?;
    let owner = cluster.accounts[0].clone();
    let mut g = gateway(&urls, &genesis, owner)?;
    let crash = if args.no_crash {
        Crash::None
    } else {
        Crash::Cluster(&mut cluster)
    };
    flow(&mut g, crash);
    Ok(g.failures)
}

fn remote(args: &Args) -> Result<usize, String> {
    let genesis = verify::read_genesis(
        args.genesis
            .as_deref()
            .ok_or("--genesis is required with --node")?,
    )
    .map_err(|e| e.to_string())?;
    let owner = read_key_file(
        args.owner_key
            .as_deref()
            .ok_or("--owner-key is required with --node")?,
    )
    .map_err(|e| e.to_string())?;
    let mut g = gateway(&args.node, &genesis, owner)?;
    let crash = match (&args.crash_cmd, args.no_crash) {
        (Some(cmd), false) => Crash::Command(cmd.clone()),
        _ => Crash::None,
    };
    flow(&mut g, crash);
    Ok(g.failures)
}
