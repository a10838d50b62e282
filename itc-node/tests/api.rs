//! The HTTP API of an in-process, one-validator node: it matches the
//! committed OpenAPI document, answers malformed input with a JSON 4xx and
//! keeps committing, survives random bodies, and returns proofs that
//! `itc-spv` verifies against the header it names.

use itc_core::encoding::{Decode, Encode};
use itc_core::firmware::{FirmwareManifest, ImageHasher};
use itc_core::hash::Hash;
use itc_core::keys::{Keypair, SigningDomain};
use itc_core::ledger::{state_key, AccountState};
use itc_core::seal::{SealSecretKey, Suite};
use itc_core::types::{
    pairing_message, Amount, ChainId, Payload, Permissions, SecurityLevel, Threshold, Transaction,
};
use itc_core::{hex, PublicKey};
use itc_dag::{DagPayload, DagTransaction};
use itc_node::api::ROUTES;
use itc_node::client::Client;
use itc_node::config::NodeConfig;
use itc_node::node::Node;
use itc_node::testnet::{init, TestnetOptions};
use itc_spv::firmware::{check_release, DeviceFirmware, UpdateOffer};
use itc_spv::{CommandProof, HeaderUpdate, StateEntryProof, TransactionProof, TrustedState};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const CHAIN: u32 = 9;
/// The node's `http.body_bytes_max` in these tests.
const BODY_MAX: usize = 16 * 1024;
const COMMIT_WAIT: Duration = Duration::from_secs(30);
/// Grant expiry used by the fixture.
const EXPIRY: u64 = 1_000;
/// The firmware product the tests publish.
const PRODUCT: u64 = 0x1A4B;

/// The committed document, parsed.
fn document() -> Value {
    serde_json::from_str(itc_node::api::OPENAPI_JSON).expect("openapi.json is JSON")
}

/// One answer: status, content type, body text.
struct Answer {
    status: u16,
    content_type: String,
    allow: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.status, self.text))
    }
}

/// A one-validator node running in this process, with its keys.
struct TestNode {
    runtime: Option<tokio::runtime::Runtime>,
    node: Option<Node>,
    dir: PathBuf,
    base: String,
    client: Client,
    agent: ureq::Agent,
    /// Funded accounts: 0 owns the lamp, 1 is the guest, 2 pays transfers.
    accounts: Vec<Keypair>,
    lamp: Keypair,
}

impl TestNode {
    fn start(name: &str) -> TestNode {
        let dir = std::env::temp_dir().join(format!(
            "itc-node-api-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let options = TestnetOptions {
            validators: 1,
            accounts: 3,
            chain_id: CHAIN,
            epoch_length: 1000,
            seed: Some(0x5a),
        };
        let testnet = init(&dir, &options).expect("testnet init");
        let mut config = NodeConfig::load(&testnet.configs[0]).expect("config");
        config.http.listen = "127.0.0.1:0".into();
        config.http.body_bytes_max = BODY_MAX;
        config.p2p.listen = "/ip4/127.0.0.1/tcp/0".into();
        config.node.ready_file = None;
        let accounts = testnet
            .accounts
            .iter()
            .map(|p| itc_node::keys::read_key_file(p).expect("account key"))
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let node = runtime
            .block_on(itc_node::node::start(config))
            .expect("node starts");
        let base = format!("http://{}", node.http_addr);
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        TestNode {
            runtime: Some(runtime),
            node: Some(node),
            dir,
            client: Client::new(&base),
            base,
            agent,
            accounts,
            lamp: Keypair::from_seed([0x1a; 32]),
        }
    }

    /// Any request; `None` body sends none. Panics if the connection fails
    /// (the API must always answer).
    fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Answer {
        self.try_call(method, path, content_type, body)
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"))
    }

    fn try_call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Answer, String> {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let response = match body {
            Some(body) => self
                .agent
                .run(builder.body(body.to_vec()).map_err(|e| e.to_string())?),
            None => self.agent.run(builder.body(()).map_err(|e| e.to_string())?),
        };
        let mut response = response.map_err(|e| e.to_string())?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header("content-type").unwrap_or_default();
        let allow = header("allow");
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Answer {
            status,
            content_type,
            allow,
            text,
        })
    }

    fn nonce(&self, account: usize) -> u64 {
        self.client
            .account(&self.accounts[account].public())
            .expect("account")
            .1
    }

