//! HTTP: the admin API (`/v1/...`, on a Unix socket and optionally on TCP
//! with a bearer token) and `/metrics`, `/live`, `/ready` (on
//! `[metrics] listen`). The API is what the `sipedge` CLI and an agent
//! desktop's end-call button use; `docs/admin-api.md` documents it.
//!
//! Calls live in the proxy shards, so the API asks them over a control
//! channel ([`Control`]) and merges the answers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::call::{CallView, EndError, EndedBy};
use crate::proxy::Shared;
use crate::sink::PipelineStats;

/// What the API asks a shard.
#[derive(Debug)]
pub enum Control {
    Calls(oneshot::Sender<Vec<CallView>>),
    Call(String, oneshot::Sender<Option<Value>>),
    End {
        id: String,
        by: EndedBy,
        reply: oneshot::Sender<Result<(), EndError>>,
    },
    WrapComplete {
        who: String,
        reply: oneshot::Sender<bool>,
    },
    Stats(oneshot::Sender<Value>),
    /// Stop taking new calls.
    Drain(oneshot::Sender<()>),
    /// Take a reloaded configuration; answers when done.
    Reload(Arc<crate::config::Config>, oneshot::Sender<()>),
    /// Answers when the shard loop runs (the watchdog's heartbeat) with
    /// its live interactions.
    Ping(oneshot::Sender<usize>),
}

/// What the handlers share.
pub struct AdminState {
    pub shards: Vec<mpsc::Sender<Control>>,
    pub shared: Arc<Mutex<Shared>>,
    pub pipeline: Arc<PipelineStats>,
    pub counters: Arc<crate::server::Counters>,
    pub ready: AtomicBool,
    pub started: Instant,
    /// The file the configuration came from (reload reads it again).
    pub config_path: Option<std::path::PathBuf>,
    /// The configuration in force.
    pub running: Mutex<crate::config::Config>,
    /// The bound listeners (a reload adds and removes them and reloads
    /// their certificates).
    pub listeners: tokio::sync::Mutex<crate::server::Listeners>,
    /// Set once a drain has started (a second request reports it).
    pub draining: AtomicBool,
    /// Reloads done and refused.
    pub reloads_ok: std::sync::atomic::AtomicU64,
    pub reloads_failed: std::sync::atomic::AtomicU64,
    /// Notified when the process should stop (drain finished).
    pub stop: tokio::sync::Notify,
}

