//! SIP transactions (RFC 3261 §17, with RFC 6026's `Accepted` states), sans-IO.
//!
//! A transaction never touches a socket or a clock. Its owner (the proxy)
//! tells it what arrived and what was sent, passes `now` in, asks
//! [`poll_timeout`](ClientTx::poll_timeout) when it next needs attention and
//! calls `handle_timeout` then. What a transaction wants done comes back as
//! values: retransmit these bytes, the request timed out, no ACK came.
//!
//! Timers (T1/T2/T4 and Timer C from `[sip]` config):
//!
//! | timer | side | kind | value |
//! |---|---|---|---|
//! | A | client | INVITE | T1, doubling (unreliable transports only) |
//! | B | client | INVITE | 64·T1 in Calling: no response at all → [`Output::Timeout`] |
//! | C | client | INVITE | `[sip] timer_c` (180 s) after the last provisional → [`Output::TimerC`] (the proxy CANCELs), then 64·T1 more → [`Output::Timeout`] |
//! | D | client | INVITE | 32 s unreliable, 0 reliable: absorb final retransmissions |
//! | E | client | non-INVITE | T1 doubling to T2; T2 once provisional (unreliable only) |
//! | F | client | non-INVITE | 64·T1: no final response → [`Output::Timeout`] |
//! | K | client | non-INVITE | T4 unreliable, 0 reliable |
//! | M | client | INVITE | 64·T1 in Accepted (RFC 6026): absorb 2xx retransmissions |
//! | G | server | INVITE | T1 doubling to T2: resend the non-2xx final (unreliable only) |
//! | H | server | INVITE | 64·T1: no ACK for the non-2xx final → [`Output::NoAck`] |
//! | I | server | INVITE | T4 unreliable, 0 reliable, after the ACK |
//! | J | server | non-INVITE | 64·T1 unreliable, 0 reliable, after the final |
//! | L | server | INVITE | 64·T1 in Accepted (RFC 6026) |

use std::time::{Duration, Instant};

use bytes::Bytes;

/// The base timer values of RFC 3261 §17.1.1.1 / Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip estimate (default 500 ms).
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE
    /// responses (default 4 s).
    pub t2: Duration,
    /// Longest a message stays in the network (default 5 s).
    pub t4: Duration,
    /// Timer C (RFC 3261 §16.6 step 11): how long an INVITE client
    /// transaction may ring after its last provisional response before the
    /// proxy cancels it (default 180 s).
    pub c: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            c: Duration::from_secs(180),
        }
    }
}

impl Timers {
    fn t64(&self) -> Duration {
        self.t1 * 64
    }
}

/// A transaction's three kinds of deadline: resend, give up, forget.
#[derive(Debug, Clone, Copy, Default)]
struct Deadlines {
    /// Timers A, E, G.
    retransmit: Option<Instant>,
    /// Timers B, F, H.
    timeout: Option<Instant>,
    /// Timers D, I, J, K, L, M.
    end: Option<Instant>,
}

/// Which deadline is due, the one that ends the transaction first.
enum Due {
    End,
    Timeout,
    Retransmit,
}

impl Deadlines {
    fn next(&self) -> Option<Instant> {
        [self.retransmit, self.timeout, self.end]
            .into_iter()
            .flatten()
            .min()
    }

    fn due(&self, now: Instant) -> Option<Due> {
        let passed = |t: Option<Instant>| t.is_some_and(|t| now >= t);
        if passed(self.end) {
            Some(Due::End)
        } else if passed(self.timeout) {
            Some(Due::Timeout)
        } else if passed(self.retransmit) {
            Some(Due::Retransmit)
        } else {
            None
        }
    }
}

/// INVITE transactions have ACK and provisional-response rules of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invite,
    NonInvite,
}

