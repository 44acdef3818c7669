'use strict';
/*
 * wechatpay_v2.js - a simulator of WeChat Pay API v2 (the XML interface), for black-box tests
 * of lebd's "wechatpay_v2" provider. Node built-ins only.
 *
 * It plays WeChat Pay's side of what pay.weixin.qq.com documents:
 *   POST /pay/unifiedorder      统一下单: a NATIVE order's code_url (idempotent on out_trade_no)
 *   POST /pay/orderquery        查询订单: trade_state, or err_code ORDERNOTEXIST
 *   POST /secapi/pay/refund     申请退款: idempotent on out_refund_no (plain HTTP here; the
 *                               real endpoint asks for the merchant's client certificate)
 * Every request's sign is checked with the sign_type it names (none: MD5); a wrong one is
 * answered return_code FAIL "签名错误", unsigned, as WeChat Pay does. Every SUCCESS answer is
 * signed with the request's sign type and, as WeChat Pay does, does not say which.
 * Notifications (支付结果通知) are built, signed and POSTed to the order's notify_url on demand.
 *
 * Use: const sim = await startWechatV2Sim(); sim.lebdEnv(dir) gives lebd's environment (and
 * writes the API key file into "dir"); sim.pay(out_trade_no) marks an order paid;
 * sim.notify(out_trade_no, options) sends its notification. Standalone:
 *   node tests/sim/wechatpay_v2.js [port]
 * prints the settings lebd needs and serves until interrupted.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const BODY_MAX = 64 * 1024;

/* ---- the signature (安全规范) ---- */

/* stringA of the non-empty fields but "sign", sorted by name (ASCII), then "&key=" + key;
 * MD5 or HMAC-SHA256 (keyed with the key) in upper-case hex. */
function signFields(fields, key, signType = 'MD5') {
  const stringA = Object.keys(fields)
    .filter((name) => name !== 'sign' && fields[name] !== undefined && fields[name] !== null)
    .filter((name) => String(fields[name]) !== '')
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((name) => `${name}=${fields[name]}`)
    .join('&');
  const temp = `${stringA}&key=${key}`;
  if (signType === 'HMAC-SHA256') {
    return crypto.createHmac('sha256', key).update(temp, 'utf8').digest('hex').toUpperCase();
  }
  if (signType === 'MD5') return crypto.createHash('md5').update(temp, 'utf8').digest('hex').toUpperCase();
  throw new Error(`unknown sign type ${signType}`);
}

function safeEqual(a, b) {
  const left = Buffer.from(String(a));
  const right = Buffer.from(String(b));
  return left.length === right.length && crypto.timingSafeEqual(left, right);
}

/* The request's own sign checked with the sign_type it names; the documented default is MD5. */
function verifyFields(fields, key) {
  const signType = fields.sign_type || 'MD5';
  if (!fields.sign || (signType !== 'MD5' && signType !== 'HMAC-SHA256')) return false;
  return safeEqual(signFields(fields, key, signType), fields.sign);
}

/* ---- flat XML ---- */

function xmlDecode(text) {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, entity) => {
    const named = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (named[entity]) return named[entity];
    const code = entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

/* The fields of a flat <xml> document, or null for anything else (a DOCTYPE included). The
 * simulator is WeChat Pay, a well-behaved peer: this is enough for what lebd sends. */
function parseXml(text) {
  const match = /^\s*(?:<\?xml[^>]*\?>)?\s*<xml>([\s\S]*)<\/xml>\s*$/.exec(text);
  if (!match) return null;
  const fields = {};
  const element = /\s*<([A-Za-z_][A-Za-z0-9_]*)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>\s*/y;
  let at = 0;
  const inner = match[1];
  while (at < inner.length) {
    element.lastIndex = at;
    const found = element.exec(inner);
    if (!found || Object.prototype.hasOwnProperty.call(fields, found[1])) return null;
    fields[found[1]] = found[2] !== undefined ? found[2] : xmlDecode(found[3]);
    at = element.lastIndex;
  }
  return fields;
}

/* WeChat Pay's style: numbers as text, everything else in CDATA. */
function toXml(fields) {
  const parts = ['<xml>'];
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const text = String(value);
    parts.push(/^\d+$/.test(text) ? `<${name}>${text}</${name}>` : `<${name}><![CDATA[${text}]]></${name}>`);
  }
  parts.push('</xml>');
  return parts.join('');
}

