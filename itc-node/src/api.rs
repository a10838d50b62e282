//! The HTTP client API (axum) for gateways, apps and light clients.
//!
//! Every answer is JSON (except `/metrics`, which is OpenMetrics text);
//! binary objects (transactions, proofs, header updates, validator sets)
//! travel as lowercase hex of their canonical encoding, which is what the
//! bindings and `itc-spv` decode. Proofs are against the header of the last
//! committed block, which the answer names (`height`, `header_hash`); a
//! client checks them with `itc-spv` against a header it trusts (fetch it
//! with `GET /v1/headers/{height}`).
//!
//! Errors are `{"error": code, "message": text}` ([`ApiError`]) with a 4xx
//! or 5xx status, never a dropped connection: unknown routes (404), wrong
//! methods (405, with an `Allow` header), path parameters that do not parse
//! (400), bodies over [`crate::config::HttpSection::body_bytes_max`] (413),
//! content types the API does not read (415), transactions the replica
//! refuses (422), and a replica that is busy, stopping or slow (503).
//!
//! The routes are [`ROUTES`]; the router is built from that list, and
//! `itc-node/openapi.json` ([`OPENAPI_JSON`], served at `/openapi.json`)
//! documents each of them. `tests/api.rs` checks that the two agree.
//!
//! Transaction bodies (`POST /v1/transactions`, `POST /v1/dag/transactions`)
//! are the canonical encoding, sent as one of:
//! - `application/octet-stream`: the raw bytes;
//! - `text/plain`, `application/x-www-form-urlencoded` (what `curl -d`
//!   sends) or no content type: hex text, optionally `0x`-prefixed, with
//!   surrounding whitespace ignored;
//! - `application/json`: a JSON string of hex, or `{"tx": "<hex>"}`.

use crate::config::HttpSection;
use crate::consensus::{committed_height, Core, Refused};
use crate::node::NodeHandle;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use itc_core::encoding::{Decode, Encode};
use itc_core::firmware::{ProductRecord, ReleaseRecord};
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::PublicKey;
use itc_core::ledger::state_key;
use itc_core::seal::{SealKeyRecord, Suite};
use itc_core::types::Transaction;
use itc_dag::DagTransaction;
use itc_spv::firmware::UpdateOffer;
use itc_spv::proof::{StateEntryProof, TransactionProof};
use itc_spv::HeaderUpdate;
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// The committed OpenAPI document the server implements.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Every route the API serves, as `(method, path)` with axum's (and
/// OpenAPI's) `{parameter}` syntax. The router is built from this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/status"),
    ("GET", "/v1/validators"),
    ("POST", "/v1/transactions"),
    ("GET", "/v1/transactions/{hash}"),
    ("GET", "/v1/headers/latest"),
    ("GET", "/v1/headers/{height}"),
    ("GET", "/v1/accounts/{key}"),
    ("GET", "/v1/devices/{key}"),
    ("GET", "/v1/grants/{device}/{grantee}"),
    ("GET", "/v1/command-proof/{device}/{grantee}"),
    ("POST", "/v1/dag/transactions"),
    ("GET", "/v1/dag/transactions/{id}"),
    ("GET", "/v1/dag/work/{issuer}"),
    ("GET", "/v1/seal-keys/{key}/{suite}"),
    ("GET", "/v1/firmware/{product}"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// How long a request waits for the replica thread (a query, or the
/// admission of a submitted transaction) before it answers 503 `timeout`.
pub const REPLICA_WAIT: Duration = Duration::from_secs(10);

/// An API error: status, stable code and message. Its JSON body is
/// `{"error": code, "message": message}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`bad_hex`, `not_found`, `busy`, ...;
    /// the list is the `Error` schema of `openapi.json`).
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

/// The handler of one entry of [`ROUTES`].
fn endpoint(method: &str, path: &str) -> Option<MethodRouter<NodeHandle>> {
    Some(match (method, path) {
        ("GET", "/v1/status") => get(status),
        ("GET", "/v1/validators") => get(validators),
        ("POST", "/v1/transactions") => post(submit_transaction),
        ("GET", "/v1/transactions/{hash}") => get(transaction),
        ("GET", "/v1/headers/latest") => get(latest_header),
        ("GET", "/v1/headers/{height}") => get(header_at),
        ("GET", "/v1/accounts/{key}") => get(account),
        ("GET", "/v1/devices/{key}") => get(device),
        ("GET", "/v1/grants/{device}/{grantee}") => get(grant),
        ("GET", "/v1/command-proof/{device}/{grantee}") => get(command_proof),
        ("POST", "/v1/dag/transactions") => post(submit_dag),
        ("GET", "/v1/dag/transactions/{id}") => get(dag_transaction),
        ("GET", "/v1/dag/work/{issuer}") => get(dag_work),
        ("GET", "/v1/seal-keys/{key}/{suite}") => get(seal_key),
        ("GET", "/v1/firmware/{product}") => get(firmware),
        ("GET", "/metrics") => get(metrics),
        ("GET", "/openapi.json") => get(openapi),
        _ => return None,
    })
}

/// Build the router: every entry of [`ROUTES`], a JSON 404 for unknown
/// paths, a JSON 405 for known paths with another method, the body limit
/// and the concurrency limit of `config`.
pub fn router(handle: NodeHandle, config: &HttpSection) -> Router {
    let mut router = Router::new();
    for (method, path) in ROUTES {
        match endpoint(method, path) {
            Some(endpoint) => router = router.route(path, endpoint),
            // Unreachable: a unit test checks that every route has one.
            None => tracing::error!(method, path, "route without a handler"),
        }
    }
    router
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route (see the Allow header)",
            )
        })
        .layer(DefaultBodyLimit::max(config.body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(
            config.body_bytes_max,
            refuse_announced_oversize,
        ))
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            config.concurrency_max,
        ))
        .with_state(handle)
}