    fn transaction(&self, from: usize, nonce: u64, payload: Payload) -> Transaction {
        Transaction::new_signed(
            &self.accounts[from],
            ChainId(CHAIN),
            nonce,
            Amount(1),
            payload,
        )
    }

    fn transfer(&self, nonce: u64) -> Transaction {
        self.transaction(
            2,
            nonce,
            Payload::Transfer {
                to: self.accounts[1].public(),
                amount: Amount(3),
            },
        )
    }

    /// Submit and wait until committed; returns (hash, height).
    fn commit(&self, tx: &Transaction) -> (Hash, u64) {
        let hash = self.client.submit(tx).expect("submit");
        let height = self
            .client
            .wait_committed(&hash, COMMIT_WAIT)
            .expect("committed");
        (hash, height)
    }

    /// Register the lamp (owned by account 0) and grant account 1; returns
    /// the grant's hash and height.
    fn register_and_grant(&self) -> (Hash, u64) {
        let level = SecurityLevel::new(1).expect("level");
        let pairing = self.lamp.sign(
            SigningDomain::DevicePairing,
            ChainId(CHAIN),
            &pairing_message(&self.accounts[0].public(), level),
        );
        let register = self.transaction(
            0,
            0,
            Payload::RegisterDevice {
                device: self.lamp.public(),
                security_level: level,
                metadata_hash: Hash([7; 32]),
                pairing_signature: pairing,
            },
        );
        let grant = self.transaction(
            0,
            1,
            Payload::GrantAccess {
                device: self.lamp.public(),
                grantee: self.accounts[1].public(),
                permissions: Permissions(Permissions::SWITCH.0 | Permissions::READ.0),
                expiry_height: EXPIRY,
            },
        );
        self.client.submit(&register).expect("register");
        self.commit(&grant)
    }

    /// Account 0 publishes its X-Wing sealing key; account 2 registers
    /// product [`PRODUCT`] and publishes release 2 of a 3,000-byte image.
    /// Returns the sealing key, the release key and the image.
    fn publish_seal_key_and_release(&self) -> (SealSecretKey, Keypair, Vec<u8>) {
        let seal_key = SealSecretKey::derive(&self.accounts[0].seed(), Suite::XWing, 0);
        let publish = self.transaction(
            0,
            self.nonce(0),
            Payload::PublishSealKey {
                subject: self.accounts[0].public(),
                suite: Suite::XWing,
                public_key: seal_key.public_key(),
                key_seq: 0,
                subject_signature: None,
            },
        );
        self.commit(&publish);
        let release_key = Keypair::from_seed([0x52; 32]);
        let image: Vec<u8> = (0..3_000u32).map(|i| (i % 251) as u8).collect();
        let manifest = FirmwareManifest {
            product: PRODUCT,
            version: 2,
            image_hash: ImageHasher::hash(&image),
            image_size: image.len() as u32,
            min_version: 1,
        };
        let nonce = self.nonce(2);
        let register = self.transaction(
            2,
            nonce,
            Payload::RegisterProduct {
                product: PRODUCT,
                release_key: release_key.public(),
            },
        );
        let release = self.transaction(
            2,
            nonce + 1,
            Payload::PublishRelease {
                manifest,
                signature: manifest.sign(&release_key, ChainId(CHAIN)),
            },
        );
        self.client.submit(&register).expect("register product");
        self.commit(&release);
        (seal_key, release_key, image)
    }

    /// A DAG data transaction by the lamp, with parents and proof of work
    /// from the node.
    fn dag_transaction(&self, sequence: u64) -> DagTransaction {
        let work = self
            .client
            .get(&format!(
                "/v1/dag/work/{}",
                hex::encode(&self.lamp.public().0)
            ))
            .expect("dag work");
        let tips: Vec<Hash> = work["tips"]
            .as_array()
            .expect("tips")
            .iter()
            .map(|t| Hash(hex::decode_array(t.as_str().expect("tip")).expect("tip hex")))
            .collect();
        let bits = work["pow_bits"].as_u64().expect("pow_bits") as u32;
        let mut tx = DagTransaction::new_signed(
            &self.lamp,
            ChainId(CHAIN),
            tips,
            sequence,
            DagPayload::Data {
                record: format!("reading {sequence}").into_bytes(),
            },
        );
        tx.solve_pow(bits, 1 << 26).expect("proof of work");
        tx
    }

