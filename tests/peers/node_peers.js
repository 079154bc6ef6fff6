#!/usr/bin/env node
// Real WebSocket peers (Node, the `ws` 8.x package) for the wsstats e2e tests.
//
// The Node twin of py_peers.py: one process runs a WebSocket server on
// 127.0.0.1:PORT and [::1]:PORT (plain http servers + a noServer
// WebSocketServer, so an upgrade can also be refused with 403) and the
// clients that connect to it, one connection per scenario of scenarios.json
// (or a random realistic mix with --demo N).  For every connection it appends
// one JSON object to the expectations file (--expect): the connection's key
// (client_ip, client_port, server_ip, server_port) and the values wsstatsd
// must record for it.  tests/e2e/check.py compares them with the DB and,
// independently, with tshark's dissection of the capture.
//
// The server learns a connection's scenario from the request header
// X-Test-Plan.  Connections with end {hold: true} stay open: after all others
// are done the process prints "HOLDING <n>" on stdout and waits for SIGUSR2
// (sent once tcpdump has stopped), then closes them and exits.  --no-hold
// releases them at once.
//
// Usage: node node_peers.js --port P --expect OUT.jsonl [--scenarios FILE]
//                           [--demo N [--seed S] [--spread-ms MS]] [--no-hold]
// Exit status: 0 if every scenario ran as planned, 1 otherwise.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const { once } = require('events');
const { WebSocket, WebSocketServer } = require('ws');

const PEER = 'node';
const PLAN_HEADER = 'x-test-plan';
const OVERALL_TIMEOUT_MS = 40000;
const HOLD_TIMEOUT_MS = 30000;

// After a complete close handshake ws ends TCP on both sides: the side that
// answered the close frame calls socket.end() as soon as its answer is
// written, the initiator only once that answer has arrived, so the
// responder's FIN comes first (RFC 6455 §7.1.1 wants the server first; ws
// does not do that).
function cleanTermination(initiator) {
  return initiator === 'client' ? 'fin_server' : 'fin_client';
}

// ------------------------------------------------------------- arguments

function parseArgs(argv) {
  const args = {
    scenarios: path.join(__dirname, 'scenarios.json'), demo: 0, seed: 6455, spreadMs: 3000, noHold: false,
  };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--expect') args.expect = argv[++i];
    else if (a === '--scenarios') args.scenarios = argv[++i];
    else if (a === '--demo') args.demo = Number(argv[++i]);
    else if (a === '--seed') args.seed = Number(argv[++i]);
    else if (a === '--spread-ms') args.spreadMs = Number(argv[++i]);
    else if (a === '--no-hold') args.noHold = true;
    else usage(`unknown argument ${a}`);
  }
  if (!args.port || !args.expect) usage('--port and --expect are required');
  return args;
}

function usage(msg) {
  process.stderr.write(`node_peers: ${msg}\nusage: node_peers.js --port P --expect OUT.jsonl ` +
    '[--scenarios FILE] [--demo N [--seed S] [--spread-ms MS]] [--no-hold]\n');
  process.exit(2);
}

// ------------------------------------------------------------- scenarios

function e2ePlans(table) {
  return table.scenarios
    .filter((sc) => (sc.only || PEER) === PEER)
    .map((sc) => ({
      send: table.default_send, pings: 0, ip: '127.0.0.1', path: `/${sc.name}`,
      idle_ms: 0, start_ms: 0, ...sc,
    }));
}

