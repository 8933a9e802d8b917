// The agent's browser softphone: registers over WSS through sipedge, shows
// an incoming call, answers it, and ends it with the "End call" button.
// The state is in #status's data-state (registered, incoming, in-call,
// ended) so a test (e2e.mjs) can follow it.
(function () {
  const q = new URLSearchParams(location.search);
  const ws = q.get('ws') || 'wss://127.0.0.1:8443/';
  const user = q.get('user') || '1001';
  const domain = q.get('domain') || 'pbx.example.com';
  const statusEl = document.getElementById('status');
  const answerBtn = document.getElementById('answer');
  const hangupBtn = document.getElementById('hangup');
  document.getElementById('ws').value = ws;
  document.getElementById('aor').value = `sip:${user}@${domain}`;

  function show(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text;
    console.log(`softphone: ${state}: ${text}`);
  }

  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(ws)],
    uri: `sip:${user}@${domain}`,
    register: true,
    register_expires: 300,
    session_timers: false,
    user_agent: 'sipedge-softphone (JsSIP)',
  });
  let session = null;

  ua.on('registered', () => show('registered', `registered as ${user}`));
  ua.on('registrationFailed', (e) => show('error', `registration failed: ${e.cause}`));
  ua.on('disconnected', () => { if (statusEl.dataset.state !== 'ended') show('disconnected', 'WebSocket closed'); });
  ua.on('newRTCSession', (e) => {
    if (e.originator !== 'remote' || session) return;
    session = e.session;
    const from = session.remote_identity;
    document.getElementById('remote').textContent = `${from.display_name || ''} ${from.uri}`;
    show('incoming', `incoming call from ${from.uri.user}`);
    answerBtn.disabled = false;
    // Answer with the candidates gathered in the first half second rather
    // than waiting for gathering to finish (which can take long on hosts
    // with many interfaces); more come by trickle-less retry anyway.
    let readyTimer = null;
    session.on('icecandidate', (ev) => {
      if (!readyTimer) readyTimer = setTimeout(() => ev.ready(), 500);
    });
    session.on('accepted', () => console.log('softphone: 200 OK sent'));
    session.on('peerconnection', (ev) => {
      ev.peerconnection.addEventListener('icegatheringstatechange', () =>
        console.log(`softphone: ice gathering ${ev.peerconnection.iceGatheringState}`));
    });
    session.on('getusermediafailed', (ev) => console.log(`softphone: getUserMedia failed: ${ev}`));
    session.on('peerconnection:createanswerfailed', (ev) => console.log(`softphone: createAnswer failed: ${ev}`));
    session.on('peerconnection:setremotedescriptionfailed', (ev) => console.log(`softphone: setRemoteDescription failed: ${ev}`));
    session.on('confirmed', () => {
      show('in-call', `in call with ${from.uri.user}`);
      hangupBtn.disabled = false;
    });
    session.on('ended', (ev) => {
      show('ended', `call ended by ${ev.originator === 'local' ? 'you' : 'the contact'}`);
      answerBtn.disabled = hangupBtn.disabled = true;
      session = null;
    });
    session.on('failed', (ev) => {
      show('ended', `call failed: ${ev.cause}`);
      answerBtn.disabled = hangupBtn.disabled = true;
      session = null;
    });
  });

  answerBtn.addEventListener('click', () => {
    console.log(`softphone: answer clicked (session ${session ? session.status : 'none'})`);
    if (!session) return;
    answerBtn.disabled = true;
    show('answering', 'answering');
    try {
      session.answer({
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
      });
    } catch (e) {
      show('error', `cannot answer: ${e}`);
    }
  });
  window.addEventListener('unhandledrejection', (e) => console.log(`softphone: error: ${e.reason}`));
  window.addEventListener('error', (e) => console.log(`softphone: error: ${e.message}`));
  hangupBtn.addEventListener('click', () => {
    if (session) session.terminate();
  });

  show('registering', `registering ${user} at ${ws}`);
  ua.start();
})();
