#!/usr/bin/env node
// Node `ws` clients for tests/proxy/run.sh (the twin of `py_peers.py clients`).
//
// Opens N "idle" and M "control" WebSocket connections at once to
// ws://127.0.0.1:PORT (nginx in front of the Python echo server).  An idle
// client (path /idle/node-I) sends two messages, reads their echoes, then
// stays silent (ws never pings on its own) until the connection is taken
// down under it.  A control client (path /control/node-I) sends one message,
// reads the echo, waits a little (well under the proxy timeout) and closes
// with 1000.  One JSON line per client goes to OUT: lang, kind, name,
// client_port, the close code ws reports (1006 = no close frame received),
// whether a close frame was received, seconds from the last echo to the end.
//
// The `ws` package is the one tests/peers installs (tests/peers/node_modules).
// Usage: node node_clients.js --port P --idle N --control M --expect OUT.jsonl
// Exit status 0 if every client behaved as planned, 1 otherwise.
'use strict';

const fs = require('fs');
const path = require('path');

const { WebSocket } = require(require.resolve('ws', { paths: [path.join(__dirname, '..', 'peers')] }));

const IDLE_LIMIT_MS = 10000;
const CONTROL_DELAYS_MS = [500, 1000, 1500, 2000];

function parseArgs(argv) {
  const args = { idle: 6, control: 2 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--idle') args.idle = Number(argv[++i]);
    else if (a === '--control') args.control = Number(argv[++i]);
    else if (a === '--expect') args.expect = argv[++i];
    else {
      process.stderr.write(`node_clients: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  if (!args.port || !args.expect) {
    process.stderr.write('usage: node_clients.js --port P --idle N --control M --expect OUT.jsonl\n');
    process.exit(2);
  }
  return args;
}

// One client: resolves with its record once the connection is closed.
function runClient(port, kind, i) {
  return new Promise((resolve) => {
    const name = `node-${i}`;
    const rec = { lang: 'node', kind, name };
    const ws = new WebSocket(`ws://127.0.0.1:${port}/${kind}/${name}`, { perMessageDeflate: false });
    const want = kind === 'idle' ? 2 : 1;
    let got = 0;
    let last = 0;
    let closeFrame = false;
    const limit = setTimeout(() => {
      rec.error = 'not closed in time';
      ws.terminate();
    }, IDLE_LIMIT_MS);
    ws.on('open', () => {
      rec.client_port = ws._socket.localPort;
      for (let n = 0; n < want; n++) ws.send(`${kind} ${name} message ${n}`);
    });
    ws.on('message', () => {
      got += 1;
      if (got < want) return;
      last = Date.now();
      if (kind === 'control') {
        setTimeout(() => ws.close(1000), CONTROL_DELAYS_MS[i % CONTROL_DELAYS_MS.length]);
      }
    });
    // ws sets this flag when a close frame came in from the other side.
    ws.on('close', (code) => {
      clearTimeout(limit);
      closeFrame = ws._closeFrameReceived === true;
      rec.close_code = code;
      rec.close_frame_received = closeFrame;
      if (kind === 'idle') rec.idle_s = Math.round(Date.now() - last) / 1000;
      rec.ok = !rec.error && got === want && (kind === 'idle' ? (code === 1006 || closeFrame) : code === 1000);
      resolve(rec);
    });
    ws.on('error', (err) => { rec.error = String(err); });
  });
}

async function main() {
  const args = parseArgs(process.argv);
  const runs = [];
  for (let i = 0; i < args.idle; i++) runs.push(runClient(args.port, 'idle', i));
  for (let i = 0; i < args.control; i++) runs.push(runClient(args.port, 'control', i));
  const results = await Promise.all(runs);
  let failures = 0;
  for (const r of results) {
    if (!r.ok) {
      failures += 1;
      process.stderr.write(`node_clients: client failed: ${JSON.stringify(r)}\n`);
    }
  }
  fs.writeFileSync(args.expect, results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  process.exit(failures ? 1 : 0);
}

main();