// mulberry32: a tiny seeded PRNG, so a demo run is reproducible.
function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function demoPlans(table, count, seed, spreadMs) {
  const demo = table.demo;
  const rng = makeRng(seed);
  const pick = (list) => list[Math.floor(rng() * list.length)];
  const int = (lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));
  const total = demo.templates.reduce((s, [w]) => s + w, 0);
  const weighted = () => {
    let r = rng() * total;
    for (const [w, tpl] of demo.templates) if ((r -= w) < 0) return tpl;
    return demo.templates[0][1];
  };
  const plans = [];
  for (let i = 0; i < count; i++) {
    let tpl = weighted();
    if (i === Math.floor(count / 2)) tpl = { end: { hold: true } }; // one left open
    const send = [];
    for (let n = int(1, 6); n > 0; n--) {
      send.push({ type: pick(['text', 'text', 'binary']), size: rng() < 0.03 ? 70000 : int(2, 1500) });
    }
    const plan = {
      name: `mix-${String(i).padStart(3, '0')}-${endLabel(tpl.end)}`,
      ip: rng() < 0.2 ? '::1' : '127.0.0.1',
      path: pick(demo.paths),
      user_agent: pick(demo.user_agents),
      origin: pick(demo.origins),
      subprotocols: pick(demo.subprotocols),
      send,
      pings: pick([0, 0, 0, 1, 2]),
      idle_ms: int(0, 400),
      start_ms: int(0, spreadMs),
      ...tpl,
    };
    if (!plan.subprotocols) delete plan.subprotocols;
    plans.push(plan);
  }
  return plans;
}

// Short name of an ending, e.g. server-close-1001, client-rst, hold.
function endLabel(end) {
  if (end.hold) return 'hold';
  if (end.reject) return `reject-${end.reject}`;
  if (end.tcp) return `${end.by}-${end.tcp}`;
  return `${end.by}-close-${end.code === null ? 'empty' : end.code}${end.then ? '-rst' : ''}`;
}