/// What a transaction asks of its owner after a timer fired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send these bytes again to the transaction's peer.
    Retransmit(Bytes),
    /// Client: no final response in time (Timer B or F). A proxy answers 408
    /// upstream (RFC 3261 §16.8).
    Timeout,
    /// Client INVITE: it rang for Timer C after its last provisional
    /// response. The proxy CANCELs it (RFC 3261 §16.8); the callee's 487
    /// then goes upstream. If no final response follows within 64·T1,
    /// [`Output::Timeout`] comes.
    TimerC,
    /// Server: the non-2xx final response was never acknowledged (Timer H).
    NoAck,
}

/// Client transaction states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing back yet.
    Calling,
    /// Non-INVITE sent, nothing back yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A non-2xx final (or any non-INVITE final) arrived; absorbing repeats.
    Completed,
    /// RFC 6026: a 2xx to the INVITE arrived; more (from forks) may follow.
    Accepted,
    Terminated,
}

/// What to do with a response a client transaction matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRx {
    /// Pass the response on (upstream, for a proxy).
    pub forward: bool,
    /// Send this hop-by-hop ACK to the peer (non-2xx final to an INVITE).
    pub ack: Option<Bytes>,
}

/// A client transaction: a request this element sent.
#[derive(Debug)]
pub struct ClientTx {
    kind: Kind,
    reliable: bool,
    state: ClientState,
    timers: Timers,
    request: Bytes,
    ack: Option<Bytes>,
    deadlines: Deadlines,
    interval: Duration,
    /// Timer C (INVITE): set when the request is sent, reset by every
    /// 101–199 (RFC 3261 §16.6 step 11, §16.7 step 2).
    timer_c: Instant,
    /// Timer C has fired (the proxy cancelled).
    timer_c_fired: bool,
}

impl ClientTx {
    /// Starts a transaction for `request`, which the owner sends now.
    pub fn new(
        kind: Kind,
        request: Bytes,
        reliable: bool,
        now: Instant,
        timers: Timers,
    ) -> ClientTx {
        let state = match kind {
            Kind::Invite => ClientState::Calling,
            Kind::NonInvite => ClientState::Trying,
        };
        ClientTx {
            kind,
            reliable,
            state,
            timers,
            request,
            ack: None,
            deadlines: Deadlines {
                retransmit: (!reliable).then(|| now + timers.t1),
                timeout: Some(now + timers.t64()),
                end: None,
            },
            interval: timers.t1,
            timer_c: now + timers.c,
            timer_c_fired: false,
        }
    }

