'use strict';
/*
 * http_load.js - the HTTP load client of `make bench`: full recharge flows per second.
 *
 * One flow is what a paying cardholder causes: POST /api/v1/orders (a unique Idempotency-Key),
 * then the payment provider's signed notification, POST /api/v1/payments/sandbox/notify with
 * X-Sandbox-Signature = lowercase hex HMAC-SHA256 of the raw body. A flow counts when both
 * answer as the contract says (201, then 200); its latency is create + notify. Every
 * BENCH_VERIFY_EVERY-th order is checked after the measurement with GET /api/v1/orders/{no}:
 * it must say "succeeded" (so a notify that answers 200 without crediting is caught), and the
 * ledger must balance (GET /api/v1/admin/ledger/check) when an admin password is given.
 *
 * A fixed number of flows is in flight (BENCH_CONCURRENCY), spread over BENCH_WORKERS worker
 * threads, each with its own event loop and keep-alive agent, so that one JavaScript thread is
 * not the bottleneck. The client shares the machine's cores with lebd: it measures its own CPU
 * (process.cpuUsage, all threads) and lebd's (/proc/PID/stat, given BENCH_SERVER_PID) over the
 * measured window, so the figures can be read honestly.
 *
 * Throughput counts the flows that completed inside the measured window (after the warm-up);
 * p50 and p99 are over those flows' latencies. Every loop is bounded: by the window, by
 * BENCH_MAX_FLOWS, by a time-out on each request and by a hard deadline on the whole run.
 * It exits non-zero when more than 1% of the flows attempted fail, or the ledger does not
 * balance. Its last line is:
 *   http: flows=N seconds=S flows_per_s=N p50_ms=X p99_ms=X errors=N client_cpu_pct=X
 *
 * Environment: BENCH_URL (required), BENCH_SANDBOX_SECRET (default demo-sandbox-secret),
 * BENCH_ADMIN_PASSWORD (to create bench cards and check the ledger), BENCH_CONCURRENCY (64),
 * BENCH_WORKERS (2), BENCH_WARMUP_S (2), BENCH_DURATION_S (15), BENCH_MAX_FLOWS (2000000),
 * BENCH_CARDS (100; 0: only the demo card), BENCH_FACE_AMOUNT (5000), BENCH_VERIFY_EVERY (50),
 * BENCH_VERIFY_MAX (2000), BENCH_REQUEST_TIMEOUT_MS (10000), BENCH_SERVER_PID, BENCH_CLK_TCK
 * (100).
 */

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');

const DEMO_CARD = '8986010000000000018';
const ERROR_FAIL_RATIO = 0.01;
const DISTINCT_ERRORS_MAX = 20; /* distinct error messages kept per worker */
const DISTINCT_ERRORS_SHOWN = 5;
const VERIFY_PARALLEL = 8; /* verification GETs in flight per worker */
const BACKOFF_MS = 20; /* after a failed flow, so a dead server is not hammered in a spin */
const CARD_BATCH_MAX = 1000; /* the admin API's batch limit */

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                             */

function envInt(name, fallback, min, max) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw}: expected an integer in ${min}..${max}`);
  }
  return value;
}

function readConfig() {
  const url = process.env.BENCH_URL;
  if (!url) throw new Error('BENCH_URL is required (the lebd base URL, e.g. http://127.0.0.1:8080)');
  const base = new URL(url);
  if (base.protocol !== 'http:') throw new Error(`BENCH_URL must be http://, got ${url}`);
  const config = {
    host: base.hostname,
    port: Number(base.port || 80),
    secret: process.env.BENCH_SANDBOX_SECRET || 'demo-sandbox-secret',
    adminPassword: process.env.BENCH_ADMIN_PASSWORD || '',
    concurrency: envInt('BENCH_CONCURRENCY', 64, 1, 4096),
    workers: envInt('BENCH_WORKERS', 2, 1, 64),
    warmupS: envInt('BENCH_WARMUP_S', 2, 0, 600),
    durationS: envInt('BENCH_DURATION_S', 15, 1, 3600),
    maxFlows: envInt('BENCH_MAX_FLOWS', 2000000, 1, 100000000),
    cards: envInt('BENCH_CARDS', 100, 0, 100000),
    faceAmount: envInt('BENCH_FACE_AMOUNT', 5000, 1, 100000000),
    verifyEvery: envInt('BENCH_VERIFY_EVERY', 50, 1, 1000000),
    verifyMax: envInt('BENCH_VERIFY_MAX', 2000, 0, 1000000),
    requestTimeoutMs: envInt('BENCH_REQUEST_TIMEOUT_MS', 10000, 100, 600000),
    serverPid: envInt('BENCH_SERVER_PID', 0, 0, 2 ** 31 - 1),
    clockTicks: envInt('BENCH_CLK_TCK', 100, 1, 1000000),
  };
  config.workers = Math.min(config.workers, config.concurrency);
  return config;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP                                                                                       */