    /// The header at `height`, decoded, after checking its certificate.
    fn header(&self, height: u64) -> HeaderUpdate {
        let answer = self
            .client
            .get(&format!("/v1/headers/{height}"))
            .expect("header");
        assert_eq!(answer["height"].as_u64(), Some(height));
        let update = HeaderUpdate::decode(&unhex(&answer["update"])).expect("header update");
        assert_eq!(
            hex::encode(&update.header.hash().0),
            answer["hash"].as_str().expect("hash")
        );
        let validators = update.validators.clone().expect("signing set included");
        update
            .certificate
            .verify(&validators, Threshold::TWO_THIRDS)
            .expect("certificate verifies");
        assert_eq!(update.certificate.block_hash, update.header.hash());
        update
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let (Some(runtime), Some(node)) = (self.runtime.take(), self.node.take()) {
            let _ = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(15), node.shutdown()).await
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unhex(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().expect("a hex string")).expect("valid hex")
}

fn key_hex(key: &PublicKey) -> String {
    hex::encode(&key.0)
}

/// Resolve a local `$ref` of the document.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            resolve(doc, doc.pointer(pointer).expect("$ref resolves"))
        }
        None => value,
    }
}

fn is_hex_of_bytes(s: &str) -> bool {
    s.len().is_multiple_of(2)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Check `value` against the subset of JSON Schema the document uses:
/// `$ref`, `oneOf`, `type` (one or a list), `enum`, `minimum`, `maximum`,
/// `required`, `properties`, `items` and the document's two hex patterns.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|s| check(doc, s, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!("{at}: {matching} oneOf alternatives match {value}"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in schema")),
        };
        let fits = |t: &str| match t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => false,
        };
        if !types.iter().any(|t| fits(t)) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            return Err(format!("{at}: {n} below minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            return Err(format!("{at}: {n} above maximum"));
        }
    }
    if let (Some(pattern), Some(s)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) {
        let fits = match pattern {
            "^[0-9a-f]{64}$" => s.len() == 64 && is_hex_of_bytes(s),
            "^([0-9a-f]{2})*$" => is_hex_of_bytes(s),
            other => return Err(format!("{at}: the checker does not know pattern {other}")),
        };
        if !fits {
            return Err(format!("{at}: {s:?} does not match {pattern}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("{at}: required field {name} missing in {value}"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if let Some(field) = object.get(name) {
                    check(doc, property, field, &format!("{at}.{name}"))?;
                }
            }
        }
    }
    if let (Some(items), Some(list)) = (schema.get("items"), value.as_array()) {
        for (i, item) in list.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The document's operation for a route, if it has one.
fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    doc["paths"].get(path)?.get(method.to_ascii_lowercase())
}

/// Check an answer against the operation's documented responses: the
/// status is listed, and a JSON answer fits the listed schema.
fn conforms(doc: &Value, method: &str, path: &str, answer: &Answer) -> Result<(), String> {
    let op = operation(doc, method, path).ok_or_else(|| format!("{method} {path} undocumented"))?;
    let response = op["responses"]
        .get(answer.status.to_string())
        .ok_or_else(|| format!("{method} {path}: status {} undocumented", answer.status))?;
    let response = resolve(doc, response);
    let content = response["content"]
        .as_object()
        .ok_or_else(|| format!("{method} {path}: response without content"))?;
    let essence = answer
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let media = content.get(essence).ok_or_else(|| {
        format!(
            "{method} {path} {}: content type {essence} undocumented",
            answer.status
        )
    })?;
    if essence == "application/json" {
        check(
            doc,
            &media["schema"],
            &answer.json(),
            &format!("{method} {path} {}", answer.status),
        )?;
    }
    Ok(())
}

fn error_schema(doc: &Value) -> &Value {
    &doc["components"]["schemas"]["Error"]
}

