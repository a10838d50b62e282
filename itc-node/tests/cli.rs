//! The command-line client against a 4-process cluster on loopback: keys,
//! the lighting transactions, and queries whose answers are verified from
//! the genesis validator set — and refused when the genesis is another
//! chain's or a node tampers with a proof or a header.

use itc_core::encoding::{Decode, Encode};
use itc_core::hex;
use itc_core::keys::PublicKey;
use itc_core::ledger::AccountState;
use itc_node::client::{Client, ClientError};
use itc_node::harness::Cluster;
use itc_spv::proof::StateEntryProof;
use itc_spv::HeaderUpdate;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");

/// One run of the CLI: exit code, stdout as JSON (if it is), stderr.
struct Run {
    code: i32,
    json: Option<Value>,
    stderr: String,
}

fn cli(args: &[&str]) -> Run {
    let output = Command::new(BIN)
        .args(args)
        .env("ITC_LOG", "warn")
        .output()
        .expect("run itc-node");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    Run {
        code: output.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).ok(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// Run and require success; returns the JSON.
fn ok(args: &[&str]) -> Value {
    let run = cli(args);
    assert_eq!(run.code, 0, "itc-node {args:?} failed: {}", run.stderr);
    run.json
        .unwrap_or_else(|| panic!("itc-node {args:?}: no JSON on stdout"))
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A proxy in front of a node that passes every GET through `tamper`
/// (path, answer) before returning it. Stops when dropped.
struct Proxy {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: Client, tamper: fn(&str, &mut Value)) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &upstream, tamper),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut stream: TcpStream, upstream: &Client, tamper: fn(&str, &mut Value)) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (status, body) = match upstream.get(&path) {
        Ok(mut answer) => {
            tamper(&path, &mut answer);
            (200, answer)
        }
        Err(ClientError::Api {
            status,
            code,
            message,
        }) => (
            status,
            serde_json::json!({"error": code, "message": message}),
        ),
        Err(e) => (
            502,
            serde_json::json!({"error": "proxy", "message": e.to_string()}),
        ),
    };
    let body = body.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The account answer claims a balance a million higher, with a proof whose
/// value says so too.
fn inflate_balance(path: &str, answer: &mut Value) {
    if !path.starts_with("/v1/accounts/") {
        return;
    }
    let bytes = hex::decode(answer["proof"].as_str().unwrap()).unwrap();
    let mut entry = StateEntryProof::decode(&bytes).unwrap();
    let mut state = AccountState::decode(entry.value.as_deref().unwrap()).unwrap();
    state.balance.0 += 1_000_000;
    entry.value = Some(state.encode());
    answer["balance"] = state.balance.0.into();
    answer["proof"] = hex::encode(&entry.encode()).into();
}

/// The latest header's state root is replaced (its certificate stays).
fn forge_latest_header(path: &str, answer: &mut Value) {
    if path != "/v1/headers/latest" {
        return;
    }
    let bytes = hex::decode(answer["update"].as_str().unwrap()).unwrap();
    let mut update = HeaderUpdate::decode(&bytes).unwrap();
    update.header.state_root.0[0] ^= 1;
    answer["update"] = hex::encode(&update.encode()).into();
}

#[test]
fn cli_sends_lighting_transactions_and_verifies_what_it_reads() {
    let started = Instant::now();
    let mut cluster = Cluster::start(Path::new(BIN), "cli", 4);
    let dir = cluster.dir.clone();
    let genesis = dir.join("genesis.json");
    let owner_file = dir.join("accounts").join("0.key");
    let owner = hex::encode(&cluster.accounts[0].public().0);
    let url = |c: &Cluster, i: usize| c.client(i).base().to_string();
    let (n0, n1, n2) = (url(&cluster, 0), url(&cluster, 1), url(&cluster, 2));
    let files = dir.join("cli");
    std::fs::create_dir_all(&files).unwrap();
    let key = |name: &str| -> PathBuf { files.join(name) };
    let trust = key("trust.hex");

    // keygen: a fresh key file, its public key printed; never overwritten.
    let guest = ok(&["keygen", "--out", s(&key("guest.key"))]);
    let guest_hex = guest["public_key"].as_str().unwrap().to_string();
    assert_eq!(
        itc_node::keys::read_key_file(&key("guest.key"))
            .unwrap()
            .public(),
        PublicKey(hex::decode_array::<32>(&guest_hex).unwrap())
    );
    let lamp_hex = ok(&["keygen", "--out", s(&key("lamp.key"))])["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    let again = cli(&["keygen", "--out", s(&key("lamp.key"))]);
    assert_eq!(again.code, 1, "keygen overwrote a key: {}", again.stderr);

    // Token transfer to the guest, committed.
    let tx = ok(&[
        "tx",
        "transfer",
        "--to",
        s(&key("guest.key")),
        "--amount",
        "500",
        "--node",
        &n0,
        "--key",
        s(&owner_file),
    ]);
    assert_eq!(tx["committed"], true, "{tx}");
    assert_eq!(tx["nonce"], 0);
    let account = ok(&[
        "query",
        "account",
        &guest_hex,
        "--node",
        &n1,
        "--genesis",
        s(&genesis),
        "--trust",
        s(&trust),
    ]);
    assert_eq!(account["verified"], true);
    assert_eq!(account["balance"], 500, "{account}");
    assert_eq!(account["nonce"], 0);
    assert!(account["height"].as_u64().unwrap() >= tx["height"].as_u64().unwrap());
    assert!(trust.exists(), "the verified header is kept");

    // Register the lamp with its pairing signature, grant the guest.
    let register = ok(&[
        "tx",
        "register-device",
        "--device-key",
        s(&key("lamp.key")),
        "--metadata",
        "lamp model L1",
        "--node",
        &n0,
        "--key",
        s(&owner_file),
    ]);
    assert_eq!(register["device"], lamp_hex.as_str());
    assert_eq!(register["nonce"], 1, "the nonce comes from the node");
    ok(&[
        "tx",
        "grant",
        "--device",
        &lamp_hex,
        "--grantee",
        &guest_hex,
        "--permissions",
        "switch,read",
        "--expiry-height",
        "1000",
        "--node",
        &n1,
        "--key",
        s(&owner_file),
    ]);
    // Read through another node, continuing from the trust file.
    let device = ok(&[
        "query",
        "device",
        &lamp_hex,
        "--node",
        &n2,
        "--trust",
        s(&trust),
    ]);
    assert_eq!(device["registered"], true, "{device}");
    assert_eq!(device["record"]["owner"], owner.as_str());
    assert_eq!(device["record"]["ownership_seq"], 0);
    let grant = ok(&[
        "query",
        "grant",
        &lamp_hex,
        &guest_hex,
        "--node",
        &n2,
        "--genesis",
        s(&genesis),
        "--trust",
        s(&trust),
    ]);
    assert_eq!(grant["granted"], true, "{grant}");
    assert_eq!(grant["grant"]["permissions"], 3);
    assert_eq!(grant["grant"]["expiry_height"], 1000);
    assert_eq!(grant["grant"]["granted_by"], owner.as_str());

    // Revoke: the grant is proven absent.
    ok(&[
        "tx",
        "revoke",
        "--device",
        &lamp_hex,
        "--grantee",
        &guest_hex,
        "--node",
        &n0,
        "--key",
        s(&owner_file),
    ]);
    let grant = ok(&[
        "query",
        "grant",
        &lamp_hex,
        &guest_hex,
        "--node",
        &n0,
        "--genesis",
        s(&genesis),
    ]);
    assert_eq!(grant["granted"], false, "{grant}");
    assert_eq!(grant["verified"], true);

    // Hand the lamp to the guest; the former owner can no longer grant.
    ok(&[
        "tx",
        "transfer-device",
        "--device",
        &lamp_hex,
        "--new-owner",
        &guest_hex,
        "--node",
        &n0,
        "--key",
        s(&owner_file),
    ]);
    let device = ok(&[
        "query",
        "device",
        &lamp_hex,
        "--node",
        &n0,
        "--trust",
        s(&trust),
    ]);
    assert_eq!(device["record"]["owner"], guest_hex.as_str(), "{device}");
    assert_eq!(device["record"]["ownership_seq"], 1);
    let refused = cli(&[
        "tx",
        "grant",
        "--device",
        &lamp_hex,
        "--grantee",
        &guest_hex,
        "--permissions",
        "switch",
        "--expiry-height",
        "1000",
        "--node",
        &n0,
        "--key",
        s(&owner_file),
        "--timeout-secs",
        "20",
    ]);
    assert_eq!(
        refused.code, 1,
        "a grant by a former owner: {}",
        refused.stderr
    );
    assert!(refused.json.is_none());

    // --no-wait returns once the node admitted it; the commit follows.
    let quick = ok(&[
        "tx",
        "transfer",
        "--to",
        &guest_hex,
        "--amount",
        "1",
        "--no-wait",
        "--node",
        &n1,
        "--key",
        s(&owner_file),
    ]);
    assert_eq!(quick["committed"], false, "{quick}");
    let hash =
        itc_core::hash::Hash(hex::decode_array::<32>(quick["hash"].as_str().unwrap()).unwrap());
    cluster
        .client(1)
        .wait_committed(&hash, Duration::from_secs(30))
        .unwrap();

    // Another chain's genesis (other validators): nothing is believed.
    let mut other: itc_core::genesis::Genesis =
        itc_core::genesis::Genesis::from_json(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    for (i, v) in other.validators.iter_mut().enumerate() {
        v.public_key = itc_core::keys::Keypair::from_seed([0x70 + i as u8; 32]).public();
    }
    let other_genesis = files.join("other-genesis.json");
    std::fs::write(&other_genesis, other.to_json()).unwrap();
    let run = cli(&[
        "query",
        "account",
        &guest_hex,
        "--node",
        &n0,
        "--genesis",
        s(&other_genesis),
    ]);
    assert_eq!(run.code, 3, "wrong genesis accepted: {}", run.stderr);
    assert!(run.json.is_none());
    assert!(
        run.stderr.contains("genesis validator set"),
        "{}",
        run.stderr
    );

    // A node that inflates a balance, proof value included: refused.
    let honest = ok(&[
        "query",
        "account",
        &owner,
        "--node",
        &n0,
        "--genesis",
        s(&genesis),
    ]);
    let proxy = Proxy::start(Client::new(&n0), inflate_balance);
    let run = cli(&[
        "query",
        "account",
        &owner,
        "--node",
        &proxy.url,
        "--genesis",
        s(&genesis),
    ]);
    assert_eq!(run.code, 3, "tampered proof accepted: {:?}", run.json);
    assert!(run.json.is_none());
    assert!(run.stderr.contains("state proof refused"), "{}", run.stderr);
    drop(proxy);

    // A node that forges the latest header: refused.
    let proxy = Proxy::start(Client::new(&n0), forge_latest_header);
    let run = cli(&[
        "query",
        "account",
        &owner,
        "--node",
        &proxy.url,
        "--genesis",
        s(&genesis),
    ]);
    assert_eq!(run.code, 3, "forged header accepted: {:?}", run.json);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
    drop(proxy);

    // The honest answer still verifies (the refusals were the proxies').
    let again = ok(&[
        "query",
        "account",
        &owner,
        "--node",
        &n0,
        "--genesis",
        s(&genesis),
    ]);
    assert_eq!(again["balance"], honest["balance"]);

    // A query with no root of trust is refused up front.
    let run = cli(&["query", "account", &owner, "--node", &n0]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--genesis"), "{}", run.stderr);

    for i in 0..4 {
        assert!(cluster.terminate(i), "node {i} did not stop cleanly");
    }
    eprintln!("cli test took {:?}", started.elapsed());
}
