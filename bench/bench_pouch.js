// SPDX-License-Identifier: MIT
//
// bench_pouch.js - the PouchDB reference of bench/goals.sh: the same
// number of record-shaped JSON documents of the same size as ntm's
// entries, replicated from a client PouchDB to a PouchDB server over HTTP
// on loopback (push) and from the server into a fresh client (pull).
// A benchmark, not a test. pouchdb-node, express-pouchdb and express are
// installed by bench/goals.sh outside the source tree (NODE_PATH).
//
// Usage:
//   node bench_pouch.js serve <dir> <port>
//       a PouchDB server (express-pouchdb, LevelDB files under <dir>) on
//       127.0.0.1:<port>; prints "listening" when ready, stops on SIGTERM
//   node bench_pouch.js run <dir> <url> <n> <doc-bytes> [<batch>]
//       writes n documents of about <doc-bytes> bytes of JSON into a
//       client database (untimed), replicates them to <url>/bench (push),
//       then from there into a fresh client (pull), batches of <batch>
//       documents (default 500, ntm's push batch); prints one JSON line
//       with the times and the loopback bytes of each direction
'use strict';

const PouchDB = require('pouchdb-node');
const crypto = require('crypto');

// One author for all documents, as one device pushes ntm's entries.
const AUTHOR = crypto.randomBytes(32).toString('hex');

function hex(i, width) {
  let s = i.toString(16);
  while (s.length < width) s = '0' + s;
  return s.slice(-width);
}

// A document shaped like a record.create entry of ntm (author, record id,
// unit, organisation, fields, clock, signature), padded with a note to
// bytes of JSON. The signature and the padding are random, as incompressible
// as ntm's signatures and hashes.
function makeDoc(i, bytes) {
  const d = {
    _id: hex(i * 2654435761 % 4294967296, 8) + hex(i, 24),
    author: AUTHOR,
    seq: i + 1,
    ts: 1700000000000 + i,
    op: 'record.create',
    kind: 'activity',
    unit: '72.710.25657',
    org: 'doan',
    fields: {
      task: 'doan.rural_roads_km',
      date: '2019-05-17',
      qty: '1.5',
      uom: 'km',
      title: 'Hoạt động số ' + i,
    },
    sig: crypto.randomBytes(64).toString('base64'),
    note: '',
  };
  const have = Buffer.byteLength(JSON.stringify(d));
  if (have < bytes) {
    d.note = crypto.randomBytes(bytes - have).toString('base64')
        .slice(0, bytes - have);
  }
  return d;
}

async function serve(dir, port) {
  const express = require('express');
  const P = PouchDB.defaults({prefix: dir + '/'});
  const app = express();
  app.use('/', require('express-pouchdb')(P, {
    mode: 'minimumForPouchDB',
    logPath: dir + '/log.txt',
    configPath: dir + '/config.json',
  }));
  const srv = app.listen(port, '127.0.0.1', () => console.log('listening'));
  process.on('SIGTERM', () => srv.close(() => process.exit(0)));
}

// Bytes received on the loopback interface so far (bench/goals.sh runs
// inside a private network namespace, where they are this run's alone).
function loBytes() {
  try {
    const line = require('fs').readFileSync('/proc/net/dev', 'utf8')
        .split('\n').find((l) => /^\s*lo:/.test(l));
    return Number(line.split(':')[1].trim().split(/\s+/)[0]);
  } catch (e) {
    return NaN;
  }
}

async function run(dir, url, n, bytes, batch) {
  const src = new PouchDB(dir + '/client');
  let size = 0;
  for (let i = 0; i < n; i += 1000) {
    const docs = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const d = makeDoc(j, bytes);
      size += Buffer.byteLength(JSON.stringify(d));
      docs.push(d);
    }
    await src.bulkDocs(docs);
  }
  const opts = {batch_size: batch, batches_limit: 10};
  const b0 = loBytes();
  let t0 = process.hrtime.bigint();
  const up = await PouchDB.replicate(src, url + '/bench', opts);
  const push = Number(process.hrtime.bigint() - t0) / 1e9;
  await src.close();
  const b1 = loBytes();
  const dst = new PouchDB(dir + '/client2');
  t0 = process.hrtime.bigint();
  const down = await PouchDB.replicate(url + '/bench', dst, opts);
  const pull = Number(process.hrtime.bigint() - t0) / 1e9;
  const b2 = loBytes();
  const info = await dst.info();
  await dst.close();
  console.log(JSON.stringify({
    n,
    doc_bytes: Math.round(size / n),
    push_s: push,
    pushed: up.docs_written,
    pull_s: pull,
    pulled: down.docs_written,
    pulled_count: info.doc_count,
    push_lo: b1 - b0,
    pull_lo: b2 - b1,
  }));
}

const [mode, dir, a, b, c, d] = process.argv.slice(2);
const main = mode === 'serve' ? serve(dir, Number(a))
    : mode === 'run' ? run(dir, a, Number(b), Number(c), Number(d || 500))
    : Promise.reject(new Error('usage: bench_pouch.js serve|run ...'));
main.catch((e) => {
  console.error('bench_pouch: ' + (e && e.stack || e));
  process.exit(1);
});