#[test]
fn server_matches_its_openapi_document() {
    let started = Instant::now();
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");

    // Every route the router serves is documented, and nothing else is.
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_ascii_lowercase(), p.to_string()))
        .collect();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| {
                    ["get", "post", "put", "delete", "patch", "head", "options"]
                        .contains(&k.as_str())
                })
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    assert_eq!(served, documented);

    let node = TestNode::start("openapi");
    // The document is what the node serves.
    let served_doc = node.call("GET", "/openapi.json", None, None);
    assert_eq!(served_doc.status, 200);
    assert_eq!(served_doc.json(), doc);

    let (grant_hash, grant_height) = node.register_and_grant();
    let (seal_key, release_key, image) = node.publish_seal_key_and_release();
    let dag = node.dag_transaction(0);
    let dag_id = node
        .client
        .post_bytes("/v1/dag/transactions", &dag.encode())
        .expect("dag submit");
    let dag_id = dag_id["id"].as_str().expect("id").to_string();
    assert_eq!(dag_id, hex::encode(&dag.id().0));

    // Call every documented operation with valid parameters.
    let mut dag_sequence = 1;
    for (method, path) in &documented {
        let mut concrete = path.clone();
        let key = if path.starts_with("/v1/devices/") {
            key_hex(&node.lamp.public())
        } else {
            key_hex(&node.accounts[0].public())
        };
        for (name, value) in [
            ("{hash}", hex::encode(&grant_hash.0)),
            ("{height}", grant_height.to_string()),
            ("{key}", key),
            ("{device}", key_hex(&node.lamp.public())),
            ("{grantee}", key_hex(&node.accounts[1].public())),
            ("{id}", dag_id.clone()),
            ("{issuer}", key_hex(&node.lamp.public())),
            ("{suite}", Suite::XWing.id().to_string()),
            ("{product}", PRODUCT.to_string()),
        ] {
            concrete = concrete.replace(name, &value);
        }
        assert!(
            !concrete.contains('{'),
            "no value for a parameter of {path}"
        );
        let answer = match (method.as_str(), path.as_str()) {
            ("get", _) => node.call("GET", &concrete, None, None),
            ("post", "/v1/transactions") => {
                let tx = node.transfer(node.nonce(2));
                node.call(
                    "POST",
                    &concrete,
                    Some("application/octet-stream"),
                    Some(&tx.encode()),
                )
            }
            ("post", "/v1/dag/transactions") => {
                let tx = node.dag_transaction(dag_sequence);
                dag_sequence += 1;
                let body = format!("{{\"tx\": \"{}\"}}", hex::encode(&tx.encode()));
                node.call(
                    "POST",
                    &concrete,
                    Some("application/json"),
                    Some(body.as_bytes()),
                )
            }
            other => panic!("no request for {other:?}"),
        };
        assert!(
            (200..300).contains(&answer.status),
            "{method} {concrete}: {} {}",
            answer.status,
            answer.text
        );
        conforms(&doc, method, path, &answer)
            .unwrap_or_else(|e| panic!("{e}\nanswer: {}", answer.text));
    }

    // The sealing key and the firmware offer verify with itc-spv against
    // the header they name, and the lamp would install the image.
    let answer = node
        .client
        .get(&format!(
            "/v1/seal-keys/{}/{}",
            key_hex(&node.accounts[0].public()),
            Suite::XWing.id()
        ))
        .unwrap();
    let header = node.header(answer["height"].as_u64().unwrap()).header;
    let entry = StateEntryProof::decode(&unhex(&answer["proof"])).unwrap();
    let record = entry
        .verify_seal_key(&header, &node.accounts[0].public(), Suite::XWing)
        .unwrap()
        .expect("published");
    assert_eq!(record.public_key, seal_key.public_key());
    assert_eq!(
        answer["record"]["public_key"],
        hex::encode(&record.public_key)
    );
    let answer = node.client.get(&format!("/v1/firmware/{PRODUCT}")).unwrap();
    assert_eq!(
        answer["record"]["release_key"],
        key_hex(&release_key.public())
    );
    assert_eq!(answer["release"]["version"], 2);
    assert_eq!(answer["release"]["revoked"], false);
    let header = node.header(answer["height"].as_u64().unwrap()).header;
    let offer = UpdateOffer::decode(&unhex(&answer["offer"])).unwrap();
    let device = DeviceFirmware {
        product: PRODUCT,
        version: 1,
        image_size_max: 1 << 20,
    };
    let mut check = check_release(&header, ChainId(CHAIN), &device, &offer).unwrap();
    for chunk in image.chunks(500) {
        check.update(chunk).unwrap();
    }
    assert_eq!(check.finish().unwrap().version, 2);
    let unknown = node.client.get("/v1/firmware/7").unwrap();
    assert!(unknown["record"].is_null() && unknown["release"].is_null());

    // Documented errors have the documented shape.
    let missing = node.call(
        "GET",
        &format!("/v1/transactions/{}", "00".repeat(32)),
        None,
        None,
    );
    assert_eq!(missing.status, 404);
    conforms(&doc, "GET", "/v1/transactions/{hash}", &missing).unwrap();
    eprintln!("openapi walk: {:?}", started.elapsed());
}