/// Drains: new INVITEs get 503 + Retry-After on every shard; waits until
/// no call is live or `deadline` passes, then until every sink has
/// delivered what the outbox holds (within what is left of the deadline);
/// then asks the process to stop. Returns the live calls left at the end.
pub async fn drain(st: &AdminState, deadline: std::time::Duration) -> usize {
    let until = Instant::now() + deadline;
    for s in &st.shards {
        let (tx, rx) = oneshot::channel();
        if s.send(Control::Drain(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
    let _ = crate::notify::notify("STATUS=draining");
    tracing::info!(
        deadline_s = deadline.as_secs(),
        "Draining: new calls get 503; waiting for live calls to end."
    );
    let mut live;
    loop {
        live = ask_all(st, Control::Ping).await.iter().sum::<usize>();
        if live == 0 || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The events of the calls that just ended: let the writer commit them
    // and the sinks deliver them.
    loop {
        let p = &st.pipeline;
        let in_flight = p.handled.load(Ordering::Relaxed) < p.queued.load(Ordering::Relaxed);
        let next = st.pipeline.next_seq.load(Ordering::Relaxed);
        let behind = st
            .pipeline
            .sinks()
            .iter()
            .any(|s| s.cursor.load(Ordering::Relaxed) < next);
        let behind = behind || in_flight;
        if !behind || Instant::now() >= until {
            if behind {
                tracing::warn!(
                    "Drain deadline: some events are still in the outbox; they are delivered after the next start."
                );
            }
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let p = st.pipeline.clone();
    let _ = tokio::task::spawn_blocking(move || p.persist_cursors()).await;
    tracing::info!(live_calls_left = live, "Drained.");
    st.stop.notify_one();
    live
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DrainBody {
    deadline_s: Option<u64>,
}

async fn drain_handler(State(st): State<St>, body: Option<axum::Json<DrainBody>>) -> Response {
    let secs = body.and_then(|b| b.0.deadline_s).unwrap_or(300);
    if st.draining.swap(true, Ordering::SeqCst) {
        return error(StatusCode::CONFLICT, "already draining");
    }
    let live = ask_all(&st, Control::Ping).await.iter().sum::<usize>();
    let st2 = st.clone();
    tokio::spawn(async move {
        drain(&st2, std::time::Duration::from_secs(secs)).await;
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "draining": true, "live_calls": live, "deadline_s": secs })),
    )
        .into_response()
}

/// Reads and validates the configuration file again; on success every
/// shard takes it (timers, limits, rate limits, PBX addresses and trusted
/// networks, wrap, dialog limits, identity headers), listeners are bound
/// and let go, sinks added, removed or restarted, certificates and the log
/// level reloaded; on failure (the file, a certificate, an address that
/// cannot be bound, a new sink's cursor) nothing changes and the error is
/// returned. What a reload cannot change (parser limits, the outbox size,
/// a listener's side or path, admin and metrics addresses) is named in the
/// answer: it needs a restart.
pub async fn reload(st: &AdminState) -> Result<Value, String> {
    let _ = crate::notify::notify("RELOADING=1");
    let result = reload_inner(st).await;
    let _ = crate::notify::notify("READY=1");
    let counter = if result.is_ok() {
        &st.reloads_ok
    } else {
        &st.reloads_failed
    };
    counter.fetch_add(1, Ordering::Relaxed);
    match &result {
        Ok(v) => tracing::info!(restart_needed = %v["restart_needed"], "Configuration reloaded."),
        Err(e) => tracing::error!(error = %e, "Reload refused; the running configuration stays."),
    }
    result
}

async fn reload_inner(st: &AdminState) -> Result<Value, String> {
    let path = st
        .config_path
        .clone()
        .ok_or("this daemon was not started from a file")?;
    // One reload at a time (SIGHUP and the API may ask together).
    let mut bound = st.listeners.lock().await;
    let new = crate::config::Config::load(&path).map_err(|e| e.to_string())?;
    let mut certs = Vec::new();
    for (i, l) in new.listen.iter().enumerate() {
        certs.push(crate::server::tls_acceptor(l).map_err(|e| format!("listen[{i}]: {e}"))?);
    }
    let mut restart = Vec::new();
    {
        let old = st.running.lock().unwrap_or_else(PoisonError::into_inner);
        let differs =
            |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| format!("{a:?}") != format!("{b:?}");
        if old.sip.limits() != new.sip.limits() {
            restart.push("sip limits");
        }
        if old.events.outbox_max_mb != new.events.outbox_max_mb
            || old.events.segment_mb != new.events.segment_mb
        {
            restart.push("events outbox size");
        }
        if differs(&old.admin, &new.admin) || old.metrics.listen != new.metrics.listen {
            restart.push("admin/metrics");
        }
        if old.node.id != new.node.id || old.node.data_dir != new.node.data_dir {
            restart.push("node");
        }
        if old.log.format != new.log.format {
            restart.push("log format");
        }
    }
    st.pipeline
        .check(&new)
        .map_err(|e| format!("events: {e}"))?;
    // Listeners: bind the new, stop the removed, new certificates.
    let (listeners, more) = bound.apply(&new.listen, certs).await?;
    crate::logging::set_level(new.log.level);
    // Sinks added, removed or with new settings: from their cursors.
    let sinks = st
        .pipeline
        .reconfigure(&new)
        .await
        .map_err(|e| format!("events: {e}"))?;
    let reloaded = listeners
        .iter()
        .filter(|c| c.starts_with("certificate"))
        .count();
    let mut restart: Vec<String> = restart.into_iter().map(String::from).collect();
    restart.extend(more);
    let shared = Arc::new(new.clone());
    for s in &st.shards {
        let (tx, rx) = oneshot::channel();
        if s.send(Control::Reload(shared.clone(), tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
    *st.running.lock().unwrap_or_else(PoisonError::into_inner) = new;
    Ok(json!({
        "reloaded": path.display().to_string(),
        "certificates": reloaded,
        "listeners": listeners,
        "sinks": sinks,
        "restart_needed": restart,
    }))
}

async fn reload_handler(State(st): State<St>) -> Response {
    match reload(&st).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

type St = Arc<AdminState>;

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, axum::Json(json!({ "error": message.into() }))).into_response()
}

/// Asks every shard; `None` from a shard that is gone.
pub async fn ask_all<T>(st: &AdminState, make: impl Fn(oneshot::Sender<T>) -> Control) -> Vec<T> {
    let mut out = Vec::new();
    for s in &st.shards {
        let (tx, rx) = oneshot::channel();
        if s.send(make(tx)).await.is_ok() {
            if let Ok(v) = rx.await {
                out.push(v);
            }
        }
    }
    out
}

async fn calls(State(st): State<St>) -> Response {
    let mut all: Vec<CallView> = ask_all(&st, Control::Calls)
        .await
        .into_iter()
        .flatten()
        .collect();
    all.sort_by_key(|c| std::cmp::Reverse(c.age_ms));
    axum::Json(all).into_response()
}

async fn call(State(st): State<St>, UrlPath(id): UrlPath<String>) -> Response {
    let found = ask_all(&st, |tx| Control::Call(id.clone(), tx))
        .await
        .into_iter()
        .flatten()
        .next();
    match found {
        Some(v) => axum::Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no live interaction {id}")),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EndBody {
    by: Option<String>,
}

async fn end(
    State(st): State<St>,
    UrlPath(id): UrlPath<String>,
    body: Option<axum::Json<EndBody>>,
) -> Response {
    let by = match body.and_then(|b| b.0.by) {
        None => EndedBy::Agent,
        Some(s) => match EndedBy::parse(&s) {
            Some(b) => b,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("by: unknown value `{s}`, expected one of agent, contact, system"),
                );
            }
        },
    };
    let results = ask_all(&st, |reply| Control::End {
        id: id.clone(),
        by,
        reply,
    })
    .await;
    if results.iter().any(Result::is_ok) {
        return axum::Json(json!({ "ended": id, "by": by.as_str() })).into_response();
    }
    match results.into_iter().find_map(|r| match r {
        Err(e @ EndError::NotAnswered(_)) => Some(e),
        _ => None,
    }) {
        Some(e) => error(StatusCode::CONFLICT, e.to_string()),
        None => error(StatusCode::NOT_FOUND, format!("no live interaction {id}")),
    }
}

async fn wrap_complete(State(st): State<St>, UrlPath(who): UrlPath<String>) -> Response {
    // The wrap board is shared: any shard can complete it.
    let Some(first) = st.shards.first() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no shard running");
    };
    let (tx, rx) = oneshot::channel();
    if first
        .send(Control::WrapComplete {
            who: who.clone(),
            reply: tx,
        })
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no shard running");
    }
    match rx.await {
        Ok(true) => axum::Json(json!({ "completed": who })).into_response(),
        _ => error(
            StatusCode::NOT_FOUND,
            format!("{who} is neither an agent in wrap nor the interaction of one"),
        ),
    }
}

async fn agents(State(st): State<St>) -> Response {
    let now = Instant::now();
    let shared = st.shared.lock().unwrap_or_else(PoisonError::into_inner);
    let board = shared.wraps.lock().unwrap_or_else(PoisonError::into_inner);
    let mut rows: Vec<Value> = shared
        .registrar
        .bindings()
        .map(|b| {
            let user = crate::sip::header::Uri::parse(b.aor.as_bytes())
                .ok()
                .and_then(|u| u.user_str().map(str::to_string))
                .unwrap_or_else(|| b.aor.clone());
            let wrap = board.get(&user).map(|w| {
                json!({
                    "interaction_id": w.interaction_id,
                    "left_s": w.deadline.saturating_duration_since(now).as_secs(),
                })
            });
            json!({
                "agent": user,
                "aor": b.aor,
                "contact": b.contact,
                "flow": b.flow,
                "device": b.device.as_str(),
                "user_agent": b.user_agent,
                "instance": b.instance,
                "expires_in_s": b.expires_at.saturating_duration_since(now).as_secs(),
                "wrap": wrap,
            })
        })
        .collect();
    // Agents in wrap without a registration through this edge.
    for w in board.iter() {
        if !rows.iter().any(|r| r["agent"] == w.agent.as_str()) {
            rows.push(json!({
                "agent": w.agent, "aor": null, "contact": null, "flow": null, "device": null,
                "user_agent": null, "instance": null, "expires_in_s": null,
                "wrap": { "interaction_id": w.interaction_id,
                          "left_s": w.deadline.saturating_duration_since(now).as_secs() },
            }));
        }
    }
    rows.sort_by(|a, b| a["agent"].as_str().cmp(&b["agent"].as_str()));
    axum::Json(rows).into_response()
}

async fn stats(State(st): State<St>) -> Response {
    let shards = ask_all(&st, Control::Stats).await;
    let p = &st.pipeline;
    let sinks: Vec<Value> = p
        .sinks()
        .iter()
        .map(|s| {
            json!({
                "sink": s.name,
                "cursor": s.cursor.load(Ordering::Relaxed),
                "published": s.published.load(Ordering::Relaxed),
                "errors": s.errors.load(Ordering::Relaxed),
                "dead_lettered": s.dead.load(Ordering::Relaxed),
            })
        })
        .collect();
    let (bindings, flows) = {
        let shared = st.shared.lock().unwrap_or_else(PoisonError::into_inner);
        (shared.registrar.len(), shared.flows.len())
    };
    axum::Json(json!({
        "uptime_s": st.started.elapsed().as_secs(),
        "registrations": bindings,
        "flows": flows,
        "shards": shards,
        "parse_errors": st.counters.parse_errors(),
        "outbox": {
            "next_seq": p.next_seq.load(Ordering::Relaxed),
            "bytes": p.outbox_bytes.load(Ordering::Relaxed),
            "max_bytes": p.outbox_max_bytes.load(Ordering::Relaxed),
            "refused": p.refused.load(Ordering::Relaxed),
        },
        "sinks": sinks,
    }))
    .into_response()
}

/// The API routes.
pub fn api(state: St) -> Router {
    Router::new()
        .route("/v1/calls", get(calls))
        .route("/v1/calls/{id}", get(call))
        .route("/v1/calls/{id}/end", post(end))
        .route("/v1/agents", get(agents))
        .route("/v1/wrap/{who}/complete", post(wrap_complete))
        .route("/v1/stats", get(stats))
        .route("/v1/reload", post(reload_handler))
        .route("/v1/drain", post(drain_handler))
        .with_state(state)
}

/// `/live`, `/ready`, `/metrics`.
pub fn ops(state: St) -> Router {
    Router::new()
        .route("/live", get(|| async { "ok\n" }))
        .route(
            "/ready",
            get(|State(st): State<St>| async move {
                if st.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n").into_response()
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
                }
            }),
        )
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(st): State<St>) -> Response {
    let text = crate::metrics::render(&st, ask_all(&st, Control::Stats).await).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Requires `Authorization: Bearer <token>` (compared in constant time).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(got) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (got.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves the API on the Unix socket (mode 0660).
pub async fn serve_unix(path: &Path, router: Router) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // A socket left by a previous run.
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "Admin socket stopped.");
        }
    });
    Ok(())
}

/// Serves `router` on TCP; with a token, every request must carry it.
pub async fn serve_tcp(
    addr: SocketAddr,
    router: Router,
    token: Option<String>,
) -> std::io::Result<SocketAddr> {
    let router = match token {
        Some(t) => {
            let t: Arc<str> = t.into();
            router.layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let t = t.clone();
                    async move {
                        if authorized(req.headers(), &t) {
                            next.run(req).await
                        } else {
                            error(StatusCode::UNAUTHORIZED, "a bearer token is required")
                        }
                    }
                },
            ))
        }
        None => router,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP listener stopped.");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_compared_whole() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cre"));
        assert!(!authorized(&h, "s3cret!"));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!authorized(&h, "s3cret"));
    }
}
