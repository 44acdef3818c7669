'use strict';
/*
 * recon.test.js - reconciliation (对账) of providers' statements, black-box.
 *
 * The payments are real: orders are created through the API with payment_method
 * "wechatpay_v2" (and "alipay"), paid at the providers' simulators (tests/sim), and most of
 * them notified, signed, to lebd; some are paid but never notified (the "paid but not
 * credited" rows a statement repairs). The statement is then built here in the provider's
 * own format (WeChat Pay's trade bill, backtick-prefixed; Alipay's business details in GBK)
 * with discrepancies of every kind injected, imported through POST
 * /api/v1/admin/reconciliations, and every class and count is checked exactly, and so is
 * what the import did to orders, card balances and the ledger: exactly the repairable rows
 * are credited, once, however often and in however many statements they appear.
 *
 * The first test reconciles a 10,000-row statement and reports (t.diagnostic) how long the
 * HTTP call took. The later WeChat Pay tests use what it built.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
const {
  api,
  assertError,
  assertStatus,
  getBalance,
  getOrder,
  assertLedgerBalanced,
  login,
  luhnCardNo,
  mapLimit,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client');
const { startWechatV2Sim } = require('../sim/wechatpay_v2');
const { startAlipaySim } = require('../sim/alipay');

const LEBCTL = process.env.LEBCTL || path.join(__dirname, '../../build/lebctl');
const RECON_PATH = '/api/v1/admin/reconciliations';
const CONCURRENCY = 32;
const CLASSES = [
  'matched',
  'repaired',
  'missing_from_statement',
  'amount_mismatch',
  'duplicate',
  'unknown_order',
  'order_mismatch',
  'double_payment',
  'refund_matched',
  'refund_unknown',
];
/* Only the tests move money: the scheduler's provider lane never asks the simulators about
 * an unpaid order (which would find the unnotified payments before the statement does). */
const HELD_JOBS = {
  LEB_PAYMENTS_QUERY_AFTER_S: '86400',
  LEB_PAYMENTS_INTERVAL_S: '3600',
  LEB_LIFECYCLE_INTERVAL_S: '86400',
  LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
};

let wx;
let ali;
let lebd;
let token;
let workDir;

before(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-recon-'));
  wx = await startWechatV2Sim();
  ali = await startAlipaySim();
  const alipayFiles = ali.writeKeyFiles(path.join(workDir, 'alipay'));
  lebd = await startLebd({
    env: { ...wx.lebdEnv(workDir), ...ali.lebdEnv(alipayFiles), ...HELD_JOBS },
  });
  token = await login(lebd);
});

after(async () => {
  if (lebd) await lebd.close();
  if (wx) await wx.close();
  if (ali) await ali.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------ */

function yuan(fen) {
  assert.ok(Number.isSafeInteger(fen) && fen >= 0, `an amount in fen: ${fen}`);
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/* "YYYY-MM-DD HH:MM:SS" in Beijing time. */
function beijing(ms = Date.now()) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

/* WeChat Pay's time_end (yyyyMMddHHmmss) as its bills write times. */
function billTime(timeEnd) {
  const t = String(timeEnd);
  return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)} ${t.slice(8, 10)}:${t.slice(10, 12)}:${t.slice(12, 14)}`;
}

function digits(count) {
  let text = '';
  while (text.length < count) text += crypto.randomInt(0, 1e9).toString().padStart(9, '0');
  return text.slice(0, count);
}

/* POSTs a statement; "body" is a string or a Buffer, sent as text/csv unless told otherwise. */
function importStatement(provider, body, { contentType = 'text/csv', tokenOf = token, query } = {}) {
  const qs = query !== undefined ? query : `?provider=${encodeURIComponent(provider)}`;
  return api(lebd, 'POST', `${RECON_PATH}${qs}`, {
    raw: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
    headers: { 'content-type': contentType },
    token: tokenOf,
  });
}

function reportOf(id, options = {}) {
  return api(lebd, 'GET', `${RECON_PATH}/${id}${options.query || ''}`, {
    token: options.token === undefined ? token : options.token,
    headers: options.headers,
  });
}

function assertReport(report, provider, rows) {
  assert.equal(typeof report.id, 'number');
  assert.equal(report.provider, provider);
  assert.equal(report.rows, rows);
  assert.match(report.statement_hash, /^[0-9a-f]{64}$/);
  assert.match(report.imported_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(Object.keys(report.summary), CLASSES, 'every class counted, in order');
  for (const item of report.items) {
    assert.ok(CLASSES.includes(item.class), `a known class: ${item.class}`);
    assert.notEqual(item.class, 'matched', 'matched rows are counted, not listed');
    assert.equal(typeof item.repaired, 'boolean');
  }
}

/* The summary a test expects: every class, zero unless given. */
function summaryOf(counts) {
  const summary = {};
  for (const name of CLASSES) summary[name] = counts[name] || 0;
  return summary;
}

/* Items of "report" of class "name", as "line|order_no|trade_no" keys. */
function keysOf(report, name) {
  return report.items
    .filter((item) => item.class === name)
    .map((item) => `${item.line}|${item.order_no}|${item.trade_no}`)
    .sort();
}

/* Card and phone numbers no other test uses: a random prefix per run, a serial per card. */
const RUN_PREFIX = digits(7);
let nextSerial = 1;

/* Cards of the KEEP8 demo plan, created in one batch; resolves to their numbers. */
async function createCards(count) {
  const cards = [];
  for (let i = 0; i < count; i++) {
    const serial = nextSerial++;
    cards.push({
      card_no: luhnCardNo(`89860${RUN_PREFIX}${String(serial).padStart(6, '0')}`),
      msisdn: `+86137${String(serial).padStart(8, '0')}`,
      plan: 'KEEP8',
    });
  }
  const response = await api(lebd, 'POST', '/api/v1/admin/cards', { body: { cards }, token });
  assertStatus(response, 201, 'cards');
  return cards.map((card) => card.card_no);
}

/* Creates "count" orders with "method"; resolves to [{order_no, card, face_amount,
 * pay_amount}]. */
async function createOrders(count, method, cards, faces = [5000, 10000, 20000]) {
  const results = await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    CONCURRENCY,
    async (i) => {
      const card = cards[i % cards.length];
      const face = faces[i % faces.length];
      const response = await api(lebd, 'POST', '/api/v1/orders', {
        body: { card, face_amount: face, channel: 'web', payment_method: method },
      });
      assertStatus(response, 201, `order ${i}`);
      assert.equal(response.body.status, 'pending_payment');
      return { order_no: response.body.order_no, card, face_amount: face, pay_amount: response.body.pay_amount };
    },
  );
  const failed = results.find((result) => !result.ok);
  if (failed) throw failed.error;
  return results.map((result) => result.value);
}

async function ordersStatus(orderNos) {
  const results = await mapLimit(orderNos, CONCURRENCY, async (orderNo) => {
    const response = await getOrder(lebd, orderNo);
    assertStatus(response, 200, `order ${orderNo}`);
    return response.body.status;
  });
  return results.map((result) => {
    if (!result.ok) throw result.error;
    return result.value;
  });
}

/* The number of audit entries about "subject" (or all). */
async function auditCount(subject) {
  const query = subject ? `&subject=${encodeURIComponent(subject)}` : '';
  const response = await api(lebd, 'GET', `/api/v1/admin/audit?limit=1000${query}`, { token });
  assertStatus(response, 200, 'audit');
  return response.body.entries;
}

/* ---- WeChat Pay's trade bill ---- */

const WX_HEADER =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,' +
  '交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,' +
  '充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注';
const WX_SUMMARY_HEADER =
  '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额';

/* One data row; a refund has {refund: {id, outNo, amount}}. */
function wxRow({ time, trade, order, amount, refund }) {
  const common = [time, wx.appid, wx.mchid, '0', '', trade, order, 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', 'NATIVE'];
  const fields = refund
    ? [...common, 'REFUND', 'OTHERS', 'CNY', '0.00', '0.00', refund.id, refund.outNo, yuan(refund.amount),
      '0.00', 'ORIGINAL', 'SUCCESS', '话费充值, 保号', '', '0.00000', '0.60%', '0.00', yuan(refund.amount), '']
    : [...common, 'SUCCESS', 'OTHERS', 'CNY', yuan(amount), '0.00', '0', '0', '0.00', '0.00', '', '',
      '话费充值, 保号', '', yuan(Math.round(amount * 0.006)), '0.60%', yuan(amount), '0.00', ''];
  return fields.map((field) => `\`${field}`).join(',');
}