#[test]
fn malformed_input_gets_a_json_4xx_and_the_node_keeps_committing() {
    let started = Instant::now();
    let doc = document();
    let node = TestNode::start("malformed");
    let (committed, _) = node.commit(&node.transfer(0));
    let valid = node.transfer(1).encode();
    let mut bad_signature = node.transfer(1);
    bad_signature.signature = node.transfer(2).signature;
    let wrong_chain = Transaction::new_signed(
        &node.accounts[2],
        ChainId(CHAIN + 1),
        1,
        Amount(1),
        Payload::Transfer {
            to: node.accounts[1].public(),
            amount: Amount(3),
        },
    );
    let replayed = node.transfer(0).encode();
    let mut trailing = hex::encode(&valid);
    trailing.push_str("00");
    let key = key_hex(&node.accounts[0].public());
    let oversized = vec![0u8; BODY_MAX + 1];
    let oversized_hex = "ab".repeat(BODY_MAX / 2 + 1);
    let invalid_utf8 = [0xc3u8, 0x28, 0xa0, 0xa1];
    let octet = Some("application/octet-stream");
    let text = Some("text/plain");
    let json = Some("application/json");

    // (method, route template, concrete path, content type, body, status, code)
    type Case<'a> = (
        &'a str,
        &'a str,
        String,
        Option<&'a str>,
        Option<Vec<u8>>,
        u16,
        &'a str,
    );
    let tx_route = "/v1/transactions";
    let dag_route = "/v1/dag/transactions";
    let post = |route: &'static str,
                ct: Option<&'static str>,
                body: &[u8],
                status,
                code|
     -> Case<'static> {
        (
            "POST",
            route,
            route.to_string(),
            ct,
            Some(body.to_vec()),
            status,
            code,
        )
    };
    let get = |route: &'static str, path: String, status, code| -> Case<'static> {
        ("GET", route, path, None, None, status, code)
    };
    let cases: Vec<Case<'_>> = vec![
        post(tx_route, text, b"zz", 400, "bad_hex"),
        post(tx_route, text, b"abc", 400, "bad_hex"),
        post(tx_route, None, b"0xq0", 400, "bad_hex"),
        post(tx_route, json, b"{", 400, "bad_json"),
        post(tx_route, json, b"{\"tx\": 5}", 400, "bad_json"),
        post(tx_route, json, b"[1, 2]", 400, "bad_json"),
        post(tx_route, json, b"\"not hex\"", 400, "bad_hex"),
        post(
            tx_route,
            octet,
            &valid[..valid.len() / 2],
            400,
            "bad_transaction",
        ),
        post(tx_route, octet, &[0xff; 100], 400, "bad_transaction"),
        post(tx_route, octet, b"", 400, "bad_transaction"),
        post(tx_route, text, trailing.as_bytes(), 400, "bad_transaction"),
        post(tx_route, text, &invalid_utf8, 400, "bad_body"),
        post(
            tx_route,
            Some("image/png"),
            &valid,
            415,
            "unsupported_media_type",
        ),
        post(tx_route, octet, &oversized, 413, "too_large"),
        post(tx_route, text, oversized_hex.as_bytes(), 413, "too_large"),
        post(tx_route, octet, &bad_signature.encode(), 422, "rejected"),
        post(tx_route, octet, &wrong_chain.encode(), 422, "rejected"),
        post(tx_route, octet, &replayed, 422, "rejected"),
        post(dag_route, octet, &[1, 2, 3], 400, "bad_transaction"),
        post(dag_route, text, b"xyz!", 400, "bad_hex"),
        post(dag_route, octet, &oversized, 413, "too_large"),
        get(
            "/v1/accounts/{key}",
            "/v1/accounts/xyz".into(),
            400,
            "bad_key",
        ),
        get(
            "/v1/accounts/{key}",
            "/v1/accounts/00".into(),
            400,
            "bad_key",
        ),
        get(
            "/v1/accounts/{key}",
            "/v1/accounts/%ff%fe".into(),
            400,
            "bad_path",
        ),
        get(
            "/v1/devices/{key}",
            format!("/v1/devices/{}", &key[1..]),
            400,
            "bad_key",
        ),
        get(
            "/v1/grants/{device}/{grantee}",
            format!("/v1/grants/{key}/{}", "g".repeat(64)),
            400,
            "bad_key",
        ),
        get(
            "/v1/command-proof/{device}/{grantee}",
            format!("/v1/command-proof/nothex/{key}"),
            400,
            "bad_key",
        ),
        get(
            "/v1/transactions/{hash}",
            "/v1/transactions/nothex".into(),
            400,
            "bad_hash",
        ),
        get(
            "/v1/transactions/{hash}",
            format!("/v1/transactions/{}", "00".repeat(32)),
            404,
            "not_found",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/18446744073709551616".into(),
            400,
            "bad_height",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/99999999999999999999999999".into(),
            400,
            "bad_height",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/-1".into(),
            400,
            "bad_height",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/abc".into(),
            400,
            "bad_height",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/18446744073709551615".into(),
            404,
            "not_found",
        ),
        get(
            "/v1/headers/{height}",
            "/v1/headers/0".into(),
            404,
            "not_found",
        ),
        get(
            "/v1/dag/transactions/{id}",
            format!("/v1/dag/transactions/{}", "00".repeat(32)),
            404,
            "not_found",
        ),
        get(
            "/v1/dag/transactions/{id}",
            "/v1/dag/transactions/zz".into(),
            400,
            "bad_hash",
        ),
        get(
            "/v1/dag/work/{issuer}",
            "/v1/dag/work/zz".into(),
            400,
            "bad_key",
        ),
        get(
            "/v1/seal-keys/{key}/{suite}",
            format!("/v1/seal-keys/{key}/3"),
            400,
            "bad_suite",
        ),
        get(
            "/v1/seal-keys/{key}/{suite}",
            "/v1/seal-keys/zz/1".into(),
            400,
            "bad_key",
        ),
        get(
            "/v1/firmware/{product}",
            "/v1/firmware/-1".into(),
            400,
            "bad_product",
        ),
        get("", "/nowhere".into(), 404, "not_found"),
        get("", "/v1/accounts".into(), 404, "not_found"),
        get("", format!("/v1/accounts/{key}/extra"), 404, "not_found"),
        get(
            "/v1/transactions",
            "/v1/transactions".into(),
            405,
            "method_not_allowed",
        ),
        (
            "DELETE",
            "/v1/status",
            "/v1/status".into(),
            None,
            None,
            405,
            "method_not_allowed",
        ),
        (
            "PUT",
            "/v1/dag/transactions",
            "/v1/dag/transactions".into(),
            octet,
            Some(valid.clone()),
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/v1/accounts/{key}",
            format!("/v1/accounts/{key}"),
            text,
            Some(b"00".to_vec()),
            405,
            "method_not_allowed",
        ),
    ];
    for (method, route, path, content_type, body, status, code) in &cases {
        let answer = node.call(method, path, *content_type, body.as_deref());
        let what = format!("{method} {path} ({content_type:?})");
        assert_eq!(answer.status, *status, "{what}: {}", answer.text);
        assert!(
            answer.content_type.starts_with("application/json"),
            "{what}: {}",
            answer.content_type
        );
        let value = answer.json();
        check(&doc, error_schema(&doc), &value, &what).unwrap();
        assert_eq!(value["error"], *code, "{what}: {value}");
        if *status == 405 {
            assert!(answer.allow.is_some(), "{what}: 405 without Allow");
        } else if operation(&doc, method, route).is_some() {
            // The status is one the document lists for the operation.
            conforms(&doc, method, route, &answer).unwrap();
        }
    }

    // A client that announces an oversized body and waits for
    // `100 Continue` gets the 413 without uploading it.
    let answer = announce_body(&node, BODY_MAX as u64 * 640);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("\"too_large\""), "{answer}");

    // The node still admits and commits, and nothing was lost.
    let (_, height) = node.commit(&Transaction::decode(&valid).unwrap());
    assert!(height >= 1);
    assert!(node.client.committed_at(&committed).unwrap().is_some());
    assert_eq!(node.nonce(2), 2);
    eprintln!("{} malformed cases: {:?}", cases.len(), started.elapsed());
}

