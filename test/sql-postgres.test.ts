import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SequenceChunk } from '../src/io/dataset.js';
import { openPostgresTable } from '../src/io/engines/postgres.js';
import { comparePasses, randomData } from './sql-fixtures.js';

/**
 * Against a real PostgreSQL 15 server: a throw-away cluster (initdb -A trust in a temp dir owned by `postgres`,
 * loopback port, socket in the same dir), started once for this file and ALWAYS stopped and deleted in `after`
 * (which node:test runs when a test fails too; a process 'exit' hook covers an aborted run). Skipped, saying
 * why, only when the server binaries are absent.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const skip = !existsSync(path.join(BIN, 'initdb')) ? `PostgreSQL 15 binaries not found in ${BIN}` : false;

let dir = '';
let port = 0;
let started = false;
const asPostgres = (cmd: string, args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', path.join(BIN, cmd), ...args], { stdio: 'pipe', timeout: 60_000 });

function stopCluster(): void {
  if (started) {
    try {
      asPostgres('pg_ctl', ['-D', path.join(dir, 'db'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    started = false;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const url = (user = 'postgres', password?: string) => `postgres://${user}${password ? `:${password}` : ''}@127.0.0.1:${port}/postgres`;

async function sql(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url() });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** A table seq, t, x1.., y1.. with the chunk's rows (float8 text of String(v): exact round trip). */
async function loadTable(name: string, chunk: SequenceChunk): Promise<void> {
  const { dx, dy } = chunk;
  const cols = [...Array.from({ length: dx }, (_, a) => `x${a + 1} float8`), ...Array.from({ length: dy }, (_, i) => `y${i + 1} float8`)];
  await sql(`DROP TABLE IF EXISTS ${name}; CREATE TABLE ${name} (seq integer, t integer, ${cols.join(', ')})`);
  const values: string[] = [];
  let r = 0;
  chunk.lengths.forEach((L, k) => {
    for (let t = 0; t < L; t++, r++) {
      const v = [...chunk.x.subarray(r * dx, (r + 1) * dx), ...chunk.y.subarray(r * dy, (r + 1) * dy)].map((u) => `'${String(u)}'::float8`);
      values.push(`(${k}, ${100 - 7 * t}, ${v.join(', ')})`); // t column decreasing in the step: see the view below
    }
  });
  await sql(`INSERT INTO ${name} VALUES ${values.join(',\n')}`);
}

before(async () => {
  if (skip) return;
  process.on('exit', stopCluster);
  dir = mkdtempSync(path.join(tmpdir(), 'gloree-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), -1);
  port = await freePort();
  asPostgres('initdb', ['-D', path.join(dir, 'db'), '-A', 'trust', '-U', 'postgres']);
  asPostgres('pg_ctl', ['-D', path.join(dir, 'db'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', path.join(dir, 'log'), '-w', 'start']);
  started = true;
});

after(stopCluster);

test('PostgreSQL engine: every pass equals the in-process accumulators (VAR(1) and i.i.d.)', { skip }, async () => {
  const { chunk } = randomData(21);
  await loadTable('data', chunk);
  // Time runs backwards in the table (100 − 7t): order by the negated time so that t increases.
  await sql('CREATE VIEW data_fwd AS SELECT seq, -t AS time, x1, x2, x3, y1, y2 FROM data');
  const src = await openPostgresTable(url(), 'data_fwd', { time: 'time' });
  try {
    await comparePasses(src, chunk, true);
    await comparePasses(src, chunk, false);
  } finally {
    await src.conn.close();
  }
});

test('PostgreSQL engine: bad input gets one-line errors; credentials never appear', { skip }, async () => {
  const secret = 'Sup3r-s3cret-PW';
  await sql(`CREATE ROLE gloree LOGIN PASSWORD '${secret}'`);
  await sql('CREATE TABLE bad (seq integer, t integer, x1 float8, y1 float8, label text); GRANT SELECT ON bad TO gloree');
  await sql("INSERT INTO bad VALUES (0, 1, 1, 2, 'a'), (0, 2, NULL, 3, 'b'), (0, 3, 4, 5, 'c'), (1, 1, 1, 1, 'd'), (1, 1, 2, 2, 'e')");
  const u = url('gloree', secret);
  const fails = async (p: Promise<unknown>, re: RegExp) => {
    await assert.rejects(p, (e: Error) => {
      assert.ok(!e.message.includes(secret), `password in message: ${e.message}`);
      assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
      assert.match(e.message, re);
      return true;
    });
  };
  const open = (table: string, sel = {}) => openPostgresTable(u, table, { time: 't', ...sel });
  const pass1 = async (table: string, sel = {}) => {
    const s = await open(table, sel);
    try {
      await s.inputPass();
    } finally {
      await s.conn.close();
    }
  };
  await fails(open('nosuch'), /127\.0\.0\.1:\d+\/postgres table nosuch: no such table/);
  await fails(open('bad', { x: ['x1', 'x9'] }), /missing column "x9"/);
  await fails(open('bad', { y: ['label'] }), /column "label" has type text; expected a number/);
  await fails(openPostgresTable(u, 'bad'), /has no row order; give the time column/);
  await fails(pass1('bad'), /column "x1" has 1 NULL values/);
  await sql('UPDATE bad SET x1 = 0 WHERE x1 IS NULL');
  await fails(pass1('bad'), /repeat the time column "t" value/);
  await sql("UPDATE bad SET x1 = 'NaN' WHERE seq = 0 AND t = 1");
  await fails(pass1('bad'), /column "x1" has 1 non-finite values/);
  // Wrong port: the client's own error, scrubbed.
  await fails(openPostgresTable(`postgres://gloree:${secret}@127.0.0.1:1/postgres`, 'bad', { time: 't' }), /cannot connect/);
  // The source's name (what messages and model files would carry) has no user-info.
  await sql("UPDATE bad SET x1 = 1 WHERE x1 = 'NaN'; DELETE FROM bad WHERE seq = 1");
  const s = await open('bad');
  try {
    assert.ok(!JSON.stringify({ name: s.name, relation: s.relation }).includes(secret));
    assert.ok(!s.name.includes('gloree@'));
  } finally {
    await s.conn.close();
  }
});