    pub fn state(&self) -> ClientState {
        self.state
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The request as sent.
    pub fn request(&self) -> &Bytes {
        &self.request
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// A response with status `code` matched this transaction. `make_ack`
    /// builds the hop-by-hop ACK; it is called once, for the first non-2xx
    /// final response to an INVITE.
    pub fn on_response(
        &mut self,
        now: Instant,
        code: u16,
        make_ack: impl FnOnce() -> Bytes,
    ) -> ClientRx {
        let provisional = code < 200;
        let success = (200..300).contains(&code);
        let forward = |ack| ClientRx { forward: true, ack };
        let absorb = |ack| ClientRx {
            forward: false,
            ack,
        };
        match (self.kind, self.state) {
            (_, ClientState::Terminated) => absorb(None),
            (Kind::Invite, ClientState::Calling | ClientState::Proceeding) => {
                if provisional {
                    self.state = ClientState::Proceeding;
                    // RFC 3261 §17.1.1.2: no more INVITE retransmissions once
                    // anything came back, and Timer B only runs in Calling.
                    // A proxy's Timer C (§16.6 step 11, §16.7 step 2) takes
                    // over, restarted by every provisional response.
                    self.deadlines.retransmit = None;
                    if code > 100 {
                        self.timer_c = now + self.timers.c;
                    }
                    if !self.timer_c_fired {
                        self.deadlines.timeout = Some(self.timer_c);
                    }
                    forward(None)
                } else if success {
                    self.enter_accepted(now);
                    forward(None)
                } else {
                    let ack = make_ack();
                    self.ack = Some(ack.clone());
                    self.state = ClientState::Completed;
                    self.deadlines.retransmit = None;
                    self.deadlines.timeout = None;
                    self.deadlines.end = Some(
                        now + if self.reliable {
                            Duration::ZERO
                        } else {
                            Duration::from_secs(32)
                        },
                    );
                    forward(Some(ack))
                }
            }
            // A repeated non-2xx final: ACK again, do not pass it on.
            (Kind::Invite, ClientState::Completed) => {
                absorb(if provisional { None } else { self.ack.clone() })
            }
            // RFC 6026: 2xx retransmissions (and 2xx from other forks) go up;
            // the ACK for a 2xx is end to end, not ours.
            (Kind::Invite, ClientState::Accepted) => ClientRx {
                forward: success,
                ack: None,
            },
            (Kind::NonInvite, ClientState::Trying | ClientState::Proceeding) => {
                if provisional {
                    if self.state == ClientState::Trying && !self.reliable {
                        // Timer E continues at T2 while proceeding.
                        self.interval = self.timers.t2;
                    }
                    self.state = ClientState::Proceeding;
                } else {
                    self.state = ClientState::Completed;
                    self.deadlines.retransmit = None;
                    self.deadlines.timeout = None;
                    self.deadlines.end = Some(
                        now + if self.reliable {
                            Duration::ZERO
                        } else {
                            self.timers.t4
                        },
                    );
                }
                forward(None)
            }
            (Kind::NonInvite, _) => absorb(None),
            (Kind::Invite, ClientState::Trying) => absorb(None),
        }
    }

    fn enter_accepted(&mut self, now: Instant) {
        self.state = ClientState::Accepted;
        self.deadlines.retransmit = None;
        self.deadlines.timeout = None;
        self.deadlines.end = Some(now + self.timers.t64());
    }

    /// When the transaction next needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Output> {
        match self.deadlines.due(now)? {
            Due::End => {
                self.terminate();
                None
            }
            Due::Timeout
                if self.kind == Kind::Invite
                    && self.state == ClientState::Proceeding
                    && !self.timer_c_fired =>
            {
                self.timer_c_fired = true;
                self.deadlines.timeout = Some(now + self.timers.t64());
                Some(Output::TimerC)
            }
            Due::Timeout => {
                self.terminate();
                Some(Output::Timeout)
            }
            Due::Retransmit => {
                self.interval = match self.kind {
                    Kind::Invite => self.interval * 2,
                    Kind::NonInvite if self.state == ClientState::Proceeding => self.timers.t2,
                    Kind::NonInvite => (self.interval * 2).min(self.timers.t2),
                };
                self.deadlines.retransmit = Some(now + self.interval);
                Some(Output::Retransmit(self.request.clone()))
            }
        }
    }

    fn terminate(&mut self) {
        self.state = ClientState::Terminated;
        self.deadlines = Deadlines::default();
    }
}

/// Server transaction states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, nothing sent yet.
    Trying,
    /// A provisional response was sent (an INVITE starts here).
    Proceeding,
    /// A final response was sent (non-2xx for an INVITE); repeats of the
    /// request get it again.
    Completed,
    /// INVITE: the ACK for the non-2xx final arrived.
    Confirmed,
    /// RFC 6026: a 2xx to the INVITE was sent.
    Accepted,
    Terminated,
}

/// A server transaction: a request this element received.
#[derive(Debug)]
pub struct ServerTx {
    kind: Kind,
    reliable: bool,
    state: ServerState,
    timers: Timers,
    last_response: Option<Bytes>,
    deadlines: Deadlines,
    interval: Duration,
}

impl ServerTx {
    pub fn new(kind: Kind, reliable: bool, timers: Timers) -> ServerTx {
        ServerTx {
            kind,
            reliable,
            state: match kind {
                Kind::Invite => ServerState::Proceeding,
                Kind::NonInvite => ServerState::Trying,
            },
            timers,
            last_response: None,
            deadlines: Deadlines::default(),
            interval: timers.t1,
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// The request arrived again: the response to send back, if one was
    /// sent already (RFC 3261 §17.2.1/§17.2.2). The repeat is absorbed
    /// either way.
    pub fn on_request_retransmission(&self) -> Option<Bytes> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => self.last_response.clone(),
            _ => None,
        }
    }