/// Answer 413 at once when the `Content-Length` a client announces is over
/// the limit, before the body is read: a client that sent
/// `Expect: 100-continue` (curl does for large bodies) gets the answer
/// without uploading anything. Bodies without a length (chunked) are cut
/// at the limit by [`DefaultBodyLimit`] while they are read.
async fn refuse_announced_oversize(
    State(max): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match announced {
        Some(length) if length > max as u64 => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a body of {length} bytes is over the limit of {max}"),
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

/// Run `work` (which waits for the replica), giving up after
/// [`REPLICA_WAIT`].
async fn within<R>(work: impl Future<Output = Result<R, Refused>>) -> Result<R, ApiError> {
    match tokio::time::timeout(REPLICA_WAIT, work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the replica did not answer in time; retry",
        )),
    }
}

/// Run `f` on the replica thread (bounded by [`REPLICA_WAIT`]).
async fn on_replica<R: Send + 'static>(
    node: &NodeHandle,
    f: impl FnOnce(&mut Core) -> R + Send + 'static,
) -> Result<R, ApiError> {
    within(node.query(f)).await
}

fn path_param<T>(path: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    path.map(|Path(value)| value)
        .map_err(|rejection| ApiError::bad_request("bad_path", rejection.body_text()))
}

fn parse_key(text: &str, what: &str) -> Result<PublicKey, ApiError> {
    hex::decode_array::<32>(text)
        .map(PublicKey)
        .map_err(|_| ApiError::bad_request("bad_key", format!("{what}: expected 64 hex digits")))
}

fn parse_hash(text: &str, what: &str) -> Result<Hash, ApiError> {
    hex::decode_array::<32>(text)
        .map(Hash)
        .map_err(|_| ApiError::bad_request("bad_hash", format!("{what}: expected 64 hex digits")))
}

/// How a request body is to be read.
enum BodyKind {
    Binary,
    HexText,
    Json,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(BodyKind::HexText);
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match essence.as_str() {
        "application/octet-stream" => Ok(BodyKind::Binary),
        "application/json" => Ok(BodyKind::Json),
        "" | "text/plain" | "application/x-www-form-urlencoded" => Ok(BodyKind::HexText),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/octet-stream, hex as text/plain, or application/json",
        )),
    }
}