// Deterministic content: a string for text, a Buffer for binary.
function payload(item, size) {
  const n = size === undefined ? item.size : size;
  if (item.type === 'text') return 'wsstats-e2e '.repeat(Math.floor(n / 12) + 1).slice(0, n);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

function wholeMessage(item) {
  if (!item.fragments) return Buffer.from(payload(item));
  return Buffer.concat(item.fragments.map((n) => Buffer.from(payload(item, n))));
}

// ------------------------------------------------------------- expectations

// Expected DB values from the plan and what the client observed (DESIGN §3).
function derive(plan, obs) {
  const exp = {
    http_status: obs.http_status, handshake_seen: 1, path: plan.path, host: obs.host,
    violations: null, origin: plan.origin || null, user_agent: plan.user_agent || null,
  };
  if (obs.http_status !== 101) {
    return Object.assign(exp, {
      outcome: 'rejected', close_code: null, close_reason: null, close_initiator: null,
      client_close_code: null, server_close_code: null, messages_client: 0, messages_server: 0,
      termination: obs.termination,
    });
  }
  Object.assign(exp, {
    subprotocol: obs.subprotocol, extensions: obs.extensions,
    messages_client: plan.send.length, messages_server: plan.send.length,
    pings: plan.pings, pongs: plan.pings,
  });
  const c = obs.clientFrame;
  const s = obs.serverFrame;
  const first = obs.initiator === 'client' ? c : s;
  Object.assign(exp, {
    close_initiator: obs.initiator,
    client_close_code: c ? c[0] : null,
    client_close_reason: c ? c[1] || null : null,
    server_close_code: s ? s[0] : null,
    server_close_reason: s ? s[1] || null : null,
  });
  if (first) {
    Object.assign(exp, { close_code: first[0], close_reason: first[1] || null,
      outcome: c && s ? 'clean' : 'half_closed' });
  } else if (obs.termination === 'capture_end') {
    Object.assign(exp, { close_code: null, close_reason: null, outcome: 'unfinished' });
  } else {
    Object.assign(exp, { close_code: 1006, close_reason: null, outcome: 'abnormal' });
  }
  exp.termination = obs.termination;
  return exp;
}

function terminationOf(plan) {
  const end = plan.end;
  if (end.hold) return 'capture_end';
  if (end.reject) return 'fin_server'; // the server closes after sending its refusal
  if (end.tcp) return `${end.tcp}_${end.by}`;
  if (end.then === 'rst') return `rst_${end.by}`;
  return cleanTermination(end.by);
}

// ------------------------------------------------------------- raw endings

// A close frame built by hand (RFC 6455 §5.2, §5.5.1); payload <= 125 bytes.
function rawCloseFrame(code, reason, masked) {
  const body = code === null ? Buffer.alloc(0)
    : Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8')]);
  if (!masked) return Buffer.concat([Buffer.from([0x88, body.length]), body]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const data = Buffer.from(body.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from([0x88, 0x80 | body.length]), key, data]);
}

// Carry out plan.end on our side of ws; `isClient` picks the masking.
function endConnection(ws, end, isClient) {
  const sock = ws._socket;
  if (end.tcp === 'rst') sock.resetAndDestroy();
  else if (end.tcp === 'fin') sock.end();                  // FIN, no close frame
  else if (end.then === 'rst') {
    // close frame and RST back to back: the peer cannot answer (half_closed)
    sock.write(rawCloseFrame(end.code, end.reason, isClient));
    sock.resetAndDestroy();
  } else if (end.code === null) ws.close();                // empty close frame
  else ws.close(end.code, end.reason);
}

// ------------------------------------------------------------- server side

function startServers(port, plans) {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: true,
    maxPayload: 0,
    handleProtocols: (offered) => ['chat.v1', 'graphql-transport-ws'].find((p) => offered.has(p)) || false,
  });
  wss.on('connection', (ws, req) => serve(ws, plans.get(req.headers[PLAN_HEADER])));
  const onUpgrade = (req, socket, head) => {
    const plan = plans.get(req.headers[PLAN_HEADER]);
    if (plan && plan.end.reject) {
      const body = 'forbidden by e2e plan\n';
      socket.end(`HTTP/1.1 ${plan.end.reject} Forbidden\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  };
  const servers = ['127.0.0.1', '::1'].map((host) => {
    const srv = http.createServer((req, res) => { res.writeHead(426); res.end(); });
    srv.on('upgrade', onUpgrade);
    srv.listen({ port, host, ipv6Only: host === '::1' });
    return srv;
  });
  return Promise.all(servers.map((s) => once(s, 'listening'))).then(() => servers);
}

// Echo each client message; after the last echo end the connection if the plan says so.
function serve(ws, plan) {
  let remaining = plan.send.length;
  const afterEchoes = () => {
    if (plan.end.by === 'server') setTimeout(() => endConnection(ws, plan.end, false), plan.idle_ms);
  };
  ws.on('error', () => {});          // expected resets
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary }, () => { if (--remaining === 0) afterEchoes(); });
  });
  if (remaining === 0) afterEchoes();
}

// ------------------------------------------------------------- client side

function uriHost(ip) { return ip.includes(':') ? `[${ip}]` : ip; }

async function runClient(plan, port, held) {
  await new Promise((r) => setTimeout(r, plan.start_ms));
  const host = `${uriHost(plan.ip)}:${port}`;
  const headers = { 'X-Test-Plan': plan.id };
  if (plan.user_agent) headers['User-Agent'] = plan.user_agent;
  const opts = { perMessageDeflate: !!plan.compress, headers, maxPayload: 0 };
  if (plan.origin) opts.origin = plan.origin;
  const ws = new WebSocket(`ws://${host}${plan.path}`, plan.subprotocols || [], opts);
  const obs = { host, http_status: 101, termination: terminationOf(plan) };
  const rec = { peer: PEER, scenario: plan.name, client_ip: plan.ip, server_ip: plan.ip, server_port: port };
  ws.on('error', () => {});          // expected resets; outcomes are checked below
  ws.on('upgrade', (res) => { obs.extensions = res.headers['sec-websocket-extensions'] || null; });
  // not events.once(): that would reject on an 'error' event (an expected reset)
  const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve([code, reason])));
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(true));
    ws.once('unexpected-response', (req, res) => {
      rec.client_port = req.socket.localPort;
      obs.http_status = res.statusCode;
      res.resume();
      res.on('end', () => { req.destroy(); resolve(false); });
    });
    closed.then(() => reject(new Error('closed before open')));
  });
  if (!(await opened)) return Object.assign(rec, derive(plan, obs));
  rec.client_port = ws._socket.localPort;
  obs.subprotocol = ws.protocol || null;
  await exchange(ws, plan);
  if (plan.end.hold) {
    held.push(ws);
    Object.assign(obs, { clientFrame: null, serverFrame: null, initiator: null });
    return Object.assign(rec, derive(plan, obs));
  }
  if (plan.end.by === 'client') {
    await new Promise((r) => setTimeout(r, plan.idle_ms));
    endConnection(ws, plan.end, true);
  }
  const [code, reason] = await closed;
  observeClose(ws, plan.end, code, reason.toString('utf8'), obs);
  return Object.assign(rec, derive(plan, obs));
}