    /// The owner sends response `code` (bytes `response`) through this
    /// transaction. Returns `false` when the transaction is past the point
    /// of sending it (a final was already sent): the owner must not send.
    pub fn send_response(&mut self, now: Instant, code: u16, response: Bytes) -> bool {
        if !matches!(self.state, ServerState::Trying | ServerState::Proceeding) {
            // RFC 6026: 2xx retransmissions from the UAS still pass through
            // an INVITE server transaction in Accepted.
            return self.state == ServerState::Accepted && (200..300).contains(&code);
        }
        self.last_response = Some(response.clone());
        if code < 200 {
            self.state = ServerState::Proceeding;
            return true;
        }
        match self.kind {
            Kind::Invite if code < 300 => {
                self.state = ServerState::Accepted;
                self.deadlines.end = Some(now + self.timers.t64());
            }
            Kind::Invite => {
                self.state = ServerState::Completed;
                if !self.reliable {
                    self.deadlines.retransmit = Some(now + self.timers.t1);
                }
                self.deadlines.timeout = Some(now + self.timers.t64());
            }
            Kind::NonInvite => {
                self.state = ServerState::Completed;
                self.deadlines.end = Some(
                    now + if self.reliable {
                        Duration::ZERO
                    } else {
                        self.timers.t64()
                    },
                );
            }
        }
        true
    }

    /// An ACK matched this (INVITE) transaction. Returns `true` when the
    /// transaction absorbs it (it acknowledges our non-2xx final); `false`
    /// when it is not ours to absorb (an ACK for a 2xx goes end to end).
    pub fn on_ack(&mut self, now: Instant) -> bool {
        match self.state {
            ServerState::Completed if self.kind == Kind::Invite => {
                self.state = ServerState::Confirmed;
                self.deadlines.retransmit = None;
                self.deadlines.timeout = None;
                self.deadlines.end = Some(
                    now + if self.reliable {
                        Duration::ZERO
                    } else {
                        self.timers.t4
                    },
                );
                true
            }
            ServerState::Confirmed => true,
            _ => false,
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<Output> {
        match self.deadlines.due(now)? {
            Due::End => {
                self.terminate();
                None
            }
            Due::Timeout => {
                self.terminate();
                Some(Output::NoAck)
            }
            Due::Retransmit => {
                self.interval = (self.interval * 2).min(self.timers.t2);
                self.deadlines.retransmit = Some(now + self.interval);
                self.last_response.clone().map(Output::Retransmit)
            }
        }
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.deadlines = Deadlines::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Drives `tx` by its own timeouts until `until`, collecting outputs with
    /// the offset (ms from `t0`) at which they came.
    fn run_client(tx: &mut ClientTx, t0: Instant, until: Duration) -> Vec<(u64, Output)> {
        let mut out = Vec::new();
        while let Some(t) = tx.poll_timeout() {
            if t > t0 + until {
                break;
            }
            if let Some(o) = tx.handle_timeout(t) {
                out.push(((t - t0).as_millis() as u64, o));
            }
        }
        out
    }

    #[test]
    fn invite_over_udp_retransmits_doubling_then_times_out_at_64_t1() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::Invite,
            Bytes::from_static(b"INVITE"),
            false,
            t0,
            Timers::default(),
        );
        let out = run_client(&mut tx, t0, Duration::from_secs(60));
        let when: Vec<u64> = out.iter().map(|(t, _)| *t).collect();
        // A at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s.
        assert_eq!(when, vec![500, 1500, 3500, 7500, 15500, 31500, 32000]);
        assert_eq!(out.last().unwrap().1, Output::Timeout);
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_over_tcp_never_retransmits() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::Invite,
            Bytes::from_static(b"INVITE"),
            true,
            t0,
            Timers::default(),
        );
        assert_eq!(
            run_client(&mut tx, t0, Duration::from_secs(60)),
            vec![(32000, Output::Timeout)]
        );
    }