/// The body as canonical bytes (see the module documentation).
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
    let kind = body_kind(headers)?;
    if let BodyKind::Binary = kind {
        return Ok(body.to_vec());
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("bad_body", "a text body must be UTF-8 hex"))?;
    let owned;
    let text = if let BodyKind::Json = kind {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("bad_json", e.to_string()))?;
        owned = match value {
            Value::String(s) => s,
            Value::Object(mut map) => match map.remove("tx") {
                Some(Value::String(s)) => s,
                _ => {
                    return Err(ApiError::bad_request(
                        "bad_json",
                        "expected {\"tx\": \"<hex>\"}",
                    ))
                }
            },
            _ => return Err(ApiError::bad_request("bad_json", "expected a hex string")),
        };
        owned.as_str()
    } else {
        text
    };
    let trimmed = text.trim();
    let trimmed = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    hex::decode(trimmed).map_err(|e| ApiError::bad_request("bad_hex", format!("body: {e}")))
}

fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

fn accepted(value: Value) -> ApiResult {
    Ok((StatusCode::ACCEPTED, Json(value)).into_response())
}

async fn status(State(node): State<NodeHandle>) -> ApiResult {
    let snapshot = node
        .shared
        .status
        .read()
        .map(|s| s.clone())
        .map_err(|_| ApiError::internal("status lock poisoned"))?;
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

async fn validators(State(node): State<NodeHandle>) -> ApiResult {
    let (height, set) = on_replica(&node, |core: &mut Core| {
        (
            core.replica.executed_height(),
            core.replica.validators().clone(),
        )
    })
    .await?;
    let list: Vec<Value> = set
        .validators()
        .iter()
        .map(|v| json!({"public_key": hex::encode(&v.key.0), "weight": v.weight}))
        .collect();
    ok(json!({
        "height": height,
        "set_hash": hex::encode(&set.hash().0),
        "total_weight": set.total_weight(),
        "validators": list,
        "encoded": hex::encode(&set.encode()),
    }))
}

async fn submit_transaction(
    State(node): State<NodeHandle>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let bytes = body_bytes(&headers, body)?;
    let tx = Transaction::decode(&bytes)
        .map_err(|e| ApiError::bad_request("bad_transaction", e.to_string()))?;
    let hash = within(node.submit(tx)).await?;
    accepted(json!({"hash": hex::encode(&hash.0)}))
}

async fn transaction(
    State(node): State<NodeHandle>,
    hash: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let hash = parse_hash(&path_param(hash)?, "transaction hash")?;
    let found = on_replica(
        &node,
        move |core: &mut Core| -> Result<Option<(u64, String)>, String> {
            let Some(height) = committed_height(&core.storage, &hash).map_err(|e| e.to_string())?
            else {
                return Ok(None);
            };
            let Some(decision) = load_decision(core, height)? else {
                // Below a state-transfer snapshot: the block is not here.
                return Ok(None);
            };
            let hashes: Vec<Hash> = decision
                .block
                .transactions
                .iter()
                .map(|t| t.hash())
                .collect();
            let Some(index) = hashes.iter().position(|h| *h == hash) else {
                return Err("the index names a block without the transaction".into());
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

/// The committed block at `height` and its certificate, from memory or
/// storage; `None` if this node does not hold it.
fn load_decision(core: &Core, height: u64) -> Result<Option<itc_pbft::Decision>, String> {
    if let Some(d) = core.replica.decision(height) {
        return Ok(Some(d.clone()));
    }
    Ok(
        itc_pbft::persist::load_decision_range(&core.storage, height, 1)
            .map_err(|e| e.to_string())?
            .into_iter()
            .next(),
    )
}

/// The light-client update for the block at `height` (hex), with its
/// decision; `None` if there is no such committed block here.
fn header_update(core: &Core, height: u64) -> Result<Option<(itc_pbft::Decision, String)>, String> {
    if height == 0 || height > core.replica.executed_height() {
        return Ok(None);
    }
    let Some(decision) = load_decision(core, height)? else {
        return Ok(None);
    };
    let update = HeaderUpdate {
        header: decision.block.header.clone(),
        certificate: decision.certificate.clone(),
        validators: core.replica.validator_set_at(height).cloned(),
    };
    Ok(Some((decision, hex::encode(&update.encode()))))
}

async fn header_json(node: NodeHandle, height: Option<u64>) -> ApiResult {
    let found = on_replica(&node, move |core: &mut Core| {
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

async fn header_at(
    State(node): State<NodeHandle>,
    height: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let height: u64 = path_param(height)?.parse().map_err(|_| {
        ApiError::bad_request("bad_height", "height must be a decimal integer below 2^64")
    })?;
    header_json(node, Some(height)).await
}

/// Proofs of `keys` against the last committed header: its height, its
/// hash ([`Hash::ZERO`] before the first block) and one proof per key.
async fn prove(
    node: &NodeHandle,
    keys: Vec<Hash>,
) -> Result<(u64, Hash, Vec<StateEntryProof>), ApiError> {
    on_replica(node, move |core: &mut Core| {
        let height = core.replica.executed_height();
        let header_hash = if height == 0 {
            Hash::ZERO
        } else {
            load_decision(core, height)?
                .map(|d| d.block.header.hash())
                .ok_or_else(|| format!("block {height} is not stored here"))?
        };
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

/// The single proof of a one-key [`prove`].
fn single(proofs: Vec<StateEntryProof>) -> Result<StateEntryProof, ApiError> {
    proofs
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("no proof"))
}

async fn account(
    State(node): State<NodeHandle>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let key = parse_key(&path_param(key)?, "account")?;
    let (height, header_hash, proofs) = prove(&node, vec![state_key::account(&key)]).await?;
    let entry = single(proofs)?;
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

async fn device(
    State(node): State<NodeHandle>,
    key: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let key = parse_key(&path_param(key)?, "device")?;
    let (height, header_hash, proofs) = prove(&node, vec![state_key::device(&key)]).await?;
    let entry = single(proofs)?;
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
            "security_level": r.security_level.get(),
            "metadata_hash": hex::encode(&r.metadata_hash.0),
            "ownership_seq": r.ownership_seq,
        })),
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "proof": hex::encode(&entry.encode()),
    }))
}

/// The sealing key an account or device published for a suite (1 X25519,
/// 2 X-Wing), with its state proof: what a sender seals to.
async fn seal_key(
    State(node): State<NodeHandle>,
    params: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (key, suite) = path_param(params)?;
    let key = parse_key(&key, "key")?;
    let suite = suite
        .parse::<u8>()
        .ok()
        .and_then(Suite::from_id)
        .ok_or_else(|| ApiError::bad_request("bad_suite", "suite: 1 (X25519) or 2 (X-Wing)"))?;
    let (height, header_hash, proofs) =
        prove(&node, vec![state_key::seal_key(&key, suite)]).await?;
    let entry = single(proofs)?;
    let record = entry
        .value
        .as_deref()
        .map(SealKeyRecord::decode)
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    ok(json!({
        "key": hex::encode(&key.0),
        "suite": suite.id(),
        "record": record.map(|r| json!({
            "public_key": hex::encode(&r.public_key),
            "key_seq": r.key_seq,
            "published_height": r.published_height,
        })),
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "proof": hex::encode(&entry.encode()),
    }))
}

/// A firmware product's record and current release with their state
/// proofs, and the `itc_spv::firmware::UpdateOffer` a device checks.
async fn firmware(
    State(node): State<NodeHandle>,
    product: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let product: u64 = path_param(product)?.parse().map_err(|_| {
        ApiError::bad_request(
            "bad_product",
            "product must be a decimal integer below 2^64",
        )
    })?;
    let (height, header_hash, proofs) = prove(
        &node,
        vec![state_key::product(product), state_key::release(product)],
    )
    .await?;
    let mut proofs = proofs.into_iter();
    let (Some(product_entry), Some(release_entry)) = (proofs.next(), proofs.next()) else {
        return Err(ApiError::internal("missing proof"));
    };
    let decode_err = |e: itc_core::DecodeError| ApiError::internal(e.to_string());
    let product_record = product_entry
        .value
        .as_deref()
        .map(ProductRecord::decode)
        .transpose()
        .map_err(decode_err)?;
    let release = release_entry
        .value
        .as_deref()
        .map(ReleaseRecord::decode)
        .transpose()
        .map_err(decode_err)?;
    let offer = UpdateOffer {
        product: product_entry,
        release: release_entry,
    };
    ok(json!({
        "product": product,
        "record": product_record.map(|r| json!({
            "manufacturer": hex::encode(&r.manufacturer.0),
            "release_key": hex::encode(&r.release_key.0),
            "key_seq": r.key_seq,
        })),
        "release": release.map(|r| json!({
            "version": r.manifest.version,
            "image_hash": hex::encode(&r.manifest.image_hash.0),
            "image_size": r.manifest.image_size,
            "min_version": r.manifest.min_version,
            "signature": hex::encode(&r.signature.0),
            "revoked": r.revoked,
            "published_height": r.published_height,
        })),
        "height": height,
        "header_hash": hex::encode(&header_hash.0),
        "offer": hex::encode(&offer.encode()),
    }))
}

async fn grant(
    State(node): State<NodeHandle>,
    keys: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (device, grantee) = path_param(keys)?;
    let device = parse_key(&device, "device")?;
    let grantee = parse_key(&grantee, "grantee")?;
    let (height, header_hash, proofs) =
        prove(&node, vec![state_key::grant(&device, &grantee)]).await?;
    let entry = single(proofs)?;
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
    keys: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (device, grantee) = path_param(keys)?;
    let device = parse_key(&device, "device")?;
    let grantee = parse_key(&grantee, "grantee")?;
    let found = on_replica(
        &node,
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
    let id = within(node.submit_dag(tx)).await?;
    accepted(json!({"id": hex::encode(&id.0)}))
}

async fn dag_transaction(
    State(node): State<NodeHandle>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let id = parse_hash(&path_param(id)?, "DAG transaction id")?;
    let (status, proof) = on_replica(&node, move |core: &mut Core| {
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

async fn dag_work(
    State(node): State<NodeHandle>,
    issuer: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let issuer = parse_key(&path_param(issuer)?, "issuer")?;
    let (tips, bits) = on_replica(&node, move |core: &mut Core| {
        let now = crate::consensus::wall_clock_ms();
        let (tangle, ledger) = core.replica.anchoring_with_ledger();
        let bits = tangle
            .required_bits(&issuer, now, ledger)
            .map_err(|e| e.to_string());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&issuer.0[..8]);
        (
            tangle.select_tips(now, u64::from_le_bytes(seed) ^ now),
            bits,
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_a_handler_and_is_listed_once() {
        for (method, path) in ROUTES {
            assert!(endpoint(method, path).is_some(), "{method} {path}");
        }
        let mut seen: Vec<_> = ROUTES.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), ROUTES.len(), "a route is listed twice");
    }

    #[test]
    fn content_types_choose_how_the_body_is_read() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            body_bytes(&headers, Ok(Bytes::from_static(b"\"0x0aFF\"")))
        };
        assert_eq!(with("application/json; charset=utf-8").unwrap(), [10, 255]);
        assert_eq!(
            with("application/octet-stream").unwrap(),
            b"\"0x0aFF\"".to_vec()
        );
        assert_eq!(with("text/plain").unwrap_err().code, "bad_hex");
        assert_eq!(
            with("image/png").unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let plain = body_bytes(&HeaderMap::new(), Ok(Bytes::from_static(b" 0x0aff\n")));
        assert_eq!(plain.unwrap(), [10, 255]);
    }
}
