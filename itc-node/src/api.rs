//! The HTTP client API (axum) for gateways, apps and light clients.
//!
//! Every answer is JSON; binary objects (transactions, proofs, header
//! updates) travel as lowercase hex of their canonical encoding, which is
//! what the bindings and `itc-spv` decode. Proofs are against the header of
//! the last committed block, which the answer names (`height`,
//! `header_hash`); a client checks them with `itc-spv` against a header it
//! trusts. Errors are `{"error": code, "message": text}` with a 4xx or 5xx
//! status, never a dropped connection. The routes are listed in
//! `itc-node/openapi.json`.

use crate::config::HttpSection;
use crate::consensus::{committed_height, Core, Refused};
use crate::node::NodeHandle;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use itc_core::encoding::{Decode, Encode};
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::PublicKey;
use itc_core::ledger::state_key;
use itc_core::types::Transaction;
use itc_dag::DagTransaction;
use itc_spv::proof::{StateEntryProof, TransactionProof};
use itc_spv::HeaderUpdate;
use serde_json::{json, Value};

/// The committed OpenAPI document the server implements.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// An API error: status, stable code and message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable detail.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Rejected(reason) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", reason)
            }
            Refused::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many requests waiting for the replica; retry",
            ),
            Refused::Stopping => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "stopping", "node stopping")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// Build the router.
pub fn router(handle: NodeHandle, config: &HttpSection) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/transactions", post(submit_transaction))
        .route("/v1/transactions/{hash}", get(transaction))
        .route("/v1/headers/latest", get(latest_header))
        .route("/v1/headers/{height}", get(header_at))
        .route("/v1/accounts/{key}", get(account))
        .route("/v1/devices/{key}", get(device))
        .route("/v1/grants/{device}/{grantee}", get(grant))
        .route("/v1/command-proof/{device}/{grantee}", get(command_proof))
        .route("/v1/dag/transactions", post(submit_dag))
        .route("/v1/dag/transactions/{id}", get(dag_transaction))
        .route("/v1/dag/work/{issuer}", get(dag_work))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(config.body_bytes_max))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            config.concurrency_max,
        ))
        .with_state(handle)
}

fn parse_key(text: &str, what: &str) -> Result<PublicKey, ApiError> {
    hex::decode_array::<32>(text)
        .map(PublicKey)
        .map_err(|_| ApiError::bad_request("bad_key", format!("{what}: expected 64 hex digits")))
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    hex::decode_array::<32>(text)
        .map(Hash)
        .map_err(|_| ApiError::bad_request("bad_hash", "expected 64 hex digits"))
}

/// The body as canonical bytes: raw for `application/octet-stream`, else
/// hex text (optionally `0x`-prefixed) or a JSON string / `{"tx": hex}`.
fn body_bytes(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<u8>, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_body"
        };
        ApiError::new(status, code, rejection.body_text())
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/octet-stream") {
        return Ok(body.to_vec());
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("bad_body", "body is neither binary nor hex text"))?;
    let text = if content_type.starts_with("application/json") {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("bad_json", e.to_string()))?;
        match value {
            Value::String(s) => s,
            Value::Object(map) => match map.get("tx") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(ApiError::bad_request(
                        "bad_json",
                        "expected {\"tx\": \"<hex>\"}",
                    ))
                }
            },
            _ => return Err(ApiError::bad_request("bad_json", "expected a hex string")),
        }
    } else {
        text.to_string()
    };
    let trimmed = text.trim();
    let trimmed = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    hex::decode(trimmed).map_err(|_| ApiError::bad_request("bad_hex", "body is not valid hex"))
}

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

async fn status(State(node): State<NodeHandle>) -> ApiResult {
    let snapshot = node
        .shared
        .status
        .read()
        .map(|s| s.clone())
        .map_err(|_| ApiError::internal("status lock"))?;
    let mut value =
        serde_json::to_value(snapshot).map_err(|e| ApiError::internal(e.to_string()))?;
    value["chain_id"] = json!(node.shared.chain_id);
    value["public_key"] = json!(hex::encode(&node.shared.me.0));
    value["peers"] = json!(node.shared.metrics.peers.get());
    let validators: Vec<String> = node
        .shared
        .validators
        .read()
        .map(|v| v.iter().map(|k| hex::encode(&k.0)).collect())
        .unwrap_or_default();
    value["validators"] = json!(validators);
    ok(value)
}

async fn submit_transaction(
    State(node): State<NodeHandle>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let bytes = body_bytes(&headers, body)?;
    let tx = Transaction::decode(&bytes)
        .map_err(|e| ApiError::bad_request("bad_transaction", e.to_string()))?;
    let hash = node.submit(tx).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"hash": hex::encode(&hash.0)})),
    )
        .into_response())
}