function nonce() {
  return crypto.randomBytes(16).toString('hex');
}

function digits(count) {
  let text = '';
  while (text.length < count) text += crypto.randomInt(0, 1e9).toString().padStart(9, '0');
  return text.slice(0, count);
}

/* yyyyMMddHHmmss, Beijing time. */
function beijingTime(ms = Date.now()) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/* Changes one byte of a notification after signing: the last digit of total_fee. */
function tamperOneByte(xml) {
  const fee = /(<total_fee>\d*)(\d)(<\/total_fee>)/.exec(xml);
  if (!fee) throw new Error('no total_fee to tamper with');
  const digit = fee[2] === '9' ? '8' : String(Number(fee[2]) + 1);
  const at = fee.index + fee[1].length;
  return xml.slice(0, at) + digit + xml.slice(at + 1);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size > BODY_MAX) {
        reject(new Error('body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

async function post(url, body, contentType = 'text/xml') {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/*
 * startWechatV2Sim({port, appid, mchid, apiKey}) resolves to the simulator:
 * { url, appid, mchid, apiKey, orders, refunds, requests, next, writeKeyFiles(dir),
 *   lebdEnv(dir), pay(out_trade_no), notification(out_trade_no, options), notify(...), close() }.
 */
async function startWechatV2Sim(options = {}) {
  const sim = {
    url: null,
    appid: options.appid || `wx${crypto.randomBytes(8).toString('hex')}`,
    mchid: options.mchid || `1${digits(9)}`,
    apiKey: options.apiKey || crypto.randomBytes(16).toString('hex'),
    orders: new Map(), // out_trade_no -> order
    refunds: new Map(), // out_refund_no -> refund
    requests: [], // {path, raw, fields, signValid, at}
    /* One-shot misbehaviour by path: 'badsign' (a wrong sign on the answer), 'return_fail',
     * 'http500', 'notxml', or an err_code answered with result_code FAIL. */
    next: {},
    lastNotifyUrl: null,
  };

  function answer(response, fields, signType) {
    const signed = { ...fields };
    if (signed.return_code === 'SUCCESS') signed.sign = signFields(signed, sim.apiKey, signType);
    response.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
    response.end(toXml(signed));
  }

  function fail(response, message) {
    answer(response, { return_code: 'FAIL', return_msg: message });
  }

  /* The common head of every SUCCESS answer. */
  function head() {
    return {
      return_code: 'SUCCESS',
      return_msg: 'OK',
      appid: sim.appid,
      mch_id: sim.mchid,
      nonce_str: nonce(),
    };
  }

  function businessFail(response, signType, errCode, description, extra = {}) {
    const fields = { ...head(), result_code: 'FAIL', err_code: errCode, err_code_des: description };
    answer(response, { ...fields, ...extra }, signType);
  }

  function unifiedorder(fields, response, signType) {
    const required = ['body', 'out_trade_no', 'total_fee', 'spbill_create_ip', 'notify_url', 'trade_type'];
    for (const name of required) {
      if (!fields[name]) return fail(response, `缺少参数${name}`);
    }
    if (fields.trade_type === 'NATIVE' && !fields.product_id) {
      return fail(response, '缺少参数product_id');
    }
    if (!/^[1-9]\d*$/.test(fields.total_fee)) {
      return businessFail(response, signType, 'PARAM_ERROR', 'total_fee');
    }
    const known = sim.orders.get(fields.out_trade_no);
    if (known) {
      if (known.trade_state === 'SUCCESS') {
        return businessFail(response, signType, 'ORDERPAID', '该订单已支付');
      }
      const same =
        known.total_fee === Number(fields.total_fee) &&
        known.body === fields.body &&
        known.notify_url === fields.notify_url;
      if (!same) {
        return businessFail(response, signType, 'INVALID_REQUEST', '201 商户订单号重复');
      }
    }
    const order = known || {
      out_trade_no: fields.out_trade_no,
      body: fields.body,
      total_fee: Number(fields.total_fee),
      notify_url: fields.notify_url,
      product_id: fields.product_id,
      time_expire: fields.time_expire,
      prepay_id: `wx${beijingTime()}${crypto.randomBytes(9).toString('hex')}`,
      code_url: `weixin://wxpay/bizpayurl?pr=${crypto.randomBytes(6).toString('base64url')}`,
      trade_state: 'NOTPAY',
      transaction_id: null,
      time_end: null,
      request: fields,
    };
    sim.orders.set(order.out_trade_no, order);
    sim.lastNotifyUrl = order.notify_url;
    return answer(
      response,
      {
        ...head(),
        result_code: 'SUCCESS',
        prepay_id: order.prepay_id,
        trade_type: 'NATIVE',
        code_url: order.code_url,
      },
      signType,
    );
  }

  function orderquery(fields, response, signType) {
    const order = sim.orders.get(fields.out_trade_no);
    if (!order) return businessFail(response, signType, 'ORDERNOTEXIST', '此交易订单号不存在');
    const paid = order.trade_state === 'SUCCESS' || order.trade_state === 'REFUND';
    const descriptions = {
      SUCCESS: '支付成功',
      REFUND: '转入退款',
      NOTPAY: '订单未支付',
      CLOSED: '订单已关闭',
    };
    return answer(
      response,
      {
        ...head(),
        result_code: 'SUCCESS',
        out_trade_no: order.out_trade_no,
        trade_state: order.trade_state,
        trade_state_desc: descriptions[order.trade_state] || order.trade_state,
        ...(paid
          ? {
              openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
              is_subscribe: 'N',
              trade_type: 'NATIVE',
              bank_type: 'OTHERS',
              total_fee: order.paid_fee,
              fee_type: 'CNY',
              cash_fee: order.paid_fee,
              transaction_id: order.transaction_id,
              time_end: order.time_end,
            }
          : {}),
      },
      signType,
    );
  }

  function refund(fields, response, signType) {
    for (const name of ['out_refund_no', 'total_fee', 'refund_fee']) {
      if (!fields[name]) return fail(response, `缺少参数${name}`);
    }
    const order = sim.orders.get(fields.out_trade_no);
    if (!order || (order.trade_state !== 'SUCCESS' && order.trade_state !== 'REFUND')) {
      return businessFail(response, signType, 'ORDERNOTEXIST', '订单号不存在');
    }
    const known = sim.refunds.get(fields.out_refund_no);
    if (known) {
      known.calls += 1;
    } else {
      if (Number(fields.total_fee) !== order.paid_fee || Number(fields.refund_fee) > order.paid_fee) {
        return businessFail(response, signType, 'INVALID_REQUEST', '订单金额或退款金额与之前请求不一致');
      }
      sim.refunds.set(fields.out_refund_no, {
        out_refund_no: fields.out_refund_no,
        out_trade_no: order.out_trade_no,
        transaction_id: order.transaction_id,
        refund_fee: Number(fields.refund_fee),
        total_fee: Number(fields.total_fee),
        refund_id: `50${digits(27)}`,
        calls: 1,
      });
      order.trade_state = 'REFUND';
    }
    const done = sim.refunds.get(fields.out_refund_no);
    return answer(
      response,
      {
        ...head(),
        result_code: 'SUCCESS',
        transaction_id: done.transaction_id,
        out_trade_no: done.out_trade_no,
        out_refund_no: done.out_refund_no,
        refund_id: done.refund_id,
        refund_fee: done.refund_fee,
        total_fee: done.total_fee,
        cash_fee: done.total_fee,
      },
      signType,
    );
  }

  const routes = { '/pay/unifiedorder': unifiedorder, '/pay/orderquery': orderquery, '/secapi/pay/refund': refund };

  const server = http.createServer(async (request, response) => {
    let raw = '';
    try {
      raw = await readBody(request);
    } catch (_) {
      return;
    }
    const route = routes[request.url];
    if (request.method !== 'POST' || !route) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found');
      return;
    }
    const fields = parseXml(raw);
    const signValid = fields !== null && verifyFields(fields, sim.apiKey);
    sim.requests.push({ path: request.url, raw, fields, signValid, at: Date.now() });
    if (fields === null) return fail(response, 'XML格式错误');
    if (!signValid) return fail(response, '签名错误');
    if (fields.appid !== sim.appid || fields.mch_id !== sim.mchid) return fail(response, 'appid和mch_id不匹配');
    if (!fields.nonce_str || fields.nonce_str.length > 32) return fail(response, 'nonce_str');
    const signType = fields.sign_type || 'MD5';
    const trick = sim.next[request.url];
    if (trick !== undefined) {
      delete sim.next[request.url];
      if (trick === 'http500') {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end('internal error');
        return;
      }
      if (trick === 'notxml') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<html>busy</html>');
        return;
      }
      if (trick === 'return_fail') return fail(response, '系统繁忙');
      if (trick === 'badsign') {
        /* Everything each API could answer, signed with another key. */
        const fake = {
          ...head(),
          result_code: 'SUCCESS',
          prepay_id: 'wx0',
          trade_type: 'NATIVE',
          code_url: 'weixin://wxpay/bizpayurl?pr=forged',
          out_trade_no: fields.out_trade_no,
          trade_state: 'SUCCESS',
          transaction_id: '4200000000000000000000000000',
          total_fee: fields.total_fee || '1',
          refund_id: '50000',
        };
        fake.sign = signFields(fake, `${sim.apiKey}x`, signType);
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(toXml(fake));
        return;
      }
      return businessFail(response, signType, trick, `simulated ${trick}`);
    }
    route(fields, response, signType);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port || 0, '127.0.0.1', resolve);
  });
  sim.url = `http://127.0.0.1:${server.address().port}`;

  /* Writes the API key file into "dir"; returns its path. */
  sim.writeKeyFiles = (dir) => {
    const apiKeyFile = path.join(dir, 'wechatpay_v2_api_key');
    fs.writeFileSync(apiKeyFile, `${sim.apiKey}\n`, { mode: 0o600 });
    return { apiKeyFile };
  };

  /* lebd's environment for this simulator (the key file written into "dir"). */
  sim.lebdEnv = (dir) => ({
    LEB_WECHATPAY_V2_APPID: sim.appid,
    LEB_WECHATPAY_V2_MCH_ID: sim.mchid,
    LEB_WECHATPAY_V2_API_KEY_FILE: sim.writeKeyFiles(dir).apiKeyFile,
    LEB_WECHATPAY_V2_BASE_URL: sim.url,
  });

  /* The payer pays: trade_state SUCCESS, a transaction_id. "totalFee" pays another amount. */
  sim.pay = (outTradeNo, { totalFee } = {}) => {
    const order = sim.orders.get(outTradeNo);
    if (!order) throw new Error(`the simulator has no order ${outTradeNo}`);
    if (order.trade_state === 'NOTPAY') {
      order.trade_state = 'SUCCESS';
      order.transaction_id = `4200${digits(24)}`;
      order.time_end = beijingTime();
      order.paid_fee = totalFee === undefined ? order.total_fee : totalFee;
    }
    return order;
  };

  /*
   * The notification of "outTradeNo" as WeChat Pay would POST it: { xml, fields, url }.
   * options: signType 'HMAC-SHA256' (default) or 'MD5'; omitSignType (no sign_type field, as
   * WeChat Pay often sends); wrongKey; appid, mchId, totalFee, resultCode, transactionId (other
   * values, signed); extra (more signed fields); dropSign; tamper (true: one byte changed after
   * signing; a function xml => xml); url. An order the simulator does not know is notified
   * with options.totalFee (default 1) and a new transaction_id.
   */
  sim.notification = (outTradeNo, opts = {}) => {
    const order = sim.orders.get(outTradeNo);
    const resultCode = opts.resultCode || 'SUCCESS';
    const signType = opts.signType || 'HMAC-SHA256';
    const fee = opts.totalFee !== undefined ? opts.totalFee : order ? order.paid_fee || order.total_fee : 1;
    const paidTransaction = (order && order.transaction_id) || `4200${digits(24)}`;
    const fields = {
      appid: opts.appid || sim.appid,
      bank_type: 'OTHERS',
      cash_fee: fee,
      fee_type: 'CNY',
      is_subscribe: 'N',
      mch_id: opts.mchId || sim.mchid,
      nonce_str: nonce(),
      openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o',
      out_trade_no: outTradeNo,
      result_code: resultCode,
      return_code: 'SUCCESS',
      sign_type: opts.omitSignType ? undefined : signType,
      time_end: opts.timeEnd || (order && order.time_end) || beijingTime(),
      total_fee: fee,
      trade_type: 'NATIVE',
      transaction_id: opts.transactionId || (resultCode === 'SUCCESS' ? paidTransaction : undefined),
      ...(resultCode === 'FAIL' ? { err_code: 'PAYERROR', err_code_des: '支付失败' } : {}),
      ...(opts.extra || {}),
    };
    for (const name of Object.keys(fields)) if (fields[name] === undefined) delete fields[name];
    const key = opts.wrongKey ? crypto.randomBytes(16).toString('hex') : sim.apiKey;
    fields.sign = signFields(fields, key, signType);
    if (opts.dropSign) delete fields.sign;
    let xml = toXml(fields);
    if (opts.tamper === true) xml = tamperOneByte(xml);
    else if (typeof opts.tamper === 'function') xml = opts.tamper(xml);
    const url = opts.url || (order && order.notify_url) || sim.lastNotifyUrl;
    if (!url) throw new Error('no notify_url known: pass options.url');
    return { xml, fields, url };
  };

  /* Sends the notification (see sim.notification); resolves to {status, headers, text, xml}. */
  sim.notify = async (outTradeNo, opts = {}) => {
    const { xml, url } = sim.notification(outTradeNo, opts);
    return { ...(await post(url, opts.body !== undefined ? opts.body : xml)), xml };
  };

  /* The requests the simulator received at "requestPath" (about "outTradeNo", if given). */
  sim.requestsTo = (requestPath, outTradeNo) =>
    sim.requests.filter(
      (request) =>
        request.path === requestPath &&
        (outTradeNo === undefined || (request.fields && request.fields.out_trade_no === outTradeNo)),
    );

  sim.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); /* keep-alive connections would hold close() open */
    });
  return sim;
}

module.exports = {
  startWechatV2Sim,
  signFields,
  verifyFields,
  parseXml,
  toXml,
  tamperOneByte,
  beijingTime,
  post,
};

if (require.main === module) {
  startWechatV2Sim({ port: Number(process.argv[2] || process.env.PORT || 0) }).then((sim) => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'wxv2-sim-'));
    const env = sim.lebdEnv(dir);
    process.stdout.write(`WeChat Pay v2 simulator on ${sim.url}\n`);
    for (const [name, value] of Object.entries(env)) process.stdout.write(`${name}=${value}\n`);
    process.stdout.write('POST /pay/unifiedorder, /pay/orderquery, /secapi/pay/refund; Ctrl-C stops\n');
    const stop = () => {
      fs.rmSync(dir, { recursive: true, force: true });
      sim.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
