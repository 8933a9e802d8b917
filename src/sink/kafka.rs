//! Kafka (cargo feature `kafka`; librdkafka built from source by
//! rdkafka-sys). Every event goes to `[events.kafka] topic` with key = the
//! interaction id (the CloudEvent `subject`), so one interaction's events
//! keep their order on one partition; CloudEvents structured mode
//! (`content-type: application/cloudevents+json`) plus `ce_id` and `ce_type`
//! headers. The producer is idempotent with `acks=all`; the cursor moves
//! only past events whose delivery reports came back. A retry after a
//! failure may publish an event again: consumers drop repeats by `ce_id`.

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::SinkError;
use crate::config::KafkaSink as KafkaConfig;

pub struct KafkaSink {
    cfg: KafkaConfig,
    producer: Option<FutureProducer>,
}

/// The envelope fields publishing needs.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    subject: std::borrow::Cow<'a, str>,
}

impl KafkaSink {
    pub fn new(cfg: KafkaConfig) -> KafkaSink {
        KafkaSink {
            cfg,
            producer: None,
        }
    }

    fn producer(&mut self) -> Result<FutureProducer, SinkError> {
        if let Some(p) = &self.producer {
            return Ok(p.clone());
        }
        let mut c = ClientConfig::new();
        for (k, v) in &self.cfg.properties {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &self.cfg.brokers)
            .set("client.id", &self.cfg.client_id)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "message.timeout.ms",
                self.cfg.message_timeout.0.as_millis().to_string(),
            );
        // A bad property is the operator's to fix: the events wait. Its
        // value may be a secret: only the property's name is told.
        let p: FutureProducer = c.create().map_err(|e| {
            SinkError::Transient(match e {
                KafkaError::ClientConfig(_, _, key, _) => {
                    format!("kafka producer: property {key} refused (value not shown)")
                }
                e => format!("kafka producer: {e}"),
            })
        })?;
        tracing::info!(brokers = %self.cfg.brokers, topic = %self.cfg.topic, "Kafka sink ready.");
        self.producer = Some(p.clone());
        Ok(p)
    }

    /// Publishes `batch` in order and waits for the delivery reports;
    /// returns how many from the start were delivered.
    pub async fn publish(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<usize, SinkError> {
        let result = self.try_publish(batch).await;
        if matches!(result, Err(SinkError::Transient(_))) {
            // Start the next attempt with a new producer: an idempotent
            // session whose messages timed out (the broker went away, or
            // came back without its state) may never deliver again.
            // Dropping one flushes and joins its thread: not on a runtime
            // worker.
            if let Some(old) = self.producer.take() {
                tokio::task::spawn_blocking(move || drop(old));
            }
        }
        result
    }

    async fn try_publish(&mut self, batch: &[(u64, Vec<u8>)]) -> Result<usize, SinkError> {
        let producer = self.producer()?;
        let mut pending = Vec::with_capacity(batch.len());
        for (_, payload) in batch {
            let head: Head<'_> = match serde_json::from_slice(payload) {
                Ok(h) => h,
                Err(e) if pending.is_empty() => {
                    return Err(SinkError::Permanent(format!("not an event: {e}")));
                }
                Err(_) => break,
            };
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "content-type",
                    value: Some("application/cloudevents+json"),
                })
                .insert(Header {
                    key: "ce_id",
                    value: Some(head.id.as_ref()),
                })
                .insert(Header {
                    key: "ce_type",
                    value: Some(head.kind.as_ref()),
                });
            let record = FutureRecord::to(&self.cfg.topic)
                .key(head.subject.as_ref())
                .payload(payload.as_slice())
                .headers(headers);
            match producer.send_result(record) {
                Ok(f) => pending.push(f),
                Err((e, _)) if pending.is_empty() => return Err(classify(e)),
                // The local queue is full: deliver what is queued first.
                Err(_) => break,
            }
        }
        let mut ok = 0;
        for f in pending {
            match f.await {
                Ok(Ok(_)) => ok += 1,
                Ok(Err((e, _))) if ok == 0 => return Err(classify(e)),
                Err(_) if ok == 0 => {
                    return Err(SinkError::Transient("kafka producer went away".into()));
                }
                _ => break,
            }
        }
        Ok(ok)
    }
}

/// A message Kafka will never take is permanent (dead-lettered); the rest
/// (broker down, timeouts, leader changes) is worth retrying.
fn classify(e: KafkaError) -> SinkError {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidMessage,
        ) => SinkError::Permanent(format!("kafka refused the event: {e}")),
        _ => SinkError::Transient(format!("kafka: {e}")),
    }
}