/// Send only the head of a POST that announces `length` bytes and
/// `Expect: 100-continue`; return what the node answers (bounded wait).
fn announce_body(node: &TestNode, length: u64) -> String {
    use std::io::{Read, Write};
    let address = node.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "POST /v1/transactions HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write head");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    // Read until the JSON body is complete, the node closes, or the deadline.
    while Instant::now() < deadline && !received.ends_with(b"}") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[test]
fn random_bodies_never_get_a_server_error_or_a_dropped_connection() {
    let started = Instant::now();
    let doc = document();
    let node = TestNode::start("fuzz");
    let base = node.transfer(0).encode();
    let dag_base = node.dag_transaction(0).encode();
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        // A valid encoding with one byte changed, or cut short: these get
        // past the first length checks of the decoders.
        (0..base.len(), any::<u8>()).prop_map({
            let base = base.clone();
            move |(i, b)| {
                let mut v = base.clone();
                v[i] ^= b | 1;
                v
            }
        }),
        (0..base.len()).prop_map({
            let base = base.clone();
            move |n| base[..n].to_vec()
        }),
        (0..dag_base.len(), any::<u8>()).prop_map({
            let dag_base = dag_base.clone();
            move |(i, b)| {
                let mut v = dag_base.clone();
                v[i] ^= b | 1;
                v
            }
        }),
    ];
    let content_type = prop_oneof![
        Just(None),
        Just(Some("application/octet-stream")),
        Just(Some("text/plain")),
        Just(Some("application/json")),
    ];
    let route = prop_oneof![Just("/v1/transactions"), Just("/v1/dag/transactions")];
    // Bodies as hex text too, so the text paths reach the decoders.
    let as_hex = any::<bool>();
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let statuses = std::cell::RefCell::new(BTreeSet::new());
    runner
        .run(
            &(route, content_type, body, as_hex),
            |(route, content_type, body, as_hex)| {
                let body = if as_hex && content_type != Some("application/octet-stream") {
                    hex::encode(&body).into_bytes()
                } else {
                    body
                };
                let answer = node
                    .try_call("POST", route, content_type, Some(&body))
                    .map_err(|e| TestCaseError::fail(format!("connection failed: {e}")))?;
                statuses.borrow_mut().insert(answer.status);
                prop_assert!(
                    answer.status < 500 || answer.status == 503,
                    "{} {}",
                    answer.status,
                    answer.text
                );
                if !(200..300).contains(&answer.status) {
                    let value: Value = serde_json::from_str(&answer.text)
                        .map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
                    check(&doc, error_schema(&doc), &value, route).map_err(TestCaseError::fail)?;
                }
                conforms(&doc, "POST", route, &answer).map_err(TestCaseError::fail)?;
                Ok(())
            },
        )
        .unwrap();
    // Still live: it commits.
    let (_, height) = node.commit(&node.transfer(node.nonce(2)));
    assert!(height >= 1);
    eprintln!(
        "random bodies: statuses {:?} in {:?}",
        statuses.borrow(),
        started.elapsed()
    );
}

