//! Azure OpenAI chat completions, as the advisor uses them: structured outputs with a strict JSON schema, optional
//! tools (our own analytics queries), a tight token cap, and one time budget for the whole answer.
//!
//! # Protocol (see `reference/platform-apis.md`, B4)
//! - **Path.** The v1 path `POST {endpoint}/openai/v1/chat/completions` with the deployment as `model` (no
//!   `api-version`); or, with `AZURE_OPENAI_API_VERSION` set, the classic
//!   `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`.
//! - **Auth.** `api-key: <key>`, or `Authorization: Bearer <token>` from the managed identity for
//!   `https://cognitiveservices.azure.com/.default` (the identity credential caches tokens).
//! - **Tokens.** `max_completion_tokens` (the successor of the deprecated `max_tokens`, which reasoning models refuse):
//!   quota is reserved from it as the request arrives, so it is kept tight.
//! - **429.** Retried after `retry-after-ms`, else `retry-after` (seconds or an HTTP date), as openai-python reads
//!   them; without either, or with a wait over a minute, exponential backoff from 0.5 s with jitter. 408, 409 and
//!   5xx, and dropped connections, are retried the same way. Never past the budget: a wait that would end after it
//!   stops retrying at once.
//! - **Content filter.** A filtered prompt is HTTP 400 with `error.code = "content_filter"`, not retried; a filtered
//!   completion is HTTP 200 with `finish_reason: "content_filter"`. Both are errors here: the caller falls back.
//! - **Tools.** Strict function schemas, `parallel_tool_calls: false` (strict schemas hold only for one call at a time).
//! - Responses are parsed leniently (unknown fields ignored): the service adds fields without notice.

use std::{sync::Arc, time::Duration};

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{
    config::AzureOpenAiSettings,
    egress::EgressPolicy,
    retry::{self, Backoff, GiveUp, Retries},
};

/// The token scope of Azure OpenAI for Microsoft Entra tokens.
const SCOPE: &str = "https://cognitiveservices.azure.com/.default";
/// Backoff from 0.5 s, doubling up to 8 s (openai-python's figures).
const BACKOFF: Backoff = Backoff { base: Duration::from_millis(500), max: Duration::from_secs(8) };
/// A server-named wait longer than this is not trusted (openai-python's rule); backoff applies instead.
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// Why no usable answer came back. Every variant leads the caller to its deterministic fallback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AiError {
    /// The prompt was refused by the content filter (HTTP 400 `content_filter`).
    #[error("the content filter refused the prompt")]
    PromptFiltered,
    /// The completion was withheld by the content filter (`finish_reason: content_filter`).
    #[error("the content filter withheld the answer")]
    CompletionFiltered,
    /// Still rate limited when the retries or the time ran out.
    #[error("rate limited (HTTP 429) after {attempts} attempt(s)")]
    RateLimited {
        /// Requests sent.
        attempts: u32,
    },
    /// The service answered an error status.
    #[error("HTTP {status} ({code})")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The error code from the body, if any.
        code: String,
    },
    /// The answer hit the token cap and is incomplete.
    #[error("the answer was cut off at the token limit")]
    Truncated,
    /// The model declined to answer.
    #[error("the model declined: {0}")]
    Refused(String),
    /// The answer is not what was asked for.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// No answer within the budget.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// No token could be obtained from the managed identity.
    #[error("managed identity: {0}")]
    Credential(String),
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Instructions.
    System(String),
    /// Material for the model to read, never to obey: our facts, the merchant's question. Sent as its own user
    /// message holding only [`data_block`] of it, so merchant and platform text never mixes with instructions.
    Data(Value),
    /// The model's earlier turn that asked for tools.
    AssistantToolCalls(Vec<ToolCall>),
    /// A tool's result.
    Tool {
        /// The call it answers.
        call_id: String,
        /// The result (data, like [`Message::Data`]).
        content: Value,
    },
}

impl Message {
    fn to_json(&self) -> Value {
        match self {
            Self::System(text) => json!({"role": "system", "content": text}),
            Self::Data(data) => json!({"role": "user", "content": data_block(data)}),
            Self::AssistantToolCalls(calls) => json!({
                "role": "assistant",
                "content": null,
                "tool_calls": calls.iter().map(|c| json!({
                    "id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}
                })).collect::<Vec<_>>(),
            }),
            Self::Tool { call_id, content } => {
                json!({"role": "tool", "tool_call_id": call_id, "content": inert_json(content)})
            }
        }
    }
}

/// Opens a data message; [`DATA_END`] closes it. The system prompt names both.
pub const DATA_START: &str = "<data>";
/// Closes a data message.
pub const DATA_END: &str = "</data>";

/// `value` as JSON between [`DATA_START`] and [`DATA_END`]: one block no text inside can close.
pub fn data_block(value: &Value) -> String {
    format!("{DATA_START}\n{}\n{DATA_END}", inert_json(value))
}

