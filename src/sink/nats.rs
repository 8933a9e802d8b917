//! NATS JetStream: each event is published on `<prefix>.<type>` (e.g.
//! `sipedge.interaction.ended`) with `Nats-Msg-Id` = the event id, and the
//! cursor advances only after JetStream's acknowledgement. A replay after
//! a crash or an outage re-publishes with the same ids, which the stream's
//! duplicate window drops.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::SinkError;
use crate::config::{NatsSink as NatsConfig, Retention};

pub struct NatsSink {
    cfg: NatsConfig,
    js: Option<jetstream::Context>,
    max_payload: usize,
}

/// The two envelope fields publishing needs.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    kind: std::borrow::Cow<'a, str>,
}

impl NatsSink {
    pub fn new(cfg: NatsConfig) -> NatsSink {
        NatsSink {
            cfg,
            js: None,
            max_payload: 1 << 20,
        }
    }

    async fn connect(&mut self) -> Result<&jetstream::Context, SinkError> {
        if self.js.is_none() {
            let client = async_nats::ConnectOptions::new()
                .name("sipedge")
                .connection_timeout(Duration::from_secs(5))
                .connect(self.cfg.url.as_str())
                .await
                .map_err(|e| {
                    SinkError::Transient(format!("connect {}: {e}", redact(&self.cfg.url)))
                })?;
            self.max_payload = client.server_info().max_payload;
            let js = jetstream::new(client);
            let name = self.cfg.stream.clone();
            if self.cfg.create_stream {
                let config = stream::Config {
                    name: name.clone(),
                    subjects: vec![format!("{}.>", self.cfg.subject_prefix)],
                    duplicate_window: self.cfg.duplicate_window.0,
                    retention: match self.cfg.retention {
                        Retention::Limits => stream::RetentionPolicy::Limits,
                        Retention::Interest => stream::RetentionPolicy::Interest,
                        Retention::Workqueue => stream::RetentionPolicy::WorkQueue,
                    },
                    storage: stream::StorageType::File,
                    ..Default::default()
                };
                js.get_or_create_stream(config)
                    .await
                    .map_err(|e| SinkError::Transient(format!("create stream {name}: {e}")))?;
            } else {
                js.get_stream(&name).await.map_err(|e| {
                    SinkError::Transient(format!(
                        "stream {name} does not exist or cannot be read ({e}); create it (subjects {}.>) or set [events.nats] create_stream = true",
                        self.cfg.subject_prefix
                    ))
                })?;
            }
            tracing::info!(url = %redact(&self.cfg.url), stream = %name, "NATS JetStream sink connected.");
            self.js = Some(js);
        }
        self.js
            .as_ref()
            .ok_or_else(|| SinkError::Transient("not connected".into()))
    }

    /// Publishes `batch` in order and waits for the acknowledgements;
    /// returns how many from the start were acknowledged.
    pub async fn publish(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<usize, SinkError> {
        let prefix = self.cfg.subject_prefix.clone();
        let timeout = self.cfg.ack_timeout.0;
        let max_payload = self.max_payload;
        let js = self.connect().await?.clone();
        let Some((_, first)) = batch.first() else {
            return Ok(0);
        };
        if first.len() > max_payload {
            return Err(SinkError::Permanent(format!(
                "event of {} bytes exceeds the server's max_payload of {max_payload}",
                first.len()
            )));
        }
        let mut acks = Vec::with_capacity(batch.len());
        for (_, payload) in batch {
            if payload.len() > max_payload {
                break;
            }
            let head: Head<'_> = match serde_json::from_slice(payload) {
                Ok(h) => h,
                Err(e) if acks.is_empty() => {
                    return Err(SinkError::Permanent(format!("not an event: {e}")));
                }
                Err(_) => break,
            };
            let short = head.kind.strip_prefix("sipedge.").unwrap_or(&head.kind);
            let subject = format!("{prefix}.{short}");
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", head.id.as_ref());
            match js
                .publish_with_headers(subject, headers, payload.clone().into())
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    if acks.is_empty() {
                        self.js = None;
                        return Err(SinkError::Transient(format!("publish: {e}")));
                    }
                    break;
                }
            }
        }
        let mut ok = 0;
        for ack in acks {
            match tokio::time::timeout(timeout, ack).await {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(e)) => {
                    if ok == 0 {
                        return Err(SinkError::Transient(format!("no acknowledgement: {e}")));
                    }
                    break;
                }
                Err(_) => {
                    if ok == 0 {
                        return Err(SinkError::Transient(format!(
                            "no acknowledgement within {timeout:?}"
                        )));
                    }
                    break;
                }
            }
        }
        Ok(ok)
    }
}

/// The URL without the credentials a `nats://user:pass@host` carries.
fn redact(url: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    match rest.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}").into(),
        None => url.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_a_url_are_not_shown() {
        assert_eq!(
            super::redact("nats://edge:s3cret@10.0.0.5:4222"),
            "nats://***@10.0.0.5:4222"
        );
        assert_eq!(
            super::redact("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }
}