#[test]
fn returned_proofs_verify_with_itc_spv_against_the_returned_header() {
    let started = Instant::now();
    let node = TestNode::start("proofs");
    let (grant_hash, grant_height) = node.register_and_grant();
    let lamp = node.lamp.public();
    let owner = node.accounts[0].public();
    let guest = node.accounts[1].public();

    // The lamp's command proof: registration and grant under the header
    // update it comes with, which a light client can trust.
    let answer = node
        .client
        .get(&format!(
            "/v1/command-proof/{}/{}",
            key_hex(&lamp),
            key_hex(&guest)
        ))
        .unwrap();
    let update = HeaderUpdate::decode(&unhex(&answer["header_update"])).unwrap();
    let proof = CommandProof::decode(&unhex(&answer["proof"])).unwrap();
    assert_eq!(answer["height"].as_u64(), Some(update.header.height));
    assert_eq!(proof.header_height, update.header.height);
    assert_eq!(proof.header_hash, update.header.hash());
    let validators = update.validators.clone().expect("signing set");
    update
        .certificate
        .verify(&validators, Threshold::TWO_THIRDS)
        .unwrap();
    let now = itc_node::consensus::wall_clock_ms();
    TrustedState::bootstrap(
        update.header.clone(),
        validators,
        &update.header.hash(),
        &Default::default(),
        now,
    )
    .expect("a light client can trust the header");
    let record = proof
        .device
        .verify_device(&update.header, &lamp)
        .unwrap()
        .expect("registered");
    assert_eq!(record.owner, owner);
    let grant = proof
        .grant
        .verify_grant(&update.header, &lamp, &guest)
        .unwrap()
        .expect("granted");
    assert_eq!(grant.expiry_height, EXPIRY);
    assert_eq!(grant.granted_by, owner);
    assert!(grant.permissions.contains(Permissions::SWITCH));
    // The proof is tied to its key: it does not prove another grantee.
    assert!(proof
        .grant
        .verify_grant(&update.header, &lamp, &node.accounts[2].public())
        .is_err());

    // An account with its state proof, against the header it names.
    let answer = node
        .client
        .get(&format!("/v1/accounts/{}", key_hex(&guest)))
        .unwrap();
    let height = answer["height"].as_u64().unwrap();
    let header = node.header(height).header;
    assert_eq!(answer["header_hash"], hex::encode(&header.hash().0));
    let entry = StateEntryProof::decode(&unhex(&answer["proof"])).unwrap();
    let value = entry
        .verify(&header, &state_key::account(&guest))
        .unwrap()
        .expect("funded account");
    let state = AccountState::decode(value).unwrap();
    assert_eq!(answer["balance"].as_u64(), Some(state.balance.0));
    assert_eq!(answer["nonce"].as_u64(), Some(state.nonce));
    assert_eq!(state.balance.0, itc_node::testnet::TESTNET_BALANCE);

    // A device that is not registered: the proof shows its absence.
    let stranger = Keypair::from_seed([0x77; 32]).public();
    let answer = node
        .client
        .get(&format!("/v1/devices/{}", key_hex(&stranger)))
        .unwrap();
    assert!(answer["record"].is_null());
    let header = node.header(answer["height"].as_u64().unwrap()).header;
    assert_eq!(answer["header_hash"], hex::encode(&header.hash().0));
    let entry = StateEntryProof::decode(&unhex(&answer["proof"])).unwrap();
    assert_eq!(entry.verify_device(&header, &stranger).unwrap(), None);
    // The absence proof does not hold for the registered lamp.
    assert!(entry.verify_device(&header, &lamp).is_err());

    // The registered lamp through /v1/devices, and an absent grant.
    let answer = node
        .client
        .get(&format!("/v1/devices/{}", key_hex(&lamp)))
        .unwrap();
    assert_eq!(answer["record"]["owner"], key_hex(&owner));
    assert_eq!(answer["record"]["security_level"], 1);
    let header = node.header(answer["height"].as_u64().unwrap()).header;
    let entry = StateEntryProof::decode(&unhex(&answer["proof"])).unwrap();
    assert_eq!(entry.verify_device(&header, &lamp).unwrap(), Some(record));
    let answer = node
        .client
        .get(&format!(
            "/v1/grants/{}/{}",
            key_hex(&lamp),
            key_hex(&node.accounts[2].public())
        ))
        .unwrap();
    assert!(answer["grant"].is_null());
    let header = node.header(answer["height"].as_u64().unwrap()).header;
    let entry = StateEntryProof::decode(&unhex(&answer["proof"])).unwrap();
    assert_eq!(
        entry
            .verify_grant(&header, &lamp, &node.accounts[2].public())
            .unwrap(),
        None
    );

    // The grant transaction's inclusion proof, against its block's header.
    let answer = node
        .client
        .get(&format!("/v1/transactions/{}", hex::encode(&grant_hash.0)))
        .unwrap();
    assert_eq!(answer["height"].as_u64(), Some(grant_height));
    let header = node.header(grant_height).header;
    let proof = TransactionProof::decode(&unhex(&answer["proof"])).unwrap();
    assert_eq!(proof.transaction.hash(), grant_hash);
    proof.verify(&header).unwrap();
    // Not against another block's header.
    if grant_height > 1 {
        assert!(proof.verify(&node.header(grant_height - 1).header).is_err());
    }

    // The latest header is a valid update too, and /v1/validators names its
    // signing set.
    let latest = node.client.get("/v1/headers/latest").unwrap();
    let latest = node.header(latest["height"].as_u64().unwrap());
    let set = node.client.get("/v1/validators").unwrap();
    let encoded = itc_core::types::ValidatorSet::decode(&unhex(&set["encoded"])).unwrap();
    assert_eq!(encoded.hash(), latest.header.validator_set_hash);
    assert_eq!(set["set_hash"], hex::encode(&encoded.hash().0));
    eprintln!("proofs: {:?}", started.elapsed());
}