/*
 * One request on "agent"; resolves to { status, body (string), json (or null) }. Rejects on a
 * network error or when no complete answer came within "timeoutMs".
 */
function request(config, agent, method, path, body, headers) {
  return new Promise((resolve, reject) => {
    const allHeaders = { ...(headers || {}) };
    if (body !== undefined) {
      allHeaders['Content-Type'] = 'application/json';
      allHeaders['Content-Length'] = Buffer.byteLength(body);
    }
    const req = http.request(
      { host: config.host, port: config.port, method, path, agent, headers: allHeaders },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch (_) {
            json = null;
          }
          resolve({ status: res.statusCode, body: text, json });
        });
      },
    );
    req.setTimeout(config.requestTimeoutMs, () => {
      req.destroy(new Error(`no answer within ${config.requestTimeoutMs} ms`));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/* An error whose message is stable across flows, so that distinct causes can be counted. */
class FlowError extends Error {}

function answerError(step, answer) {
  const code = answer.json && answer.json.error && answer.json.error.code;
  const detail = code || answer.body.slice(0, 80).replace(/\s+/g, ' ');
  return new FlowError(`${step}: HTTP ${answer.status} ${detail}`);
}

function networkError(step, error) {
  return new FlowError(`${step}: ${error.code || error.message}`);
}

function sign(secret, body) {
  return crypto.createHmac('sha256', secret).update(body).digest('hex');
}

/* One recharge flow on "card"; resolves to the order number. */
async function runFlow(config, agent, card, key) {
  const orderBody = JSON.stringify({
    card,
    face_amount: config.faceAmount,
    channel: 'web',
    payment_method: 'sandbox',
  });
  let answer;
  try {
    answer = await request(config, agent, 'POST', '/api/v1/orders', orderBody, {
      'Idempotency-Key': key,
    });
  } catch (error) {
    throw networkError('create', error);
  }
  if (answer.status !== 201 || !answer.json || typeof answer.json.order_no !== 'string') {
    throw answerError('create', answer);
  }
  const order = answer.json;
  if (!Number.isInteger(order.pay_amount)) {
    throw new FlowError('create: HTTP 201 without an integer pay_amount');
  }

  const notifyBody = JSON.stringify({
    order_no: order.order_no,
    trade_no: `BT${crypto.randomBytes(12).toString('hex')}`,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  try {
    answer = await request(config, agent, 'POST', '/api/v1/payments/sandbox/notify', notifyBody, {
      'X-Sandbox-Signature': sign(config.secret, notifyBody),
    });
  } catch (error) {
    throw networkError('notify', error);
  }
  if (answer.status !== 200) throw answerError('notify', answer);
  return order.order_no;
}

/* ------------------------------------------------------------------------------------------ */
/* Worker thread: runs its share of the flows in flight, then verifies its sample.           */

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function workerMain() {
  const { config, index, slots, cards, runId, measureStartMs, measureEndMs, maxFlows } = workerData;
  const agent = new http.Agent({ keepAlive: true, maxSockets: slots, maxFreeSockets: slots });
  const latenciesMs = [];
  const sample = [];
  const errors = new Map();
  const stats = { attempts: 0, failures: 0, failuresInWindow: 0, completedOutside: 0 };
  let next = 0;

  const noteError = (error) => {
    const message = error instanceof FlowError ? error.message : `client: ${error.message}`;
    if (errors.has(message)) errors.set(message, errors.get(message) + 1);
    else if (errors.size < DISTINCT_ERRORS_MAX) errors.set(message, 1);
    else errors.set('(other errors)', (errors.get('(other errors)') || 0) + 1);
  };

  /* Too many failures: stop early rather than fill the window with errors. */
  const hopeless = () => stats.failures >= 1000 && stats.failures > stats.attempts / 2;

  async function slot() {
    /* Bounded by the window's end, by this worker's share of BENCH_MAX_FLOWS, and by hopeless(). */
    while (Date.now() < measureEndMs && next < maxFlows && !hopeless()) {
      const sequence = next++;
      stats.attempts++;
      /* Flows spread over the cards round-robin across workers: no card is hotter. */
      const card = cards[(sequence * config.workers + index) % cards.length];
      const key = `bench-${runId}-${index}-${sequence}`;
      const started = process.hrtime.bigint();
      try {
        const orderNo = await runFlow(config, agent, card, key);
        const latencyMs = Number(process.hrtime.bigint() - started) / 1e6;
        const endedMs = Date.now();
        if (endedMs >= measureStartMs && endedMs <= measureEndMs) latenciesMs.push(latencyMs);
        else stats.completedOutside++;
        if (sequence % config.verifyEvery === 0) sample.push(orderNo);
      } catch (error) {
        stats.failures++;
        const endedMs = Date.now();
        if (endedMs >= measureStartMs && endedMs <= measureEndMs) stats.failuresInWindow++;
        noteError(error);
        await delay(BACKOFF_MS);
      }
    }
  }

  const slotRuns = [];
  for (let i = 0; i < slots; i++) slotRuns.push(slot());
  await Promise.all(slotRuns);

  /* Verification, after the window: every sampled order must have been credited. */
  const verifyShare = Math.ceil(config.verifyMax / config.workers);
  const toVerify = sample.slice(0, verifyShare);
  const verify = { checked: 0, succeeded: 0 };
  let cursor = 0;
  async function verifier() {
    while (cursor < toVerify.length) {
      const orderNo = toVerify[cursor++];
      verify.checked++;
      try {
        const answer = await request(config, agent, 'GET', `/api/v1/orders/${orderNo}`);
        if (answer.status !== 200 || !answer.json) throw answerError('verify', answer);
        if (answer.json.status !== 'succeeded') {
          throw new FlowError(`verify: order status ${answer.json.status}, not succeeded`);
        }
        verify.succeeded++;
      } catch (error) {
        noteError(error instanceof FlowError ? error : networkError('verify', error));
      }
    }
  }
  const verifiers = [];
  for (let i = 0; i < Math.min(VERIFY_PARALLEL, slots); i++) verifiers.push(verifier());
  await Promise.all(verifiers);
  agent.destroy();

  const latencies = Float64Array.from(latenciesMs);
  parentPort.postMessage(
    { latencies, stats, verify, errors: [...errors.entries()] },
    [latencies.buffer],
  );
}

/* ------------------------------------------------------------------------------------------ */
/* Main thread: set-up, timeline, CPU accounting, results.                                    */

/* The Luhn check digit of the 18-digit "payload", so that a bench card is a valid card_no. */
function luhnCheckDigit(payload) {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let digit = payload.charCodeAt(payload.length - 1 - i) - 48;
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

/* Creates "count" active KEEP8 cards through the admin API; resolves to { cards, token }. */
async function createCards(config, agent, count) {
  let answer = await request(
    config,
    agent,
    'POST',
    '/api/v1/auth/login',
    JSON.stringify({ username: 'admin', password: config.adminPassword }),
  );
  if (answer.status !== 200 || !answer.json || typeof answer.json.token !== 'string') {
    throw answerError('login', answer);
  }
  const token = answer.json.token;
  /* A random 6-digit run prefix: bench cards of an earlier run on the same database differ. */
  const prefix = `898609${String(crypto.randomInt(0, 1000000)).padStart(6, '0')}`;
  const msisdnBase = 13900000000 + crypto.randomInt(0, 9000) * 10000;
  const cards = [];
  for (let offset = 0; offset < count; offset += CARD_BATCH_MAX) {
    const rows = [];
    for (let i = offset; i < Math.min(count, offset + CARD_BATCH_MAX); i++) {
      const payload = prefix + String(i).padStart(18 - prefix.length, '0');
      rows.push({
        card_no: payload + luhnCheckDigit(payload),
        msisdn: `+86${msisdnBase + i}`,
        plan: 'KEEP8',
      });
    }
    answer = await request(
      config,
      agent,
      'POST',
      '/api/v1/admin/cards',
      JSON.stringify({ cards: rows }),
      { Authorization: `Bearer ${token}` },
    );
    if (answer.status !== 201) throw answerError('create cards', answer);
    for (const row of rows) cards.push(row.card_no);
  }
  return { cards, token };
}

/* utime + stime of process "pid" in seconds, or null when it cannot be read. */
function processCpuS(pid, clockTicks) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    /* Fields after the command name, which is in parentheses and may hold spaces. */
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch (_) {
    return null;
  }
}

/* The nearest-rank percentile "p" (0..100) of the sorted array "sorted". */
function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function metricValue(text, name) {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}

function log(message) {
  console.log(`http: ${message}`);
}

function startWorker(data) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: data });
    let result = null;
    worker.on('message', (message) => {
      result = message;
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code === 0 && result) resolve(result);
      else reject(new Error(`worker ${data.index} exited with code ${code} and no result`));
    });
    startWorker.live.push(worker);
  });
}
startWorker.live = [];