// Pings first (each awaiting its pong), then the messages, each awaiting its echo.
async function exchange(ws, plan) {
  for (let i = 0; i < plan.pings; i++) {
    const pong = once(ws, 'pong');
    ws.ping();
    await pong;
  }
  for (const item of plan.send) {
    const echo = once(ws, 'message');
    const binary = item.type === 'binary';
    if (item.fragments) {
      item.fragments.forEach((n, i) => {
        ws.send(payload(item, n), { binary, fin: i === item.fragments.length - 1 });
      });
    } else {
      ws.send(payload(item), { binary });
    }
    const [data] = await echo;
    if (!Buffer.from(data).equals(wholeMessage(item))) throw new Error('echo mismatch');
  }
}

// What went on the wire, as seen from the client: code/reason of the 'close' event
// is the server's frame (1005 empty, 1006 none); ws echoes a received frame as is.
function observeClose(ws, end, code, reason, obs) {
  if (end.tcp || end.then === 'rst') {
    const planned = end.tcp ? null : [end.code === null ? 1005 : end.code, end.reason];
    obs.clientFrame = end.by === 'client' ? planned : null;
    obs.serverFrame = end.by === 'server' ? planned : null;
    obs.initiator = planned ? end.by : null;
    return;
  }
  const received = ws._closeFrameReceived ? [code, reason] : null;
  let sent = null;
  if (ws._closeFrameSent) {
    sent = end.by === 'client' ? [end.code === null ? 1005 : end.code, end.reason] : received;
  }
  obs.clientFrame = sent;
  obs.serverFrame = received;
  obs.initiator = end.by;
}

// ------------------------------------------------------------- orchestration

function waitForRelease(noHold) {
  if (noHold) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`node_peers: no SIGUSR2 within ${HOLD_TIMEOUT_MS / 1000}s, releasing\n`);
      resolve();
    }, HOLD_TIMEOUT_MS);
    process.once('SIGUSR2', () => { clearTimeout(timer); resolve(); });
  });
}

async function guarded(promise) {
  try { return await promise; } catch (e) { return e instanceof Error ? e : new Error(String(e)); }
}

async function main() {
  const args = parseArgs(process.argv);
  const table = JSON.parse(fs.readFileSync(args.scenarios, 'utf8'));
  const plans = args.demo ? demoPlans(table, args.demo, args.seed, args.spreadMs) : e2ePlans(table);
  const byId = new Map();
  plans.forEach((p, i) => { p.id = `${PEER}-${i}`; byId.set(p.id, p); });
  process.on('SIGUSR2', () => {});   // until waitForRelease: never die of an early signal
  const servers = await startServers(args.port, byId);
  const held = [];
  let results;
  if (args.demo) {
    results = await Promise.all(plans.map((p) => guarded(runClient(p, args.port, held))));
  } else {
    results = [];
    for (const p of plans) results.push(await guarded(runClient(p, args.port, held)));
  }
  let failures = 0;
  const lines = results.map((res, i) => {
    if (res instanceof Error) {
      failures++;
      process.stderr.write(`node_peers: ${plans[i].name} failed: ${res.stack}\n`);
      return JSON.stringify({ peer: PEER, scenario: plans[i].name, peer_error: String(res) });
    }
    return JSON.stringify(res);
  });
  fs.writeFileSync(args.expect, lines.map((l) => `${l}\n`).join(''));
  process.stdout.write(`HOLDING ${held.length}\n`);
  await waitForRelease(args.noHold);
  await Promise.all(held.map((ws) => {
    const closing = new Promise((resolve) => ws.once('close', resolve));
    ws.close(1000, 'released after capture');
    return closing;
  }));
  servers.forEach((s) => s.close());
  return failures ? 1 : 0;
}

const watchdog = setTimeout(() => {
  process.stderr.write('node_peers: timed out\n');
  process.exit(1);
}, OVERALL_TIMEOUT_MS + HOLD_TIMEOUT_MS);
main().then((rc) => { clearTimeout(watchdog); process.exit(rc); },
  (e) => { process.stderr.write(`node_peers: ${e.stack}\n`); process.exit(1); });