async fn transaction(State(node): State<NodeHandle>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash(&hash)?;
    let found = node
        .query(
            move |core: &mut Core| -> Result<Option<(u64, String)>, String> {
                let Some(height) =
                    committed_height(&core.storage, &hash).map_err(|e| e.to_string())?
                else {
                    return Ok(None);
                };
                let decision = load_decision(core, height)?;
                let hashes: Vec<Hash> = decision
                    .block
                    .transactions
                    .iter()
                    .map(|t| t.hash())
                    .collect();
                let Some(index) = hashes.iter().position(|h| *h == hash) else {
                    return Err("index names a block without the transaction".into());
                };
                let inclusion = itc_core::merkle::prove(&hashes, index)
                    .ok_or_else(|| "inclusion proof out of range".to_string())?;
                let proof = TransactionProof {
                    transaction: decision.block.transactions[index].clone(),
                    inclusion,
                };
                Ok(Some((height, hex::encode(&proof.encode()))))
            },
        )
        .await?
        .map_err(ApiError::internal)?;
    match found {
        Some((height, proof)) => ok(json!({
            "hash": hex::encode(&hash.0), "height": height, "proof": proof
        })),
        None => Err(ApiError::not_found("transaction not committed")),
    }
}

fn load_decision(core: &Core, height: u64) -> Result<itc_pbft::Decision, String> {
    if let Some(d) = core.replica.decision(height) {
        return Ok(d.clone());
    }
    itc_pbft::persist::load_decision_range(&core.storage, height, 1)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("block {height} is not stored here"))
}

fn header_update(core: &Core, height: u64) -> Result<Option<(itc_pbft::Decision, String)>, String> {
    if height == 0 || height > core.replica.executed_height() {
        return Ok(None);
    }
    let decision = match load_decision(core, height) {
        Ok(d) => d,
        Err(_) => return Ok(None),
    };
    let update = HeaderUpdate {
        header: decision.block.header.clone(),
        certificate: decision.certificate.clone(),
        validators: core.replica.validator_set_at(height).cloned(),
    };
    Ok(Some((decision, hex::encode(&update.encode()))))
}

async fn header_json(node: NodeHandle, height: Option<u64>) -> ApiResult {
    let found = node
        .query(move |core: &mut Core| {
            let height = height.unwrap_or(core.replica.executed_height());
            header_update(core, height)
        })
        .await?
        .map_err(ApiError::internal)?;
    match found {
        Some((decision, update)) => ok(json!({
            "height": decision.block.header.height,
            "hash": hex::encode(&decision.block.header.hash().0),
            "update": update,
        })),
        None => Err(ApiError::not_found("no committed header at that height")),
    }
}

async fn latest_header(State(node): State<NodeHandle>) -> ApiResult {
    header_json(node, None).await
}

async fn header_at(State(node): State<NodeHandle>, Path(height): Path<String>) -> ApiResult {
    let height: u64 = height
        .parse()
        .map_err(|_| ApiError::bad_request("bad_height", "height must be a decimal integer"))?;
    header_json(node, Some(height)).await
}

/// Proofs of `keys` against the last committed header.
async fn prove(
    node: &NodeHandle,
    keys: Vec<Hash>,
) -> Result<(u64, Hash, Vec<StateEntryProof>), ApiError> {
    node.query(move |core: &mut Core| {
        let height = core.replica.executed_height();
        let header_hash = core
            .replica
            .decision(height)
            .map(|d| d.block.header.hash())
            .unwrap_or(Hash::ZERO);
        let mut proofs = Vec::new();
        for key in &keys {
            let (value, proof) = core
                .replica
                .ledger()
                .prove_committed(key)
                .ok_or_else(|| "state not committed".to_string())?;
            proofs.push(StateEntryProof { value, proof });
        }
        Ok((height, header_hash, proofs))
    })
    .await?
    .map_err(|e: String| ApiError::internal(e))
}

async fn account(State(node): State<NodeHandle>, Path(key): Path<String>) -> ApiResult {
    let key = parse_key(&key, "account")?;
    let (height, header_hash, proofs) = prove(&node, vec![state_key::account(&key)]).await?;
    let entry = &proofs[0];
    let state = entry
        .value
        .as_deref()
        .map(itc_core::ledger::AccountState::decode)
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .unwrap_or_default();
    ok(json!({
        "account": hex::encode(&key.0),
        "balance": state.balance.0,
        "nonce": state.nonce,
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "proof": hex::encode(&entry.encode()),
    }))
}

async fn device(State(node): State<NodeHandle>, Path(key): Path<String>) -> ApiResult {
    let key = parse_key(&key, "device")?;
    let (height, header_hash, proofs) = prove(&node, vec![state_key::device(&key)]).await?;
    let entry = &proofs[0];
    let record = entry
        .value
        .as_deref()
        .map(itc_core::ledger::DeviceRecord::decode)
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    ok(json!({
        "device": hex::encode(&key.0),
        "record": record.map(|r| json!({
            "owner": hex::encode(&r.owner.0),
            "security_level": format!("{:?}", r.security_level),
            "metadata_hash": hex::encode(&r.metadata_hash.0),
            "ownership_seq": r.ownership_seq,
        })),
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "proof": hex::encode(&entry.encode()),
    }))
}