/// `value` as JSON text with `<`, `>` and `&` written as `\u003c`, `\u003e` and `\u0026`, so a title holding
/// `</data>` or markup stays one inert string. These characters occur in JSON text only inside strings, where the
/// escapes mean the same characters, so plain replacement is exact.
pub fn inert_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    /// Its name.
    pub name: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// Its parameters: a strict JSON schema.
    pub parameters: Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The call's id, to answer it.
    pub id: String,
    /// The function.
    pub name: String,
    /// Its arguments, JSON text.
    pub arguments: String,
}

/// What to ask.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// The answer's schema name and strict JSON schema.
    pub schema: (&'static str, Value),
    /// Functions the model may call.
    pub tools: Vec<Tool>,
}

/// The model's turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The answer, JSON text conforming to the schema.
    Content(String),
    /// Calls to run before it answers.
    ToolCalls(Vec<ToolCall>),
}

enum Auth {
    Key(SecretString),
    Identity(Arc<dyn TokenCredential>),
}

/// A client of one Azure OpenAI deployment. Cheap to share behind an `Arc`.
pub struct AzureOpenAi {
    http: reqwest::Client,
    url: reqwest::Url,
    /// Sent as `model` on the v1 path.
    model: Option<String>,
    auth: Auth,
    budget: Duration,
    max_retries: u32,
    max_tokens: u32,
}

impl std::fmt::Debug for AzureOpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureOpenAi")
            .field("url", &self.url.as_str())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl AzureOpenAi {
    /// A client from settings (no request is made).
    pub fn from_settings(settings: &AzureOpenAiSettings) -> Result<Self, AiError> {
        let endpoint = settings.endpoint.trim_end_matches('/');
        let (url, model) = match &settings.api_version {
            None => (format!("{endpoint}/openai/v1/chat/completions"), Some(settings.deployment.clone())),
            Some(version) => (
                format!("{endpoint}/openai/deployments/{}/chat/completions?api-version={version}", settings.deployment),
                None,
            ),
        };
        let url = reqwest::Url::parse(&url).map_err(|e| AiError::Transport(format!("endpoint: {e}")))?;
        let auth = match &settings.api_key {
            Some(key) => Auth::Key(key.clone()),
            None => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                    ..ManagedIdentityCredentialOptions::default()
                };
                let credential =
                    ManagedIdentityCredential::new(Some(options)).map_err(|e| AiError::Credential(e.to_string()))?;
                Auth::Identity(credential)
            }
        };
        settings.egress.check_literal(&url).map_err(|refused| AiError::Transport(refused.to_string()))?;
        let http = settings
            .egress
            .client_builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| AiError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            url,
            model,
            auth,
            budget: settings.timeout,
            max_retries: settings.max_retries,
            max_tokens: settings.max_tokens,
        })
    }

    /// The request body.
    fn body(&self, request: &ChatRequest) -> Value {
        let (name, schema) = &request.schema;
        let mut body = json!({
            "messages": request.messages.iter().map(Message::to_json).collect::<Vec<_>>(),
            "max_completion_tokens": self.max_tokens,
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "strict": true, "schema": schema}},
        });
        if let Some(model) = &self.model {
            body["model"] = json!(model);
        }
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters, "strict": true
                    }})
                })
                .collect();
            // Strict tool schemas hold only for one call at a time.
            body["parallel_tool_calls"] = json!(false);
        }
        body
    }

    /// One turn of the model, within the client's time budget, retrying what may succeed on retry.
    #[tracing::instrument(name = "asking Azure OpenAI", skip_all, fields(messages = request.messages.len()))]
    pub async fn chat(&self, request: &ChatRequest) -> Result<Reply, AiError> {
        let deadline = Instant::now() + self.budget;
        match tokio::time::timeout_at(deadline, self.chat_until(request, deadline)).await {
            Ok(result) => result,
            Err(_) => Err(AiError::Timeout(self.budget)),
        }
    }

    async fn chat_until(&self, request: &ChatRequest, deadline: Instant) -> Result<Reply, AiError> {
        let body = self.body(request);
        let mut retries = Retries::new(self.max_retries, BACKOFF, MAX_SERVER_WAIT, deadline);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let (error, server_wait) = match self.send(&body, deadline).await {
                Attempt::Done(result) => return result,
                Attempt::Retry { error: AiError::RateLimited { .. }, wait } => {
                    (AiError::RateLimited { attempts: attempt }, wait)
                }
                Attempt::Retry { error, wait } => (error, wait),
            };
            match retries.after_failure(server_wait) {
                Ok(wait) => {
                    tracing::info!(%error, attempt, wait_ms = wait.as_millis() as u64, "Azure OpenAI: retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(GiveUp::OutOfTime) => {
                    tracing::warn!(%error, "Azure OpenAI: no time left to retry");
                    return Err(error);
                }
                Err(GiveUp::Exhausted { .. }) => return Err(error),
            }
        }
    }

    async fn send(&self, body: &Value, deadline: Instant) -> Attempt {
        let mut builder =
            self.http.post(self.url.clone()).json(body).timeout(deadline.saturating_duration_since(Instant::now()));
        builder = match &self.auth {
            Auth::Key(key) => builder.header("api-key", key.expose_secret()),
            Auth::Identity(credential) => match credential.get_token(&[SCOPE], None).await {
                Ok(token) => builder.bearer_auth(token.token.secret()),
                Err(e) => return Attempt::Done(Err(AiError::Credential(e.to_string()))),
            },
        };
        let response = match builder.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return Attempt::Done(Err(AiError::Timeout(self.budget))),
            // A refused address stays refused: no retry.
            Err(e) if EgressPolicy::refusal_in(&e).is_some() => {
                return Attempt::Done(Err(AiError::Transport(EgressPolicy::describe(&e))));
            }
            Err(e) => return Attempt::Retry { error: AiError::Transport(EgressPolicy::describe(&e)), wait: None },
        };
        let status = response.status().as_u16();
        let wait = retry::retry_after(response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) if e.is_timeout() => return Attempt::Done(Err(AiError::Timeout(self.budget))),
            Err(e) => return Attempt::Retry { error: AiError::Transport(EgressPolicy::describe(&e)), wait: None },
        };
        match status {
            200 => Attempt::Done(parse_completion(&text)),
            429 => Attempt::Retry { error: AiError::RateLimited { attempts: 0 }, wait },
            400 if error_code(&text).as_deref() == Some("content_filter") => {
                Attempt::Done(Err(AiError::PromptFiltered))
            }
            408 | 409 | 500..=599 => {
                Attempt::Retry { error: AiError::Status { status, code: error_code(&text).unwrap_or_default() }, wait }
            }
            _ => Attempt::Done(Err(AiError::Status { status, code: error_code(&text).unwrap_or_default() })),
        }
    }
}