/* A whole bill of "rows" (specs for wxRow), CRLF as WeChat Pay writes it. Data row i is on
 * line i + 2. */
function wxBill(rows) {
  const lines = [WX_HEADER, ...rows.map(wxRow), WX_SUMMARY_HEADER];
  const paid = rows.filter((row) => !row.refund).reduce((sum, row) => sum + row.amount, 0);
  const refunded = rows.filter((row) => row.refund).reduce((sum, row) => sum + row.refund.amount, 0);
  lines.push(
    [rows.length, yuan(paid), yuan(refunded), '0.00', '0.00000', yuan(paid), yuan(refunded)]
      .map((field) => `\`${field}`)
      .join(','),
  );
  return `${lines.join('\r\n')}\r\n`;
}

/* Sorts statement rows as a provider does (by time), keeping the given order within a
 * second, and writes their line numbers into them. */
function numberRows(rows, firstLine = 2) {
  rows.forEach((row, index) => {
    row.seq = index;
  });
  rows.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.seq - b.seq));
  rows.forEach((row, index) => {
    row.line = firstLine + index;
  });
  return rows;
}

/* ---- lebctl ---- */

function runLebctl(args, env = {}, program = LEBCTL) {
  return new Promise((resolve, reject) => {
    const home = fs.mkdtempSync(path.join(workDir, 'lebctl-'));
    const childEnv = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (!key.startsWith('LEB_') && key !== 'LEBD' && key !== 'LEBCTL') childEnv[key] = value;
    }
    Object.assign(childEnv, { XDG_CONFIG_HOME: home, HOME: home }, env);
    const child = spawn(program, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${LEBCTL}: ${error.message} (set LEBCTL)`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const pattern of ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:']) {
        if (stderr.includes(pattern)) reject(new Error(`sanitizer report from lebctl:\n${stderr}`));
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function assertExit(result, code, what) {
  assert.equal(
    result.code,
    code,
    `${what}: expected exit ${code}, got ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
  );
}

/* ---------------------------------------------------------------------------------------------
 * The 10,000-row WeChat Pay statement
 * ------------------------------------------------------------------------------------------ */

/* What the first test built, for the tests after it. */
const big = {};

test('a 10,000-row WeChat Pay statement: every discrepancy classified, exactly the repairable rows credited', async (t) => {
  const NOTIFIED = 9740; /* paid and notified: LEB credited them */
  const UNNOTIFIED = 200; /* paid, never notified: the statement repairs them */
  const UNNOTIFIED_OTHER_AMOUNT = 10; /* paid another amount, never notified: not repaired */
  const REVIEWED = 5; /* paid the wrong amount, refunded by an operator */
  const LEFT_OUT = 40; /* notified, missing from the statement */
  const ALTERED = 30; /* notified, the statement says another amount */
  const SWAPPED = 5; /* notified, the statement names another order */
  const DUPLICATES = 25; /* matched rows written twice */
  const DUPLICATES_OF_REPAIRS = 5; /* unnotified rows written twice */
  const UNKNOWN = 30; /* trades for orders LEB never had */
  const DOUBLE = 10; /* a second trade for an order already paid */
  const REFUNDS_UNKNOWN = 10; /* refunds of orders LEB never refunded */

  const started = Date.now();
  const cards = await createCards(100);
  const total = NOTIFIED + UNNOTIFIED + UNNOTIFIED_OTHER_AMOUNT + REVIEWED;
  const orders = await createOrders(total, 'wechatpay_v2', cards);
  const notified = orders.slice(0, NOTIFIED);
  const unnotified = orders.slice(NOTIFIED, NOTIFIED + UNNOTIFIED);
  const otherAmount = orders.slice(NOTIFIED + UNNOTIFIED, NOTIFIED + UNNOTIFIED + UNNOTIFIED_OTHER_AMOUNT);
  const reviewed = orders.slice(NOTIFIED + UNNOTIFIED + UNNOTIFIED_OTHER_AMOUNT);

  /* The payers pay; WeChat Pay notifies most of them. */
  for (const order of [...notified, ...unnotified]) order.paid = wx.pay(order.order_no);
  for (const order of otherAmount) order.paid = wx.pay(order.order_no, { totalFee: order.pay_amount + 100 });
  for (const order of reviewed) order.paid = wx.pay(order.order_no, { totalFee: order.pay_amount - 100 });
  const notifications = await mapLimit([...notified, ...reviewed], CONCURRENCY, async (order) => {
    const answer = await wx.notify(order.order_no);
    assert.equal(answer.status, 200, `notification of ${order.order_no}: ${answer.text}`);
    assert.match(answer.text, /SUCCESS/, `notification of ${order.order_no} accepted`);
  });
  const refused = notifications.find((result) => !result.ok);
  if (refused) throw refused.error;
  /* The wrong amounts wait in review; an operator refunds them (what was paid goes back). */
  for (const order of reviewed) {
    const response = await api(lebd, 'POST', `/api/v1/admin/orders/${order.order_no}/resolve`, {
      body: { action: 'refund', reason: 'paid 1.00 less than the price' },
      token,
    });
    assertStatus(response, 200, `resolve ${order.order_no}`);
    assert.match(response.body.status, /^refund(ing|ed)$/);
  }
  t.diagnostic(`setup: ${total} orders, ${NOTIFIED + REVIEWED} notified, in ${Date.now() - started} ms`);

  /* The statement. */
  const rows = [];
  const expected = {}; /* class -> [row] */
  const add = (row, name) => {
    rows.push(row);
    (expected[name] = expected[name] || []).push(row);
    return row;
  };
  const paymentRow = (order, extra = {}) => ({
    time: billTime(order.paid.time_end),
    trade: order.paid.transaction_id,
    order: order.order_no,
    amount: order.paid.paid_fee,
    ...extra,
  });
  const leftOut = notified.slice(0, LEFT_OUT);
  const altered = notified.slice(LEFT_OUT, LEFT_OUT + ALTERED);
  const swapped = notified.slice(LEFT_OUT + ALTERED, LEFT_OUT + ALTERED + SWAPPED);
  const plain = notified.slice(LEFT_OUT + ALTERED + SWAPPED);
  for (const order of plain) order.row = add(paymentRow(order), 'matched');
  for (const order of altered) add(paymentRow(order, { amount: order.paid.paid_fee + 1 }), 'amount_mismatch');
  swapped.forEach((order, index) => {
    add(paymentRow(order, { order: plain[index].order_no }), 'order_mismatch');
  });
  for (const order of reviewed) {
    add(paymentRow(order), 'matched');
    add(
      paymentRow(order, {
        refund: { id: `50${digits(27)}`, outNo: `R${order.order_no}`, amount: order.paid.paid_fee },
      }),
      'refund_matched',
    );
  }
  for (const order of unnotified) order.row = add(paymentRow(order), 'repaired');
  for (const order of otherAmount) add(paymentRow(order), 'amount_mismatch');
  for (const order of plain.slice(100, 100 + DUPLICATES)) add({ ...order.row }, 'duplicate');
  for (const order of unnotified.slice(0, DUPLICATES_OF_REPAIRS)) add({ ...order.row }, 'duplicate');
  const now = beijing();
  for (let i = 0; i < UNKNOWN; i++) {
    add({ time: now, trade: `4200${digits(24)}`, order: `NOSUCH${digits(14)}`, amount: 5000 }, 'unknown_order');
  }
  for (const order of plain.slice(200, 200 + DOUBLE)) {
    add({ ...paymentRow(order), trade: `4200${digits(24)}` }, 'double_payment');
  }
  for (const order of plain.slice(300, 300 + REFUNDS_UNKNOWN)) {
    add(paymentRow(order, { refund: { id: `50${digits(27)}`, outNo: `R${order.order_no}`, amount: 100 } }), 'refund_unknown');
  }
  numberRows(rows);
  assert.equal(rows.length, 10000, 'a statement of 10,000 rows');
  const bill = wxBill(rows);

  const cardsBefore = new Map();
  for (const card of cards) cardsBefore.set(card, (await getBalance(lebd, card, token)).balance);
  const ledgerBefore = await assertLedgerBalanced(lebd, token);

  const importStarted = process.hrtime.bigint();
  const response = await importStatement('wechatpay_v2', bill);
  const importMs = Number(process.hrtime.bigint() - importStarted) / 1e6;
  t.diagnostic(`the 10,000-row reconciliation (POST ${RECON_PATH}) took ${importMs.toFixed(0)} ms`);
  assertStatus(response, 201, 'import');
  assert.equal(response.headers.get('location'), `${RECON_PATH}/${response.body.id}`);
  const report = response.body;
  assertReport(report, 'wechatpay_v2', 10000);
  assert.equal(report.format, 'wechatpay');

  const counts = {};
  for (const [name, list] of Object.entries(expected)) counts[name] = list.length;
  counts.missing_from_statement = LEFT_OUT;
  assert.deepEqual(report.summary, summaryOf(counts), 'the summary');
  assert.deepEqual(counts, {
    matched: 9670,
    amount_mismatch: 40,
    order_mismatch: 5,
    refund_matched: 5,
    repaired: 200,
    duplicate: 30,
    unknown_order: 30,
    double_payment: 10,
    refund_unknown: 10,
    missing_from_statement: 40,
  });

  /* Every listed row is the one injected, on its line. */
  for (const name of CLASSES.filter((c) => c !== 'matched' && c !== 'refund_matched' && c !== 'missing_from_statement')) {
    const want = (expected[name] || []).map((row) => `${row.line}|${row.order}|${row.trade}`).sort();
    assert.deepEqual(keysOf(report, name), want, `the ${name} rows`);
  }
  const missing = report.items.filter((item) => item.class === 'missing_from_statement');
  assert.deepEqual(
    missing.map((item) => `${item.order_no}|${item.trade_no}|${item.leb_amount}`).sort(),
    leftOut.map((order) => `${order.order_no}|${order.paid.transaction_id}|${order.paid.paid_fee}`).sort(),
    'the trades LEB credited that the statement lacks',
  );
  for (const item of missing) {
    assert.equal(item.line, null);
    assert.equal(item.statement_amount, null);
    assert.equal(item.repaired, false);
  }
  const byLine = new Map(report.items.filter((item) => item.line !== null).map((item) => [item.line, item]));
  for (const row of expected.repaired) {
    const item = byLine.get(row.line);
    assert.equal(item.repaired, true, `line ${row.line} repaired`);
    assert.equal(item.outcome, 'credited');
    assert.equal(item.statement_amount, row.amount);
    assert.equal(item.leb_amount, row.amount);
  }
  for (const item of report.items) {
    if (item.class !== 'repaired') assert.equal(item.repaired, false, `line ${item.line} not repaired`);
  }
  for (const row of expected.amount_mismatch) {
    const item = byLine.get(row.line);
    assert.equal(item.statement_amount, row.amount);
    assert.notEqual(item.leb_amount, row.amount);
  }

  /* Exactly the repairable orders were credited, once; nothing else moved. */
  const statuses = await ordersStatus([...unnotified, ...otherAmount].map((order) => order.order_no));
  assert.deepEqual(statuses.slice(0, UNNOTIFIED), Array(UNNOTIFIED).fill('succeeded'), 'repaired orders');
  assert.deepEqual(statuses.slice(UNNOTIFIED), Array(UNNOTIFIED_OTHER_AMOUNT).fill('pending_payment'));
  const credited = new Map();
  for (const order of unnotified) credited.set(order.card, (credited.get(order.card) || 0) + order.face_amount);
  for (const card of cards) {
    const balance = (await getBalance(lebd, card, token)).balance;
    assert.equal(balance, cardsBefore.get(card) + (credited.get(card) || 0), `balance of ${card}`);
  }
  const ledgerAfter = await assertLedgerBalanced(lebd, token);
  assert.equal(ledgerAfter.transactions, ledgerBefore.transactions + UNNOTIFIED, 'one posting per repair');

  const audit = await auditCount(`recon:${report.id}`);
  assert.equal(audit.length, 1);
  assert.equal(audit[0].action, 'recon.import');
  assert.equal(audit[0].actor, 'admin');

  const read = await reportOf(report.id);
  assertStatus(read, 200, 'GET the report');
  assert.deepEqual(read.body, report, 'the report reads back as it was answered');

  Object.assign(big, { bill, report, rows, unnotified, notified, reviewed, cards, ledgerAfter, importMs });
});

test('importing the same statement again answers the earlier report and changes nothing', async () => {
  assert.ok(big.report, 'the 10,000-row test ran');
  const auditBefore = (await auditCount()).length;
  const response = await importStatement('wechatpay_v2', big.bill);
  assertStatus(response, 200, 'the same statement again');
  assert.deepEqual(response.body, big.report, 'the earlier report, whole');
  const ledger = await assertLedgerBalanced(lebd, token);
  assert.equal(ledger.transactions, big.ledgerAfter.transactions, 'no posting');
  assert.equal((await auditCount()).length, auditBefore, 'no audit row');
});

test('a second, different statement with the same unpaid-then-repaired trades repairs nothing twice', async () => {
  assert.ok(big.report, 'the 10,000-row test ran');
  const rows = big.unnotified.map((order) => ({ ...order.row }));
  rows.push({ time: beijing(), trade: `4200${digits(24)}`, order: `NOSUCH${digits(14)}`, amount: 100 });
  numberRows(rows);
  const response = await importStatement('wechatpay_v2', wxBill(rows));
  assertStatus(response, 201, 'another statement');
  const report = response.body;
  assert.notEqual(report.id, big.report.id);
  /* LEB's trades of the day: the notified, the reviewed and the repaired ones. */
  const inLeb = big.notified.length + big.reviewed.length + big.unnotified.length;
  assert.deepEqual(
    report.summary,
    summaryOf({ matched: big.unnotified.length, unknown_order: 1, missing_from_statement: inLeb - big.unnotified.length }),
  );
  assert.equal(report.items.filter((item) => item.repaired).length, 0);
  const ledger = await assertLedgerBalanced(lebd, token);
  assert.equal(ledger.transactions, big.ledgerAfter.transactions, 'nothing credited twice');
});

test("a trade repaired from yesterday's statement belongs to yesterday: today's does not miss it", async () => {
  const cards = await createCards(2);
  const [late, today] = await createOrders(2, 'wechatpay_v2', cards, [5000]);
  /* Paid yesterday at the provider, never notified: yesterday's statement repairs it today. */
  const latePaid = wx.pay(late.order_no);
  const yesterday = beijing(Date.now() - 24 * 3600 * 1000);
  const lateRow = { time: yesterday, trade: latePaid.transaction_id, order: late.order_no, amount: latePaid.paid_fee };
  const first = await importStatement('wechatpay_v2', wxBill(numberRows([lateRow])));
  assertStatus(first, 201, "yesterday's statement");
  assert.equal(first.body.summary.repaired, 1);
  /* Paid and notified today. */
  const todayPaid = wx.pay(today.order_no);
  assert.equal((await wx.notify(today.order_no)).status, 200);
  await waitForOrderStatus(lebd, today.order_no, 'succeeded');
  const todayRow = { time: billTime(todayPaid.time_end), trade: todayPaid.transaction_id, order: today.order_no, amount: todayPaid.paid_fee };
  const second = await importStatement('wechatpay_v2', wxBill(numberRows([todayRow])));
  assertStatus(second, 201, "today's statement");
  const missing = second.body.items.filter((item) => item.class === 'missing_from_statement').map((item) => item.order_no);
  assert.ok(!missing.includes(late.order_no), "yesterday's repaired trade is not missing from today's statement");
  assert.ok(!missing.includes(today.order_no));
  assert.ok(second.body.summary.matched >= 1);
});

test('the report as CSV: ?format=csv or Accept: text/csv', async () => {
  assert.ok(big.report, 'the 10,000-row test ran');
  const response = await reportOf(big.report.id, { query: '?format=csv' });
  assertStatus(response, 200, 'CSV');
  assert.match(response.headers.get('content-type'), /^text\/csv/);
  const lines = response.text.split('\r\n');
  assert.equal(lines.pop(), '', 'CRLF after the last line');
  assert.equal(lines[0], 'line,class,order_no,trade_no,statement_amount,leb_amount,repaired');
  assert.equal(lines.length, big.report.items.length + 1);
  big.report.items.forEach((item, index) => {
    const cell = (value) => (value === null ? '' : String(value));
    assert.equal(
      lines[index + 1],
      [item.line, item.class, item.order_no, item.trade_no, item.statement_amount, item.leb_amount, item.repaired]
        .map(cell)
        .join(','),
    );
  });
  const accepted = await reportOf(big.report.id, { headers: { accept: 'text/csv' } });
  assertStatus(accepted, 200, 'Accept: text/csv');
  assert.equal(accepted.text, response.text);
  const json = await reportOf(big.report.id, { query: '?format=json', headers: { accept: 'text/csv' } });
  assert.deepEqual(json.body, big.report, '?format=json wins over Accept');
  assertError(await reportOf(big.report.id, { query: '?format=xml' }), 400, 'invalid_request');
  assertError(await reportOf(999999), 404, 'not_found');
  assertError(await reportOf('abc'), 400, 'invalid_request');
  assertError(await reportOf(big.report.id, { token: null }), 401, 'unauthorized');
});

test('lebctl recon import and recon show', async (t) => {
  assert.ok(big.report, 'the 10,000-row test ran');
  const env = { LEB_TOKEN: token, LEB_SERVER: lebd.url };
  const order = big.notified[500];
  const rows = numberRows([
    { time: billTime(order.paid.time_end), trade: order.paid.transaction_id, order: order.order_no, amount: order.paid.paid_fee },
    { time: beijing(), trade: `4200${digits(24)}`, order: `NOSUCH${digits(14)}`, amount: 5000 },
  ]);
  rows.push({ ...rows[1], line: 4 });
  const file = path.join(workDir, 'statement.csv');
  fs.writeFileSync(file, wxBill(rows));

  const imported = await runLebctl(['recon', 'import', file, '--provider', 'wechatpay_v2'], env);
  assertExit(imported, 0, 'recon import');
  const id = Number(/reconciliation (\d+) of wechatpay_v2/.exec(imported.stdout)[1]);
  assert.match(imported.stdout, /^matched\s+1$/m);
  assert.match(imported.stdout, /^unknown_order\s+1$/m);
  assert.match(imported.stdout, /^duplicate\s+1$/m);
  assert.doesNotMatch(imported.stderr, /\r|\[#/, 'no progress bar when stderr is not a terminal');
  assert.equal(imported.stderr, '', 'quiet');

  const viaHttp = await reportOf(id);
  assertStatus(viaHttp, 200);
  const shown = await runLebctl(['recon', 'show', String(id), '--json'], env);
  assertExit(shown, 0, 'recon show --json');
  assert.deepEqual(JSON.parse(shown.stdout), viaHttp.body);
  const csv = await runLebctl(['recon', 'show', String(id), '--csv'], env);
  assertExit(csv, 0, 'recon show --csv');
  assert.equal(csv.stdout, (await reportOf(id, { query: '?format=csv' })).text);
  const table = await runLebctl(['recon', 'show', String(id)], env);
  assertExit(table, 0, 'recon show');
  assert.match(table.stdout, /^\s+3\s+unknown_order\s+NOSUCH\d+/m);
  assert.match(table.stdout, /50\.00 CNY/);

  /* On a terminal the upload draws a progress bar (util-linux script(1) gives lebctl one). */
  const scriptPath = ['/usr/bin/script', '/bin/script'].find((candidate) => fs.existsSync(candidate));
  if (scriptPath) {
    const ttyFile = path.join(workDir, 'statement-tty.csv');
    fs.writeFileSync(ttyFile, wxBill(rows.slice(0, 2)));
    const tty = await runLebctl(['-qec', `${LEBCTL} recon import ${ttyFile} --provider wechatpay_v2`, '/dev/null'], env, scriptPath);
    assertExit(tty, 0, 'recon import on a terminal');
    assert.match(tty.stdout, /\[#{30}\] [\d.]+ KiB sent; lebd is reconciling/, 'a progress bar on a terminal');
    assert.match(tty.stdout, /reconciliation \d+ of wechatpay_v2/);
  } else {
    t.diagnostic('script(1) is missing: the progress bar on a terminal is not checked');
  }

  const again = await runLebctl(['recon', 'import', file, '--provider', 'wechatpay_v2', '--json'], env);
  assertExit(again, 0, 'the same file again');
  assert.match(again.stderr, /imported before/);
  assert.deepEqual(JSON.parse(again.stdout), viaHttp.body);
  const againCsv = await runLebctl(['recon', 'import', file, '--provider', 'wechatpay_v2', '--csv'], env);
  assertExit(againCsv, 0, 'the same file again, --csv');
  assert.equal(againCsv.stdout, csv.stdout, 'the rows as CSV');
  assertExit(await runLebctl(['recon', 'import', file, '--provider', 'wechatpay_v2', '--csv', '--json'], env), 2, '--csv --json');

  const badFile = path.join(workDir, 'bad.csv');
  fs.writeFileSync(badFile, wxBill(rows).replaceAll('`50.00,', '`50.005,'));
  const bad = await runLebctl(['recon', 'import', badFile, '--provider', 'wechatpay_v2'], env);
  assertExit(bad, 5, 'a malformed statement');
  assert.match(bad.stderr, /line 3: .*50\.005.*\(invalid_request\)/);
  assert.equal(bad.stdout, '');
  assertExit(await runLebctl(['recon', 'import', file, '--provider', 'paypal'], env), 5, 'unknown provider');
  assertExit(await runLebctl(['recon', 'import', file], env), 2, 'no --provider');
  assertExit(await runLebctl(['recon', 'show', '999999'], env), 4, 'unknown report');
  assertExit(await runLebctl(['recon', 'show', 'x1'], env), 2, 'not an id');
  assertExit(await runLebctl(['recon', 'show', String(id)], { LEB_SERVER: lebd.url }), 3, 'not logged in');
});

/* ---------------------------------------------------------------------------------------------
 * Alipay
 * ------------------------------------------------------------------------------------------ */

/* UTF-8 text as GBK bytes (what Alipay's downloads are), from Node's own GBK decoder. */
let gbkTable = null;
function toGbk(text) {
  if (gbkTable === null) {
    gbkTable = new Map();
    const decoder = new TextDecoder('gbk');
    for (let lead = 0x81; lead <= 0xfe; lead++) {
      for (let trail = 0x40; trail <= 0xfe; trail++) {
        if (trail === 0x7f) continue;
        const char = decoder.decode(Uint8Array.from([lead, trail]));
        if (char.length === 1 && char !== '\ufffd' && !gbkTable.has(char)) gbkTable.set(char, [lead, trail]);
      }
    }
  }
  const bytes = [];
  for (const char of text) {
    const code = char.codePointAt(0);
    if (code < 0x80) bytes.push(code);
    else if (gbkTable.has(char)) bytes.push(...gbkTable.get(char));
    else throw new Error(`no GBK for ${char}`);
  }
  return Buffer.from(bytes);
}

const ALIPAY_HEADER =
  '支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,' +
  '对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,' +
  '券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注';

function alipayRow({ trade, order, type, amount, time, refundNo = '' }) {
  const money = type === '退款' ? `-${yuan(amount)}` : yuan(amount);
  return [
    `${trade}\t`, `${order}\t`, type, '话费充值', time, time, '', '', '', '', 'buy***@example.com',
    money, money, '0.00', '0.00', '0.00', '0.00', '0.00', '', '0.00', '0.00',
    refundNo ? `${refundNo}\t` : '', '-0.06', '0.00', '',
  ].join(',');
}

function alipayDate(ms) {
  const [day, clock] = beijing(ms).split(' ');
  const [y, m, d] = day.split('-');
  return `${y}年${m}月${d}日 ${clock}`;
}

test('an Alipay statement (GBK, its declared period): every class, exactly the repairable rows credited', async () => {
  const cards = await createCards(10);
  const orders = await createOrders(230, 'alipay', cards);
  const notified = orders.slice(0, 212);
  const unnotified = orders.slice(212, 227); /* 15 repairs */
  const wrong = orders.slice(227); /* 3 paid, never notified, statement says another amount */
  for (const order of orders) order.paid = ali.pay(order.order_no);
  const answers = await mapLimit(notified, CONCURRENCY, async (order) => {
    const answer = await ali.notify(order.order_no);
    assert.equal(answer.status, 200, `notification ${order.order_no}: ${answer.text}`);
    assert.equal(answer.text, 'success');
  });
  const failed = answers.find((result) => !result.ok);
  if (failed) throw failed.error;

  const paidMs = orders.map((order) => Date.parse(`${order.paid.gmt_payment.replace(' ', 'T')}+08:00`));
  const dayMs = 86400000;
  const beijingMidnight = (ms) => Math.floor((ms + 8 * 3600000) / dayMs) * dayMs - 8 * 3600000;
  const periodStart = beijingMidnight(Math.min(...paidMs));
  const periodEnd = beijingMidnight(Math.max(Date.now(), ...paidMs)) + dayMs;

  const rows = [];
  const expected = {};
  const add = (row, name) => {
    rows.push(row);
    (expected[name] = expected[name] || []).push(row);
    return row;
  };
  const row = (order, extra = {}) => ({
    trade: order.paid.trade_no,
    order: order.order_no,
    type: '交易',
    amount: Math.round(Number(order.paid.total_amount) * 100),
    time: order.paid.gmt_payment,
    ...extra,
  });
  const leftOut = notified.slice(0, 5);
  const altered = notified.slice(5, 7);
  for (const order of notified.slice(7)) order.row = add(row(order), 'matched');
  for (const order of altered) add(row(order, { amount: row(order).amount - 1 }), 'amount_mismatch');
  for (const order of unnotified) order.row = add(row(order), 'repaired');
  for (const order of wrong) add(row(order, { amount: row(order).amount + 50 }), 'amount_mismatch');
  add({ ...notified[20].row }, 'duplicate');
  add({ ...unnotified[0].row }, 'duplicate');
  for (let i = 0; i < 3; i++) {
    add({ trade: `2026${digits(24)}`, order: `NOSUCH${digits(10)}`, type: '交易', amount: 1000, time: beijing() }, 'unknown_order');
  }
  add(row(notified[30], { trade: `2026${digits(24)}` }), 'double_payment');
  add(row(notified[40], { type: '退款', amount: 500, refundNo: `RF${digits(10)}` }), 'refund_unknown');
  add(row(notified[41], { type: '退款', amount: 700, refundNo: `RF${digits(10)}` }), 'refund_unknown');
  numberRows(rows, 6);

  const text = [
    '#支付宝业务明细查询',
    `#账号：[2088${digits(12)}0156]`,
    `#起始日期：[${alipayDate(periodStart)}]   终止日期：[${alipayDate(periodEnd)}]`,
    '#-----------------------------------------业务明细列表----------------------------------------',
    ALIPAY_HEADER,
    ...rows.map(alipayRow),
    '#-----------------------------------------业务明细列表结束------------------------------------',
    `#交易合计：${rows.length}笔，商家实收共0.00元，商家优惠共0.00元`,
    '#退款合计：2笔，商家实收退款共-12.00元，商家优惠退款共0.00元',
    `#导出时间：[${alipayDate(Date.now())}]`,
    '',
  ].join('\r\n');
  const gbk = toGbk(text);
  assert.ok(!gbk.equals(Buffer.from(text, 'utf8')), 'the statement really is GBK');

  const ledgerBefore = await assertLedgerBalanced(lebd, token);
  const response = await importStatement('alipay', gbk);
  assertStatus(response, 201, 'Alipay import');
  const report = response.body;
  assertReport(report, 'alipay', rows.length);
  assert.equal(report.format, 'alipay');
  assert.equal(report.period_start, new Date(periodStart).toISOString().replace('.000', ''));
  assert.equal(report.period_end, new Date(periodEnd).toISOString().replace('.000', ''));
  const counts = {};
  for (const [name, list] of Object.entries(expected)) counts[name] = list.length;
  counts.missing_from_statement = leftOut.length;
  assert.deepEqual(report.summary, summaryOf(counts));
  for (const name of ['repaired', 'amount_mismatch', 'duplicate', 'unknown_order', 'double_payment', 'refund_unknown']) {
    const want = expected[name].map((r) => `${r.line}|${r.order}|${r.trade}`).sort();
    assert.deepEqual(keysOf(report, name), want, `the ${name} rows`);
  }
  const refund = report.items.find((item) => item.class === 'refund_unknown' && item.statement_amount === 500);
  assert.ok(refund, 'a refund of -5.00 is 500 fen refunded');
  assert.deepEqual(
    report.items.filter((item) => item.class === 'missing_from_statement').map((item) => item.order_no).sort(),
    leftOut.map((order) => order.order_no).sort(),
  );
  const statuses = await ordersStatus([...unnotified, ...wrong].map((order) => order.order_no));
  assert.deepEqual(statuses, [...Array(15).fill('succeeded'), ...Array(3).fill('pending_payment')]);
  const ledger = await assertLedgerBalanced(lebd, token);
  assert.equal(ledger.transactions, ledgerBefore.transactions + 15);

  /* The same GBK bytes again: the earlier report, nothing moved. */
  const again = await importStatement('alipay', gbk);
  assertStatus(again, 200, 'the same Alipay statement');
  assert.deepEqual(again.body, report);
  /* The same text in UTF-8 is another file: a new report, and still nothing is credited
   * twice. */
  const utf8 = await importStatement('alipay', Buffer.from(`\ufeff${text}`, 'utf8'));
  assertStatus(utf8, 201, 'the UTF-8 twin');
  assert.equal(utf8.body.summary.repaired, 0);
  assert.equal(utf8.body.summary.matched, report.summary.matched + report.summary.repaired);
  assert.equal((await assertLedgerBalanced(lebd, token)).transactions, ledger.transactions);
});

/* ---------------------------------------------------------------------------------------------
 * Bad input
 * ------------------------------------------------------------------------------------------ */

test('bad statements are refused with the first bad line, and nothing is repaired', async () => {
  const cards = await createCards(1);
  const [order] = await createOrders(1, 'wechatpay_v2', cards);
  const paid = wx.pay(order.order_no);
  const good = { time: billTime(paid.time_end), trade: paid.transaction_id, order: order.order_no, amount: paid.paid_fee };
  const filler = () => ({ time: beijing(), trade: `4200${digits(24)}`, order: `NOSUCH${digits(14)}`, amount: 5000 });

  /* Line 2 could be repaired, line 4 is malformed: nothing happens. */
  const lines = wxBill([good, filler(), filler(), filler()]).split('\r\n');
  lines[3] = lines[3].replaceAll('`50.00,', '`50.005,');
  let response = await importStatement('wechatpay_v2', lines.join('\r\n'));
  assertError(response, 400, 'invalid_request', 'a third decimal');
  assert.equal(response.body.error.details.line, 4);
  assert.match(response.body.error.message, /^line 4: .*50\.005/);
  assert.equal((await getOrder(lebd, order.order_no)).body.status, 'pending_payment', 'nothing repaired');

  const short = wxBill([good, filler()]).split('\r\n');
  short[2] = short[2].split(',').slice(0, 10).join(',');
  response = await importStatement('wechatpay_v2', short.join('\r\n'));
  assertError(response, 400, 'invalid_request', 'a short row');
  assert.equal(response.body.error.details.line, 3);
  assert.match(response.body.error.message, /10 fields, but the header has 27/);

  const unknownState = wxBill([good, filler()]).split('\r\n');
  unknownState[2] = unknownState[2].replace('`SUCCESS,', '`NOTPAY,');
  response = await importStatement('wechatpay_v2', unknownState.join('\r\n'));
  assertError(response, 400, 'invalid_request', 'an unknown 交易状态');
  assert.equal(response.body.error.details.line, 3);
  assert.match(response.body.error.message, /NOTPAY/);

  response = await importStatement('wechatpay_v2', 'order_no,amount\nX,1.00\n');
  assertError(response, 400, 'invalid_request', 'not a statement');
  assert.equal(response.body.error.details.line, 1);

  response = await importStatement('alipay', wxBill([good]));
  assertError(response, 400, 'invalid_request', 'a WeChat Pay bill given as Alipay');

  const garbage = Buffer.concat([Buffer.from(`${WX_HEADER}\n`), Buffer.from([0xff, 0xfe, 0xff, 0x0a])]);
  response = await importStatement('wechatpay_v2', garbage);
  assertError(response, 400, 'invalid_request', 'neither UTF-8 nor GBK');
  assert.equal(response.body.error.details.line, 2);

  assertError(await importStatement('wechatpay_v2', ''), 400, 'invalid_request', 'empty');
  assertError(await importStatement('wechatpay_v2', wxBill([good]), { contentType: 'application/json' }), 415, 'unsupported_media_type');
  assertError(await importStatement('wechatpay_v2', wxBill([good]), { contentType: 'text/plain' }), 415, 'unsupported_media_type');
  assertError(await importStatement('paypal', wxBill([good])), 422, 'payment_method_unavailable');
  assertError(await importStatement('sandbox', wxBill([good])), 422, 'payment_method_unavailable');
  assertError(await importStatement('x', wxBill([good]), { query: '' }), 400, 'invalid_request', 'no provider');
  assertError(await importStatement('wechatpay_v2', wxBill([good]), { tokenOf: null }), 401, 'unauthorized');
  const huge = Buffer.alloc(16 * 1024 * 1024 + 1, 0x41);
  assertError(await importStatement('wechatpay_v2', huge), 413, 'payload_too_large');

  assert.equal((await getOrder(lebd, order.order_no)).body.status, 'pending_payment', 'still nothing repaired');
  /* The good statement then repairs it. */
  response = await importStatement('wechatpay_v2', wxBill([good]));
  assertStatus(response, 201);
  assert.equal(response.body.summary.repaired, 1);
  assert.equal((await getOrder(lebd, order.order_no)).body.status, 'succeeded');
  await assertLedgerBalanced(lebd, token);
});

/* ---------------------------------------------------------------------------------------------
 * Roles
 * ------------------------------------------------------------------------------------------ */

test("a cardholder's session may neither import nor read a reconciliation (403)", async (t) => {
  /* A portal session is the one non-operator token a black-box test can get: its login code
   * is read where the cardholder reads it, at a stand-in of the SMS gateway. */
  const sms = [];
  const gateway = http.createServer((request, response) => {
    sms.push(Object.fromEntries(new URL(request.url, 'http://gateway').searchParams));
    response.writeHead(202, { 'content-type': 'text/plain' }).end('0: Accepted for delivery');
  });
  await new Promise((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => gateway.close(resolve)));
  const passwordFile = path.join(workDir, 'sms-password');
  fs.writeFileSync(passwordFile, 'gateway-secret\n');
  const portalLebd = await startLebd({
    t,
    env: {
      LEB_SMS_SENDSMS_URL: `http://127.0.0.1:${gateway.address().port}/cgi-bin/sendsms`,
      LEB_SMS_USERNAME: 'leb',
      LEB_SMS_PASSWORD_FILE: passwordFile,
      LEB_OUTBOX_INTERVAL_S: '1',
    },
  });
  const msisdn = '+8613800000001';
  assertStatus(await api(portalLebd, 'POST', '/api/v1/portal/otp', { body: { phone: msisdn } }), 202);
  const message = await pollUntil(() => sms.find((query) => query.to === msisdn && /\d{6}/.test(query.text || '')), {
    timeout_ms: 10000,
    what: 'the login code',
  });
  const code = /(?<!\d)(\d{6})(?!\d)/.exec(message.text)[1];
  const session = await api(portalLebd, 'POST', '/api/v1/portal/session', { body: { phone: msisdn, code } });
  assertStatus(session, 201, 'portal session');
  const portalToken = session.body.token;
  const statement = Buffer.from(`${WX_HEADER}\r\n`);
  const post = await api(portalLebd, 'POST', `${RECON_PATH}?provider=wechatpay_v2`, {
    raw: statement,
    headers: { 'content-type': 'text/csv' },
    token: portalToken,
  });
  assertError(post, 403, 'forbidden', 'import');
  assertError(await api(portalLebd, 'GET', `${RECON_PATH}/1`, { token: portalToken }), 403, 'forbidden', 'read');
  assertError(await api(portalLebd, 'GET', `${RECON_PATH}/1`), 401, 'unauthorized');
  const admin = await login(portalLebd);
  assertStatus(
    await api(portalLebd, 'POST', `${RECON_PATH}?provider=wechatpay_v2`, {
      raw: statement,
      headers: { 'content-type': 'text/csv' },
      token: admin,
    }),
    201,
    'an empty bill, by an operator',
  );
});
