//! A blocking HTTP client for a node's API (used by the CLI, the lamp
//! gateway example, tests and benchmarks).
//!
//! ```no_run
//! let client = itc_node::client::Client::new("http://127.0.0.1:8080");
//! let status = client.status().unwrap();
//! println!("height {}", status["height"]);
//! ```

use itc_core::encoding::Encode;
use itc_core::hash::Hash;
use itc_core::hex;
use itc_core::keys::PublicKey;
use itc_core::types::Transaction;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with an error status.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The node could not be reached or answered nonsense.
    #[error("transport: {0}")]
    Transport(String),
    /// A wait ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// A client of one node.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the node at `base` (`http://host:port`, no trailing
    /// slash needed).
    pub fn new(base: &str) -> Self {
        let base = if base.starts_with("http") {
            base.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", base.trim_end_matches('/'))
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client { base, agent }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut response = response.map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        if (200..300).contains(&status) {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| ClientError::Transport(e.to_string()));
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Err(ClientError::Api {
            status,
            code: body["error"].as_str().unwrap_or("").to_string(),
            message: body["message"].as_str().unwrap_or(&text).to_string(),
        })
    }

    /// GET `path` (e.g. `/v1/status`) as JSON.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.answer(self.agent.get(format!("{}{path}", self.base)).call())
    }

    /// POST raw bytes to `path`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn post_bytes(&self, path: &str, bytes: &[u8]) -> Result<Value, ClientError> {
        self.answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/octet-stream")
                .send(bytes),
        )
    }

    /// POST text with a content type to `path`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn post_text(
        &self,
        path: &str,
        content_type: &str,
        text: &str,
    ) -> Result<Value, ClientError> {
        self.answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .send(text),
        )
    }

    /// `GET /v1/status`.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn status(&self) -> Result<Value, ClientError> {
        self.get("/v1/status")
    }

    /// The last committed height.
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn height(&self) -> Result<u64, ClientError> {
        self.status()?["height"]
            .as_u64()
            .ok_or_else(|| ClientError::Transport("status without height".into()))
    }

    /// Submit a transaction; returns its hash once the node admitted it.
    ///
    /// # Errors
    /// [`ClientError::Api`] with the node's reason.
    pub fn submit(&self, tx: &Transaction) -> Result<Hash, ClientError> {
        let answer = self.post_bytes("/v1/transactions", &tx.encode())?;
        let hash = answer["hash"].as_str().unwrap_or("");
        hex::decode_array::<32>(hash)
            .map(Hash)
            .map_err(|_| ClientError::Transport("answer without hash".into()))
    }

    /// The account's balance and next nonce (unverified; see the CLI for
    /// the verified read).
    ///
    /// # Errors
    /// [`ClientError`].
    pub fn account(&self, key: &PublicKey) -> Result<(u64, u64), ClientError> {
        let answer = self.get(&format!("/v1/accounts/{}", hex::encode(&key.0)))?;
        Ok((
            answer["balance"].as_u64().unwrap_or(0),
            answer["nonce"].as_u64().unwrap_or(0),
        ))
    }

    /// The height at which `hash` was committed, if it was.
    ///
    /// # Errors
    /// [`ClientError`] other than "not found".
    pub fn committed_at(&self, hash: &Hash) -> Result<Option<u64>, ClientError> {
        match self.get(&format!("/v1/transactions/{}", hex::encode(&hash.0))) {
            Ok(answer) => Ok(answer["height"].as_u64()),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Wait until `hash` is committed; returns its height.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] after `timeout`.
    pub fn wait_committed(&self, hash: &Hash, timeout: Duration) -> Result<u64, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.committed_at(hash) {
                Ok(Some(height)) => return Ok(height),
                Ok(None) | Err(ClientError::Transport(_)) => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "transaction {} not committed",
                    hex::encode(&hash.0)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the node reaches `height`.
    ///
    /// # Errors
    /// [`ClientError::Timeout`] after `timeout`.
    pub fn wait_height(&self, height: u64, timeout: Duration) -> Result<u64, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(h) = self.height() {
                if h >= height {
                    return Ok(h);
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!("height {height} not reached")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