    #[test]
    fn provisional_stops_invite_retransmissions_and_non_2xx_is_acked_and_absorbed() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::Invite,
            Bytes::from_static(b"INVITE"),
            false,
            t0,
            Timers::default(),
        );
        let rx = tx.on_response(t0 + ms(100), 180, || unreachable!());
        assert_eq!(
            rx,
            ClientRx {
                forward: true,
                ack: None
            }
        );
        assert_eq!(tx.state(), ClientState::Proceeding);
        let rx = tx.on_response(t0 + ms(5000), 486, || Bytes::from_static(b"ACK"));
        assert_eq!(
            rx,
            ClientRx {
                forward: true,
                ack: Some(Bytes::from_static(b"ACK"))
            }
        );
        assert_eq!(tx.state(), ClientState::Completed);
        // The repeated 486 is absorbed and ACKed again, without building a new ACK.
        let rx = tx.on_response(t0 + ms(5400), 486, || panic!("ACK built twice"));
        assert_eq!(
            rx,
            ClientRx {
                forward: false,
                ack: Some(Bytes::from_static(b"ACK"))
            }
        );
        // Timer D: 32 s after the final.
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + ms(5000) + Duration::from_secs(32))
        );
        assert_eq!(run_client(&mut tx, t0, Duration::from_secs(60)), vec![]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_2xx_enters_accepted_and_forwards_retransmitted_2xx() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::Invite,
            Bytes::from_static(b"INVITE"),
            false,
            t0,
            Timers::default(),
        );
        assert!(tx.on_response(t0 + ms(10), 200, || unreachable!()).forward);
        assert_eq!(tx.state(), ClientState::Accepted);
        assert_eq!(
            tx.on_response(t0 + ms(600), 200, || unreachable!()),
            ClientRx {
                forward: true,
                ack: None
            }
        );
        assert!(!tx.on_response(t0 + ms(700), 180, || unreachable!()).forward);
        // Timer M = 64·T1, and nothing else fires (no B timeout after a 2xx).
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + ms(10) + Duration::from_secs(32))
        );
        assert_eq!(run_client(&mut tx, t0, Duration::from_secs(60)), vec![]);
        assert!(tx.is_terminated());
    }

    #[test]
    fn non_invite_retransmits_capped_at_t2_and_t2_after_provisional() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::NonInvite,
            Bytes::from_static(b"BYE"),
            false,
            t0,
            Timers::default(),
        );
        let out = run_client(&mut tx, t0, Duration::from_secs(8));
        let when: Vec<u64> = out.iter().map(|(t, _)| *t).collect();
        // E: 0.5, 1.5, 3.5, then every 4 s (T2).
        assert_eq!(when, vec![500, 1500, 3500, 7500]);
        let mut tx = ClientTx::new(
            Kind::NonInvite,
            Bytes::from_static(b"BYE"),
            false,
            t0,
            Timers::default(),
        );
        tx.on_response(t0 + ms(100), 100, || unreachable!());
        let out = run_client(&mut tx, t0, Duration::from_secs(6));
        let when: Vec<u64> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(when, vec![500, 4500]);
    }

    #[test]
    fn non_invite_final_then_timer_k() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::NonInvite,
            Bytes::from_static(b"BYE"),
            false,
            t0,
            Timers::default(),
        );
        assert!(tx.on_response(t0 + ms(50), 200, || unreachable!()).forward);
        assert!(!tx.on_response(t0 + ms(60), 200, || unreachable!()).forward);
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + ms(50) + Duration::from_secs(5))
        );
        let mut tcp = ClientTx::new(
            Kind::NonInvite,
            Bytes::from_static(b"BYE"),
            true,
            t0,
            Timers::default(),
        );
        tcp.on_response(t0 + ms(50), 200, || unreachable!());
        assert_eq!(tcp.poll_timeout(), Some(t0 + ms(50)));
        tcp.handle_timeout(t0 + ms(50));
        assert!(tcp.is_terminated());
    }

    #[test]
    fn non_invite_times_out_with_timer_f() {
        let t0 = Instant::now();
        let mut tx = ClientTx::new(
            Kind::NonInvite,
            Bytes::from_static(b"OPTIONS"),
            true,
            t0,
            Timers::default(),
        );
        assert_eq!(
            run_client(&mut tx, t0, Duration::from_secs(40)),
            vec![(32000, Output::Timeout)]
        );
    }

    #[test]
    fn configured_timers_are_used() {
        let t0 = Instant::now();
        let timers = Timers {
            t1: ms(100),
            t2: ms(400),
            t4: ms(1000),
            c: ms(20_000),
        };
        let mut tx = ClientTx::new(
            Kind::Invite,
            Bytes::from_static(b"INVITE"),
            true,
            t0,
            timers,
        );
        assert_eq!(
            run_client(&mut tx, t0, Duration::from_secs(60)),
            vec![(6400, Output::Timeout)]
        );
    }

    #[test]
    fn invite_server_non_2xx_retransmits_until_ack_then_timer_i() {
        let t0 = Instant::now();
        let mut tx = ServerTx::new(Kind::Invite, false, Timers::default());
        assert_eq!(tx.on_request_retransmission(), None);
        assert!(tx.send_response(t0, 100, Bytes::from_static(b"100")));
        assert_eq!(
            tx.on_request_retransmission(),
            Some(Bytes::from_static(b"100"))
        );
        assert!(tx.send_response(t0 + ms(10), 486, Bytes::from_static(b"486")));
        assert!(
            !tx.send_response(t0 + ms(20), 200, Bytes::from_static(b"200")),
            "no 2xx after a final"
        );
        assert_eq!(
            tx.on_request_retransmission(),
            Some(Bytes::from_static(b"486"))
        );
        // G: 0.5, 1.0 (capped doubling: 0.5, 1, 2, 4, 4...) after the final.
        assert_eq!(
            tx.handle_timeout(t0 + ms(510)),
            Some(Output::Retransmit(Bytes::from_static(b"486")))
        );
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(1510)));
        assert!(tx.on_ack(t0 + ms(1200)));
        assert_eq!(tx.state(), ServerState::Confirmed);
        assert_eq!(
            tx.poll_timeout(),
            Some(t0 + ms(1200) + Duration::from_secs(5))
        );
        assert_eq!(tx.handle_timeout(t0 + ms(6200)), None);
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_server_without_ack_reports_timer_h() {
        let t0 = Instant::now();
        let mut tx = ServerTx::new(Kind::Invite, true, Timers::default());
        tx.send_response(t0, 603, Bytes::from_static(b"603"));
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        assert_eq!(
            tx.handle_timeout(t0 + Duration::from_secs(32)),
            Some(Output::NoAck)
        );
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_server_2xx_is_accepted_and_its_ack_is_not_absorbed() {
        let t0 = Instant::now();
        let mut tx = ServerTx::new(Kind::Invite, false, Timers::default());
        assert!(tx.send_response(t0, 200, Bytes::from_static(b"200")));
        assert_eq!(tx.state(), ServerState::Accepted);
        assert!(
            tx.send_response(t0 + ms(500), 200, Bytes::from_static(b"200")),
            "2xx retransmissions pass"
        );
        assert!(
            !tx.on_ack(t0 + ms(600)),
            "the ACK for a 2xx goes end to end"
        );
        assert_eq!(tx.on_request_retransmission(), None);
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    }

    #[test]
    fn non_invite_server_answers_repeats_then_timer_j() {
        let t0 = Instant::now();
        let mut tx = ServerTx::new(Kind::NonInvite, false, Timers::default());
        assert_eq!(tx.on_request_retransmission(), None);
        tx.send_response(t0, 200, Bytes::from_static(b"200"));
        assert_eq!(
            tx.on_request_retransmission(),
            Some(Bytes::from_static(b"200"))
        );
        assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
        let mut tcp = ServerTx::new(Kind::NonInvite, true, Timers::default());
        tcp.send_response(t0, 200, Bytes::from_static(b"200"));
        assert_eq!(tcp.poll_timeout(), Some(t0));
    }
}