async fn grant(
    State(node): State<NodeHandle>,
    Path((device, grantee)): Path<(String, String)>,
) -> ApiResult {
    let device = parse_key(&device, "device")?;
    let grantee = parse_key(&grantee, "grantee")?;
    let (height, header_hash, proofs) =
        prove(&node, vec![state_key::grant(&device, &grantee)]).await?;
    let entry = &proofs[0];
    let grant = entry
        .value
        .as_deref()
        .map(itc_core::ledger::Grant::decode)
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    ok(json!({
        "device": hex::encode(&device.0),
        "grantee": hex::encode(&grantee.0),
        "grant": grant.map(|g| json!({
            "permissions": g.permissions.0,
            "expiry_height": g.expiry_height,
            "granted_by": hex::encode(&g.granted_by.0),
            "ownership_seq": g.ownership_seq,
        })),
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "proof": hex::encode(&entry.encode()),
    }))
}

async fn command_proof(
    State(node): State<NodeHandle>,
    Path((device, grantee)): Path<(String, String)>,
) -> ApiResult {
    let device = parse_key(&device, "device")?;
    let grantee = parse_key(&grantee, "grantee")?;
    let found = node
        .query(
            move |core: &mut Core| -> Result<Option<(u64, String, String)>, String> {
                let height = core.replica.executed_height();
                let Some((decision, update)) = header_update(core, height)? else {
                    return Ok(None);
                };
                let ledger = core.replica.ledger();
                let entry = |key: Hash| {
                    ledger
                        .prove_committed(&key)
                        .map(|(value, proof)| StateEntryProof { value, proof })
                        .ok_or_else(|| "state not committed".to_string())
                };
                let proof = itc_spv::command::CommandProof {
                    header_height: height,
                    header_hash: decision.block.header.hash(),
                    device: entry(state_key::device(&device))?,
                    grant: entry(state_key::grant(&device, &grantee))?,
                };
                Ok(Some((height, hex::encode(&proof.encode()), update)))
            },
        )
        .await?
        .map_err(ApiError::internal)?;
    match found {
        Some((height, proof, update)) => ok(json!({
            "height": height, "proof": proof, "header_update": update
        })),
        None => Err(ApiError::not_found("no committed block yet")),
    }
}

async fn submit_dag(
    State(node): State<NodeHandle>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let bytes = body_bytes(&headers, body)?;
    let tx = DagTransaction::decode(&bytes)
        .map_err(|e| ApiError::bad_request("bad_transaction", e.to_string()))?;
    let id = node.submit_dag(tx).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": hex::encode(&id.0)})),
    )
        .into_response())
}

async fn dag_transaction(State(node): State<NodeHandle>, Path(id): Path<String>) -> ApiResult {
    let id = parse_hash(&id)?;
    let (status, proof) = node
        .query(move |core: &mut Core| {
            let tangle = core.replica.anchoring();
            let status = tangle.status(&id);
            let proof = tangle.prove(&id).map(|p| hex::encode(&p.encode()));
            (status, proof)
        })
        .await?;
    let (name, height) = match status {
        itc_dag::TxStatus::Unknown => return Err(ApiError::not_found("unknown DAG transaction")),
        itc_dag::TxStatus::Pending => ("pending", None),
        itc_dag::TxStatus::Solid => ("solid", None),
        itc_dag::TxStatus::Confirmed { height } => ("confirmed", Some(height)),
        itc_dag::TxStatus::EntryPoint { height } => ("confirmed", Some(height)),
    };
    ok(json!({
        "id": hex::encode(&id.0), "status": name, "height": height, "finality_proof": proof
    }))
}

async fn dag_work(State(node): State<NodeHandle>, Path(issuer): Path<String>) -> ApiResult {
    let issuer = parse_key(&issuer, "issuer")?;
    let (tips, bits) = node
        .query(move |core: &mut Core| {
            let now = crate::consensus::wall_clock_ms();
            let (tangle, ledger) = core.replica.anchoring_with_ledger();
            let bits = tangle
                .required_bits(&issuer, now, ledger)
                .map_err(|e| e.to_string());
            let seed = u64::from_le_bytes(issuer.0[..8].try_into().unwrap_or([0; 8])) ^ now;
            (tangle.select_tips(now, seed), bits)
        })
        .await?;
    let bits = bits.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", e))?;
    ok(json!({
        "tips": tips.iter().map(|t| hex::encode(&t.0)).collect::<Vec<_>>(),
        "pow_bits": bits,
    }))
}

async fn metrics(State(node): State<NodeHandle>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        node.shared.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}