async function main() {
  const config = readConfig();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  /* The server must answer before anything is measured. */
  let answer;
  try {
    answer = await request(config, agent, 'GET', '/healthz');
  } catch (error) {
    throw new Error(`lebd does not answer at ${process.env.BENCH_URL}: ${error.message}`);
  }
  if (answer.status !== 200) throw new Error(`GET /healthz answered HTTP ${answer.status}`);

  /* Cards: the demo data has one rechargeable card, a hot row; spread flows over more. */
  let cards = [DEMO_CARD];
  let token = null;
  if (config.cards > 0 && config.adminPassword) {
    try {
      ({ cards, token } = await createCards(config, agent, config.cards));
    } catch (error) {
      console.error(
        `http: warning: could not create ${config.cards} bench cards (${error.message}); ` +
          `every flow uses the demo card ${DEMO_CARD}, one hot row`,
      );
    }
  } else if (config.cards > 0) {
    console.error('http: warning: no BENCH_ADMIN_PASSWORD: every flow uses the demo card');
  }

  /* One flow before the clock starts: a broken route fails in a second, not after the run. */
  try {
    await runFlow(config, agent, cards[0], `bench-probe-${crypto.randomBytes(8).toString('hex')}`);
  } catch (error) {
    throw new Error(`the first flow failed, nothing measured: ${error.message}`);
  }
  agent.destroy();

  const runId = crypto.randomBytes(6).toString('hex');
  const t0 = Date.now() + 100; /* workers need a moment to start */
  const measureStartMs = t0 + config.warmupS * 1000;
  const measureEndMs = measureStartMs + config.durationS * 1000;
  log(
    `cards=${cards.length} workers=${config.workers} concurrency=${config.concurrency} ` +
      `warmup_s=${config.warmupS} duration_s=${config.durationS} cores=${os.cpus().length}`,
  );

  /* CPU over the measured window: this process (all its threads) and lebd. */
  let cpuStart = null;
  let cpuEnd = null;
  let serverStart = null;
  let serverEnd = null;
  let wallStart = 0n;
  let wallEnd = 0n;
  setTimeout(() => {
    cpuStart = process.cpuUsage();
    wallStart = process.hrtime.bigint();
    if (config.serverPid) serverStart = processCpuS(config.serverPid, config.clockTicks);
  }, measureStartMs - Date.now());
  setTimeout(() => {
    cpuEnd = process.cpuUsage(cpuStart);
    wallEnd = process.hrtime.bigint();
    if (config.serverPid) serverEnd = processCpuS(config.serverPid, config.clockTicks);
  }, measureEndMs - Date.now());

  /* The hard deadline: the window, then every in-flight request's and the verification's
   * time-outs, with room to spare. */
  const deadlineMs = measureEndMs - Date.now() + 4 * config.requestTimeoutMs + 30000;
  const deadline = setTimeout(() => {
    console.error('http: FAILED: the workers did not finish by the deadline');
    for (const worker of startWorker.live) worker.terminate();
    process.exit(1);
  }, deadlineMs);

  const runs = [];
  for (let index = 0; index < config.workers; index++) {
    /* Slots and the flow bound split as evenly as the integers allow. */
    const slots =
      Math.floor(config.concurrency / config.workers) +
      (index < config.concurrency % config.workers ? 1 : 0);
    const maxFlows = Math.max(1, Math.floor(config.maxFlows / config.workers));
    runs.push(
      startWorker({ config, index, slots, cards, runId, measureStartMs, measureEndMs, maxFlows }),
    );
  }
  const results = await Promise.all(runs);
  clearTimeout(deadline);

  /* Merge. */
  let total = 0;
  for (const result of results) total += result.latencies.length;
  const latencies = new Float64Array(total);
  let offset = 0;
  const stats = { attempts: 0, failures: 0, failuresInWindow: 0 };
  const verify = { checked: 0, succeeded: 0 };
  const errors = new Map();
  for (const result of results) {
    latencies.set(result.latencies, offset);
    offset += result.latencies.length;
    for (const key of Object.keys(stats)) stats[key] += result.stats[key];
    verify.checked += result.verify.checked;
    verify.succeeded += result.verify.succeeded;
    for (const [message, count] of result.errors) {
      errors.set(message, (errors.get(message) || 0) + count);
    }
  }
  latencies.sort();
  const verifyFailures = verify.checked - verify.succeeded;

  /* Whole seconds of the window as measured (the timers fire within a millisecond). */
  const seconds =
    wallEnd > wallStart ? Number(wallEnd - wallStart) / 1e9 : config.durationS;
  const flows = latencies.length;
  const flowsPerS = flows / seconds;
  const clientCpuPct = cpuEnd ? ((cpuEnd.user + cpuEnd.system) / 1e6 / seconds) * 100 : NaN;
  const serverCpuPct =
    serverStart !== null && serverEnd !== null ? ((serverEnd - serverStart) / seconds) * 100 : null;

  /* What the store did: writes per durable commit, from lebd's own metrics (if it has them). */
  let batchNote = '';
  try {
    const metricsAgent = new http.Agent({ keepAlive: false });
    const metrics = await request(config, metricsAgent, 'GET', '/metrics');
    const commits = metricValue(metrics.body, 'leb_store_commits_total');
    const writes = metricValue(metrics.body, 'leb_store_writes_total');
    if (commits && writes !== null) {
      batchNote = ` store_commits=${commits} writes_per_commit=${(writes / commits).toFixed(1)}`;
    }
  } catch (_) {
    /* metrics are a nicety here */
  }

  /* The ledger must balance after all this (when an operator token is at hand). */
  let ledgerFailed = false;
  if (token) {
    try {
      const ledgerAgent = new http.Agent({ keepAlive: false });
      const ledger = await request(config, ledgerAgent, 'GET', '/api/v1/admin/ledger/check', undefined, {
        Authorization: `Bearer ${token}`,
      });
      if (ledger.status === 200 && ledger.json) {
        log(
          `ledger balanced=${ledger.json.balanced} transactions=${ledger.json.transactions} ` +
            `mismatches=${Array.isArray(ledger.json.mismatches) ? ledger.json.mismatches.length : '?'}`,
        );
        ledgerFailed = ledger.json.balanced !== true;
      } else {
        console.error(`http: warning: ledger check answered HTTP ${ledger.status}`);
      }
    } catch (error) {
      console.error(`http: warning: ledger check failed: ${error.message}`);
    }
  }

  log(`verify checked=${verify.checked} succeeded=${verify.succeeded}`);
  log(
    `attempts=${stats.attempts} failures=${stats.failures} (all phases) ` +
      `server_cpu_pct=${serverCpuPct === null ? 'n/a' : serverCpuPct.toFixed(1)} ` +
      `client_cpu_pct=${clientCpuPct.toFixed(1)} (100 = one core of ${os.cpus().length})` +
      batchNote,
  );
  if (errors.size > 0) {
    const shown = [...errors.entries()].sort((a, b) => b[1] - a[1]).slice(0, DISTINCT_ERRORS_SHOWN);
    for (const [message, count] of shown) log(`error x${count}: ${message}`);
  }

  const failed = stats.failures + verifyFailures;
  const failedRatio = failed / Math.max(1, stats.attempts);
  log(
    `flows=${flows} seconds=${seconds.toFixed(1)} flows_per_s=${Math.round(flowsPerS)} ` +
      `p50_ms=${percentile(latencies, 50).toFixed(2)} p99_ms=${percentile(latencies, 99).toFixed(2)} ` +
      `errors=${stats.failuresInWindow + verifyFailures} client_cpu_pct=${clientCpuPct.toFixed(1)}`,
  );
  if (flows === 0) {
    console.error('http: FAILED: no flow completed in the measured window');
    return 1;
  }
  if (failedRatio > ERROR_FAIL_RATIO) {
    console.error(
      `http: FAILED: ${failed} of ${stats.attempts} flows failed ` +
        `(${(failedRatio * 100).toFixed(2)}% > ${ERROR_FAIL_RATIO * 100}%)`,
    );
    return 1;
  }
  if (ledgerFailed) {
    console.error('http: FAILED: the ledger does not balance');
    return 1;
  }
  return 0;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`http: FAILED: ${error.message}`);
      for (const worker of startWorker.live) worker.terminate();
      process.exit(1);
    },
  );
} else {
  workerMain().catch((error) => {
    /* No result message: the main thread reports the worker's failure. */
    console.error(`http: worker failed: ${error.stack || error.message}`);
    process.exit(1);
  });
}