enum Attempt {
    Done(Result<Reply, AiError>),
    Retry { error: AiError, wait: Option<Duration> },
}

fn error_code(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.pointer("/error/code").and_then(Value::as_str).map(str::to_owned)
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    finish_reason: Option<String>,
    message: Option<ResponseMessage>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    content: Option<String>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<RawToolCall>,
}

#[derive(Deserialize)]
struct RawToolCall {
    id: String,
    function: RawFunction,
}

#[derive(Deserialize)]
struct RawFunction {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// Reads a 200 response body.
fn parse_completion(text: &str) -> Result<Reply, AiError> {
    let completion: Completion =
        serde_json::from_str(text).map_err(|e| AiError::Malformed(format!("response body: {e}")))?;
    let choice = completion.choices.into_iter().next().ok_or_else(|| AiError::Malformed("no choices".into()))?;
    match choice.finish_reason.as_deref() {
        Some("content_filter") => return Err(AiError::CompletionFiltered),
        Some("length") => return Err(AiError::Truncated),
        _ => {}
    }
    let message = choice.message.ok_or_else(|| AiError::Malformed("no message".into()))?;
    if !message.tool_calls.is_empty() {
        return Ok(Reply::ToolCalls(
            message
                .tool_calls
                .into_iter()
                .map(|c| ToolCall { id: c.id, name: c.function.name, arguments: c.function.arguments })
                .collect(),
        ));
    }
    if let Some(refusal) = message.refusal.filter(|r| !r.is_empty()) {
        return Err(AiError::Refused(refusal));
    }
    match message.content {
        Some(content) if !content.trim().is_empty() => Ok(Reply::Content(content)),
        _ => Err(AiError::Malformed("empty content".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_read_leniently_and_filters_and_cut_offs_are_errors() {
        let ok = r#"{"id":"x","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"{\"a\":1}"},"content_filter_results":{"hate":{"filtered":false}}}],"usage":{"total_tokens":9},"new_field":true}"#;
        assert_eq!(parse_completion(ok), Ok(Reply::Content("{\"a\":1}".into())));
        let filtered =
            r#"{"choices":[{"finish_reason":"content_filter","message":{"role":"assistant","content":""}}]}"#;
        assert_eq!(parse_completion(filtered), Err(AiError::CompletionFiltered));
        let cut = r#"{"choices":[{"finish_reason":"length","message":{"content":"{\"a\":"}}]}"#;
        assert_eq!(parse_completion(cut), Err(AiError::Truncated));
        let tools = r#"{"choices":[{"finish_reason":"tool_calls","message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"top_products","arguments":"{}"}}]}}]}"#;
        assert_eq!(
            parse_completion(tools),
            Ok(Reply::ToolCalls(vec![ToolCall {
                id: "c1".into(),
                name: "top_products".into(),
                arguments: "{}".into()
            }]))
        );
        assert!(matches!(parse_completion("not json"), Err(AiError::Malformed(_))));
    }

    #[test]
    fn data_blocks_keep_markup_and_delimiters_inert_and_round_trip() {
        let hostile = json!({"title": "a </data> <script>&amp; \\< \"q\""});
        let block = data_block(&hostile);
        let inner = block.strip_prefix("<data>\n").and_then(|b| b.strip_suffix("\n</data>")).expect("delimited");
        assert!(!inner.contains(['<', '>', '&']), "{inner}");
        assert_eq!(serde_json::from_str::<Value>(inner).expect("JSON"), hostile);
    }
}
