'use strict';
/*
 * wechatpay.js - a simulator of WeChat Pay API v3 for a directly connected merchant (直连商户),
 * Native payment, as its documentation describes the wire format. Node built-ins only; every
 * key is generated when the simulator starts.
 *
 * What it plays:
 *
 * - Requests must carry "Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
 *   signature=..,timestamp=..,serial_no=.." whose signature (SHA256withRSA, base64) over
 *   "METHOD\nURL-path-and-query\ntimestamp\nnonce\nbody\n" verifies with the merchant's public
 *   key, from the merchant's serial, within 5 minutes: otherwise 401 SIGN_ERROR, unsigned
 *   (WeChat Pay signs the answers of requests it could authenticate). A User-Agent is required;
 *   a body must be application/json.
 * - Every other answer is signed with the platform key: Wechatpay-Timestamp, -Nonce,
 *   -Signature (over "timestamp\nnonce\nbody\n") and -Serial.
 * - POST /v3/pay/transactions/native -> {"code_url"}; the same order again answers the same
 *   code_url, another amount under the same out_trade_no is refused, a paid one is ORDERPAID.
 * - GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid= -> the transaction, or 404
 *   ORDER_NOT_EXIST; GET /v3/pay/transactions/id/{transaction_id}?mchid= likewise.
 * - POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close -> 204.
 * - POST /v3/refund/domestic/refunds -> the refund; the same out_refund_no answers the same
 *   refund (WeChat Pay refunds a refund number once); GET /v3/refund/domestic/refunds/{no}.
 * - Payment notifications: POST to the order's notify_url, the transaction encrypted with
 *   AEAD_AES_256_GCM under the APIv3 key (12-character nonce, associated data "transaction"),
 *   the envelope signed like an answer.
 *
 * startWechatSim() resolves to a simulator; see its methods below. Run standalone
 * (node tests/sim/wechatpay.js [port]) it writes its keys to a temporary directory, prints the
 * environment lebd needs, and takes commands on stdin: "pay <out_trade_no>",
 * "notify <out_trade_no>", "orders".
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
const CLOCK_SKEW_S = 300;
const BODY_MAX = 1 << 20;
const generateKeyPair = promisify(crypto.generateKeyPair);

/* ---- small helpers ---- */

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomText(length, alphabet = ALNUM) {
  const bytes = crypto.randomBytes(length);
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[bytes[i] % alphabet.length];
  return text;
}

function randomDigits(length) {
  return randomText(length, '0123456789');
}

function hexSerial() {
  return crypto.randomBytes(20).toString('hex').toUpperCase();
}

function nowS() {
  return Math.floor(Date.now() / 1000);
}

/* RFC 3339 in Beijing time, as WeChat Pay writes its times: 2026-11-25T22:00:00+08:00. */
function beijingTime(unixS = nowS()) {
  const shifted = new Date((unixS + 8 * 3600) * 1000).toISOString();
  return `${shifted.slice(0, 19)}+08:00`;
}

/* The text a signature covers: each part followed by "\n". */
function signedText(...parts) {
  return Buffer.concat(parts.map((part) => Buffer.concat([Buffer.from(part), Buffer.from('\n')])));
}

function rsaSign(privateKey, text) {
  return crypto.sign('sha256', text, privateKey).toString('base64');
}

function rsaVerify(publicKey, text, signature) {
  try {
    return crypto.verify('sha256', text, publicKey, Buffer.from(signature, 'base64'));
  } catch (_) {
    return false;
  }
}

/* AEAD_AES_256_GCM: base64 of the ciphertext followed by its 16-byte tag. */
function encryptResource(apiv3Key, plaintext, associatedData, nonce) {
  const cipher = crypto.createCipheriv('aes-256-gcm', Buffer.from(apiv3Key), Buffer.from(nonce));
  cipher.setAAD(Buffer.from(associatedData));
  const body = Buffer.concat([cipher.update(Buffer.from(plaintext)), cipher.final()]);
  return Buffer.concat([body, cipher.getAuthTag()]).toString('base64');
}

function decryptResource(apiv3Key, ciphertext, associatedData, nonce) {
  const data = Buffer.from(ciphertext, 'base64');
  const decipher = crypto.createDecipheriv('aes-256-gcm', Buffer.from(apiv3Key), Buffer.from(nonce));
  decipher.setAAD(Buffer.from(associatedData));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString();
}

/* The fields of an Authorization header, or null when it is not WeChat Pay's scheme. */
function parseAuthorization(header) {
  if (typeof header !== 'string' || !header.startsWith(`${AUTH_SCHEME} `)) return null;
  const fields = {};
  const pattern = /\s*([a-z_]+)="([^"]*)"\s*(,|$)/gy;
  const rest = header.slice(AUTH_SCHEME.length + 1);
  let match;
  let at = 0;
  while (at < rest.length && (match = pattern.exec(rest)) !== null) {
    fields[match[1]] = match[2];
    at = pattern.lastIndex;
  }
  return at === rest.length ? fields : null;
}

/* Changes one byte of a JSON body, keeping it JSON: a digit of its create_time. */
function tamperOneByte(body) {
  const match = /"create_time":"\d{3}/.exec(body);
  const at = match ? match.index + match[0].length : body.indexOf('"') + 1;
  const digit = body[at];
  const other = /\d/.test(digit) ? String((Number(digit) + 1) % 10) : 'X';
  return body.slice(0, at) + other + body.slice(at + 1);
}

/* ---- the simulator ---- */

class WechatSim {
  constructor(keys) {
    this.appid = `wx${randomText(16, '0123456789abcdef')}`;
    this.mchid = `19${randomDigits(8)}`;
    this.apiv3Key = randomText(32);
    this.merchantSerial = hexSerial();
    this.platformSerial = hexSerial();
    this.nextPlatformSerial = hexSerial();
    this.keys = keys;
    this.url = null;
    /* Every request received, in order: {method, url, path, query, headers, body, json,
     * authorization, verified, problem, status, answer}. */
    this.requests = [];
    /* Every notification posted: {out_trade_no, status, transaction, ...}. */
    this.notifications = [];
    this.orders = new Map(); /* out_trade_no -> trade */
    this.refunds = new Map(); /* out_refund_no -> refund */
    /* Which key signs the answers: 'current', 'next', 'wrong' (a key lebd does not know under
     * the current serial) or 'none' (unsigned). */
    this.answerKey = 'current';
    /* The status a new refund gets: SUCCESS, PROCESSING, ABNORMAL or CLOSED. */
    this.refundStatus = 'SUCCESS';
    /* When set ({status, code, message}), refunds are refused with it. */
    this.refundError = null;
    /* Answers to give instead of the real ones, first in first out: {status, body}. */
    this.nextAnswers = [];
    this.lastNotifyUrl = null;
    this.server = null;
  }

  /* ---- keys ---- */

  pem(name) {
    const pair = this.keys[name];
    return {
      privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }),
    };
  }

  /* Writes what lebd is given into "dir": the APIv3 key (with a trailing newline, as an
   * editor leaves it), the merchant's private key, the platform's public keys. */
  writeKeyFiles(dir) {
    const files = {
      apiv3KeyFile: path.join(dir, 'wechatpay_apiv3_key'),
      merchantPrivateKeyFile: path.join(dir, 'wechatpay_apiclient_key.pem'),
      platformPublicKeyFile: path.join(dir, 'wechatpay_platform.pem'),
      platformPublicKeyNextFile: path.join(dir, 'wechatpay_platform_next.pem'),
    };
    fs.writeFileSync(files.apiv3KeyFile, `${this.apiv3Key}\n`, { mode: 0o600 });
    fs.writeFileSync(files.merchantPrivateKeyFile, this.pem('merchant').privateKey, { mode: 0o600 });
    fs.writeFileSync(files.platformPublicKeyFile, this.pem('platform').publicKey);
    fs.writeFileSync(files.platformPublicKeyNextFile, this.pem('nextPlatform').publicKey);
    return files;
  }

  /* The LEB_WECHATPAY_* environment of a lebd that talks to this simulator, its key files
   * written into "dir"; with {next: true} the next platform key is configured as well. */
  lebdEnv(dir, { next = false } = {}) {
    const files = this.writeKeyFiles(dir);
    const env = {
      LEB_WECHATPAY_APPID: this.appid,
      LEB_WECHATPAY_MCH_ID: this.mchid,
      LEB_WECHATPAY_APIV3_KEY_FILE: files.apiv3KeyFile,
      LEB_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE: files.platformPublicKeyFile,
      LEB_WECHATPAY_PLATFORM_SERIAL: this.platformSerial,
      LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: files.merchantPrivateKeyFile,
      LEB_WECHATPAY_MERCHANT_SERIAL: this.merchantSerial,
      LEB_WECHATPAY_BASE_URL: this.url,
    };
    if (next) {
      env.LEB_WECHATPAY_PLATFORM_PUBLIC_KEY_NEXT_FILE = files.platformPublicKeyNextFile;
      env.LEB_WECHATPAY_PLATFORM_SERIAL_NEXT = this.nextPlatformSerial;
    }
    return env;
  }

  /* The platform key and serial that sign: "which" is 'current', 'next' or 'wrong'. */
  signer(which) {
    if (which === 'next') return { key: this.keys.nextPlatform.privateKey, serial: this.nextPlatformSerial };
    if (which === 'wrong') return { key: this.keys.wrong.privateKey, serial: this.platformSerial };
    return { key: this.keys.platform.privateKey, serial: this.platformSerial };
  }

  /* The Wechatpay-* headers signing "body". */
  signHeaders(body, { which = 'current', timestamp = nowS(), serial } = {}) {
    const signer = this.signer(which);
    const nonce = crypto.randomBytes(16).toString('hex').toUpperCase();
    const text = signedText(String(timestamp), nonce, body);
    return {
      'Wechatpay-Timestamp': String(timestamp),
      'Wechatpay-Nonce': nonce,
      'Wechatpay-Signature': rsaSign(signer.key, text),
      'Wechatpay-Serial': serial === undefined ? signer.serial : serial,
      'Wechatpay-Signature-Type': AUTH_SCHEME,
    };
  }

  /* ---- the trades ---- */

  /* A transaction as WeChat Pay shows it (query answers, notifications). */
  transactionView(trade) {
    const view = {
      appid: trade.appid,
      mchid: trade.mchid,
      out_trade_no: trade.out_trade_no,
      trade_type: 'NATIVE',
      trade_state: trade.trade_state,
      trade_state_desc: {
        SUCCESS: '支付成功',
        NOTPAY: '订单未支付',
        CLOSED: '订单已关闭',
        REFUND: '转入退款',
        USERPAYING: '用户支付中',
        PAYERROR: '支付失败',
        REVOKED: '已撤销',
      }[trade.trade_state] || trade.trade_state,
      attach: '',
      amount: { total: trade.amount.total, currency: trade.amount.currency, payer_currency: 'CNY' },
      promotion_detail: [],
    };
    if (trade.transaction_id) {
      view.transaction_id = trade.transaction_id;
      view.bank_type = 'OTHERS';
      view.success_time = trade.success_time;
      view.payer = { openid: trade.openid };
      view.amount.payer_total = trade.amount.total;
    }
    return view;
  }

  /* The payer scans and pays "outTradeNo": the trade becomes SUCCESS (no notification is
   * sent: see notify()). Resolves to the transaction. */
  pay(outTradeNo, { total } = {}) {
    const trade = this.orders.get(outTradeNo);
    if (!trade) throw new Error(`wechatpay sim: no order ${outTradeNo}`);
    if (trade.trade_state !== 'SUCCESS') {
      trade.trade_state = 'SUCCESS';
      trade.transaction_id = `4200${randomDigits(24)}`;
      trade.success_time = beijingTime();
      trade.openid = `o${randomText(27)}`;
      if (total !== undefined) trade.amount.total = total;
    }
    return this.transactionView(trade);
  }

  /* Closes an unpaid trade, as the merchant platform or its expiry would. */
  closeTrade(outTradeNo) {
    const trade = this.orders.get(outTradeNo);
    if (!trade) throw new Error(`wechatpay sim: no order ${outTradeNo}`);
    if (trade.trade_state === 'NOTPAY') trade.trade_state = 'CLOSED';
    return this.transactionView(trade);
  }

  /* Finishes a PROCESSING refund. */
  completeRefund(outRefundNo, status = 'SUCCESS') {
    const refund = this.refunds.get(outRefundNo);
    if (!refund) throw new Error(`wechatpay sim: no refund ${outRefundNo}`);
    refund.status = status;
    if (status === 'SUCCESS') refund.success_time = beijingTime();
    return refund;
  }

  /* The requests received on "route" (a path prefix), optionally of one method. */
  requestsTo(route, method) {
    return this.requests.filter((r) => r.path.startsWith(route) && (!method || r.method === method));
  }

  /* ---- notifications ---- */

  /*
   * Builds the notification WeChat Pay would post for "outTradeNo": {url, headers, body,
   * transaction}. Options change it:
   *   tradeState, total, currency, appid, mchid, transactionId (null: none): the transaction;
   *   transaction: this whole transaction instead;
   *   eventType, resourceType, algorithm, originalType, associatedData: the envelope;
   *   apiv3Key: encrypt under this key instead (a resource that does not decrypt);
   *   next: sign with the next platform key under its serial; wrongKey: sign with a key lebd
   *   does not know; serial: send this Wechatpay-Serial; timestamp: sign this time (seconds);
   *   tamper: change one byte of the body after signing; signature: send this signature;
   *   omit: a list of headers to leave out; url: post there.
   */
  buildNotification(outTradeNo, options = {}) {
    const trade = this.orders.get(outTradeNo);
    let transaction;
    if (options.transaction) {
      transaction = options.transaction;
    } else if (trade) {
      transaction = this.transactionView(trade);
    } else {
      transaction = this.transactionView({
        appid: this.appid,
        mchid: this.mchid,
        out_trade_no: outTradeNo,
        trade_state: 'SUCCESS',
        transaction_id: `4200${randomDigits(24)}`,
        success_time: beijingTime(),
        openid: `o${randomText(27)}`,
        amount: { total: options.total || 100, currency: 'CNY' },
      });
    }
    transaction = JSON.parse(JSON.stringify(transaction));
    if (options.tradeState !== undefined) {
      transaction.trade_state = options.tradeState;
      if (options.tradeState !== 'SUCCESS' && options.transactionId === undefined) {
        delete transaction.transaction_id;
        delete transaction.success_time;
        delete transaction.payer;
      }
    }
    if (options.total !== undefined) {
      transaction.amount.total = options.total;
      transaction.amount.payer_total = options.total;
    }
    if (options.currency !== undefined) transaction.amount.currency = options.currency;
    if (options.appid !== undefined) transaction.appid = options.appid;
    if (options.mchid !== undefined) transaction.mchid = options.mchid;
    if (options.transactionId === null) delete transaction.transaction_id;
    else if (options.transactionId !== undefined) transaction.transaction_id = options.transactionId;

    const state = transaction.trade_state;
    const nonce = randomText(12);
    const associatedData = options.associatedData === undefined ? 'transaction' : options.associatedData;
    const envelope = {
      id: crypto.randomUUID(),
      create_time: beijingTime(),
      resource_type: options.resourceType || 'encrypt-resource',
      event_type: options.eventType || (state === 'SUCCESS' ? 'TRANSACTION.SUCCESS' : `TRANSACTION.${state}`),
      summary: state === 'SUCCESS' ? '支付成功' : '支付失败',
      resource: {
        original_type: options.originalType || 'transaction',
        algorithm: options.algorithm || 'AEAD_AES_256_GCM',
        ciphertext: encryptResource(
          options.apiv3Key || this.apiv3Key,
          JSON.stringify(transaction),
          associatedData,
          nonce,
        ),
        associated_data: associatedData,
        nonce,
      },
    };
    let body = JSON.stringify(envelope);
    const which = options.wrongKey ? 'wrong' : options.next ? 'next' : 'current';
    const signature = this.signHeaders(body, {
      which,
      timestamp: options.timestamp === undefined ? nowS() : options.timestamp,
      serial: options.serial,
    });
    if (options.tamper) body = tamperOneByte(body);
    if (options.signature !== undefined) signature['Wechatpay-Signature'] = options.signature;
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': 'Mozilla/4.0',
      'Request-ID': crypto.randomUUID(),
      ...signature,
    };
    for (const name of options.omit || []) delete headers[name];
    const url = options.url || (trade && trade.notify_url) || this.lastNotifyUrl;
    if (!url) throw new Error('wechatpay sim: no notify_url known: create an order first or give options.url');
    return { url, headers, body, transaction, out_trade_no: outTradeNo };
  }

  /* Posts "notification" (from buildNotification) as it is: a replay posts the same bytes.
   * Resolves to {status, headers, text, body (JSON or null)}. */
  async post(notification) {
    const response = await fetch(notification.url, {
      method: 'POST',
      headers: notification.headers,
      body: notification.body,
    });
    const text = await response.text();
    let parsed = null;
    try {
      parsed = JSON.parse(text);
    } catch (_) {
      parsed = null;
    }
    const result = { status: response.status, headers: response.headers, text, body: parsed };
    this.notifications.push({ out_trade_no: notification.out_trade_no, status: response.status, notification });
    return result;
  }

  /* Builds and posts the notification of "outTradeNo" (see buildNotification). */
  async notify(outTradeNo, options = {}) {
    const notification = this.buildNotification(outTradeNo, options);
    const result = await this.post(notification);
    return { ...result, notification };
  }

  /* ---- playing the merchant: a signed call to the simulator itself (standalone checks) ---- */

  async merchantCall(method, route, body) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(nowS());
    const nonce = crypto.randomBytes(16).toString('hex');
    const signature = rsaSign(this.keys.merchant.privateKey, signedText(method, route, timestamp, nonce, text));
    const headers = {
      Authorization:
        `${AUTH_SCHEME} mchid="${this.mchid}",nonce_str="${nonce}",signature="${signature}",` +
        `timestamp="${timestamp}",serial_no="${this.merchantSerial}"`,
      Accept: 'application/json',
      'User-Agent': 'wechatpay-sim',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(this.url + route, {
      method,
      headers,
      body: body === undefined ? undefined : text,
    });
    const answer = await response.text();
    const verified = rsaVerify(
      this.keys.platform.publicKey,
      signedText(
        response.headers.get('wechatpay-timestamp') || '',
        response.headers.get('wechatpay-nonce') || '',
        answer,
      ),
      response.headers.get('wechatpay-signature') || '',
    );
    return { status: response.status, text: answer, body: answer ? JSON.parse(answer) : null, verified };
  }

  /* ---- the server ---- */

  answer(res, record, status, body, { signed = true } = {}) {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers = { 'Request-ID': crypto.randomUUID() };
    if (text) headers['Content-Type'] = 'application/json; charset=utf-8';
    if (signed && this.answerKey !== 'none') {
      Object.assign(headers, this.signHeaders(text, { which: this.answerKey }));
    }
    record.status = status;
    record.answer = body === undefined ? null : body;
    res.writeHead(status, headers);
    res.end(text);
  }

  error(res, record, status, code, message, options) {
    this.answer(res, record, status, { code, message }, options);
  }

  /* Why the request's Authorization does not hold, or null. */
  authorizationProblem(record) {
    const fields = record.authorization;
    if (!fields) {
      return `Authorization is not ${AUTH_SCHEME} mchid=..,nonce_str=..,signature=..,timestamp=..,serial_no=..`;
    }
    for (const name of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no']) {
      if (!fields[name]) return `Authorization has no ${name}`;
    }
    if (fields.mchid !== this.mchid) return 'mchid is not this merchant';
    if (fields.serial_no !== this.merchantSerial) return 'serial_no is not the merchant certificate';
    if (!/^\d{1,12}$/.test(fields.timestamp) || Math.abs(nowS() - Number(fields.timestamp)) > CLOCK_SKEW_S) {
      return 'timestamp expired';
    }
    const text = signedText(record.method, record.url, fields.timestamp, fields.nonce_str, record.body);
    if (!rsaVerify(this.keys.merchant.publicKey, text, fields.signature)) return 'signature does not verify';
    return null;
  }

  handle(req, res, body) {
    const url = new URL(req.url, 'http://sim');
    const record = {
      method: req.method,
      url: req.url,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body,
      json: null,
      authorization: parseAuthorization(req.headers.authorization),
      verified: false,
      problem: null,
      status: null,
      answer: null,
    };
    this.requests.push(record);
    record.problem = this.authorizationProblem(record);
    if (record.problem) {
      /* Not authenticated: WeChat Pay does not sign this one. */
      return this.error(res, record, 401, 'SIGN_ERROR', `签名错误: ${record.problem}`, { signed: false });
    }
    record.verified = true;
    if (!req.headers['user-agent']) {
      return this.error(res, record, 400, 'PARAM_ERROR', 'HTTP头缺少User-Agent');
    }
    if (req.method === 'POST') {
      if (!/^application\/json\b/.test(req.headers['content-type'] || '')) {
        return this.error(res, record, 400, 'PARAM_ERROR', 'Content-Type 须为 application/json');
      }
      try {
        record.json = body ? JSON.parse(body) : null;
      } catch (_) {
        return this.error(res, record, 400, 'PARAM_ERROR', '请求体不是 JSON');
      }
      if (record.json === null || typeof record.json !== 'object' || Array.isArray(record.json)) {
        return this.error(res, record, 400, 'PARAM_ERROR', '请求体须为 JSON 对象');
      }
    }
    if (this.nextAnswers.length > 0) {
      const canned = this.nextAnswers.shift();
      return this.answer(res, record, canned.status, canned.body);
    }
    const route = `${req.method} ${url.pathname}`;
    let match;
    if (route === 'POST /v3/pay/transactions/native') return this.native(res, record);
    if ((match = /^GET \/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(route))) {
      return this.query(res, record, this.orders.get(decodeURIComponent(match[1])));
    }
    if ((match = /^GET \/v3\/pay\/transactions\/id\/([^/]+)$/.exec(route))) {
      const id = decodeURIComponent(match[1]);
      return this.query(res, record, [...this.orders.values()].find((t) => t.transaction_id === id));
    }
    if ((match = /^POST \/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(route))) {
      return this.close_(res, record, decodeURIComponent(match[1]));
    }
    if (route === 'POST /v3/refund/domestic/refunds') return this.refund(res, record);
    if ((match = /^GET \/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(route))) {
      const refund = this.refunds.get(decodeURIComponent(match[1]));
      if (!refund) return this.error(res, record, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
      return this.answer(res, record, 200, refund);
    }
    return this.error(res, record, 404, 'NOT_FOUND', '请求的资源不存在');
  }

  native(res, record) {
    const request = record.json;
    const amount = request.amount || {};
    const refuse = (message) => this.error(res, record, 400, 'PARAM_ERROR', message);
    if (request.appid !== this.appid) return refuse('appid和mch_id不匹配');
    if (request.mchid !== this.mchid) return refuse('mchid与请求头中的商户号不一致');
    const description = request.description;
    if (typeof description !== 'string' || description === '' || Buffer.byteLength(description) > 127) {
      return refuse('输入源“/body/description”映射到字段“商品描述”长度不符合要求');
    }
    if (typeof request.out_trade_no !== 'string' || !/^[0-9A-Za-z_\-*|]{6,32}$/.test(request.out_trade_no)) {
      return this.error(res, record, 400, 'PARAM_ERROR', '商户订单号格式有误');
    }
    if (
      request.time_expire !== undefined &&
      (typeof request.time_expire !== 'string' ||
        !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$/.test(request.time_expire) ||
        Number.isNaN(Date.parse(request.time_expire)))
    ) {
      return this.error(res, record, 400, 'PARAM_ERROR', 'time_expire 格式有误');
    }
    const notifyUrl = request.notify_url;
    if (typeof notifyUrl !== 'string' || !/^https?:\/\/[^?#\s]+$/.test(notifyUrl) || notifyUrl.length > 255) {
      return this.error(res, record, 400, 'PARAM_ERROR', 'notify_url 格式有误');
    }
    if (!Number.isSafeInteger(amount.total) || amount.total < 1) {
      return this.error(res, record, 400, 'PARAM_ERROR', '订单金额有误');
    }
    if (amount.currency !== undefined && amount.currency !== 'CNY') {
      return this.error(res, record, 400, 'PARAM_ERROR', '币种有误');
    }
    const existing = this.orders.get(request.out_trade_no);
    if (existing) {
      if (existing.trade_state === 'SUCCESS' || existing.trade_state === 'REFUND') {
        return this.error(res, record, 400, 'ORDERPAID', '该订单已支付');
      }
      if (existing.amount.total !== amount.total || existing.description !== request.description) {
        return this.error(res, record, 400, 'INVALID_REQUEST', '201 商户订单号重复');
      }
      return this.answer(res, record, 200, { code_url: existing.code_url });
    }
    const trade = {
      appid: request.appid,
      mchid: request.mchid,
      description: request.description,
      out_trade_no: request.out_trade_no,
      time_expire: request.time_expire,
      notify_url: request.notify_url,
      amount: { total: amount.total, currency: amount.currency || 'CNY' },
      code_url: `weixin://wxpay/bizpayurl?pr=${randomText(7)}`,
      trade_state: 'NOTPAY',
      transaction_id: null,
      refunded: 0,
    };
    this.orders.set(trade.out_trade_no, trade);
    this.lastNotifyUrl = trade.notify_url;
    return this.answer(res, record, 200, { code_url: trade.code_url });
  }

  query(res, record, trade) {
    if (record.query.mchid !== this.mchid) return this.error(res, record, 400, 'PARAM_ERROR', 'mchid 有误');
    if (!trade) return this.error(res, record, 404, 'ORDER_NOT_EXIST', '订单不存在');
    return this.answer(res, record, 200, this.transactionView(trade));
  }

  close_(res, record, outTradeNo) {
    const trade = this.orders.get(outTradeNo);
    if (record.json.mchid !== this.mchid) return this.error(res, record, 400, 'PARAM_ERROR', 'mchid 有误');
    if (!trade) return this.error(res, record, 404, 'ORDER_NOT_EXIST', '订单不存在');
    if (trade.trade_state === 'SUCCESS' || trade.trade_state === 'REFUND') {
      return this.error(res, record, 400, 'ORDERPAID', '该订单已支付');
    }
    trade.trade_state = 'CLOSED';
    return this.answer(res, record, 204, undefined);
  }

  refund(res, record) {
    const request = record.json;
    const amount = request.amount || {};
    if (typeof request.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(request.out_refund_no)) {
      return this.error(res, record, 400, 'PARAM_ERROR', '商户退款单号格式有误');
    }
    const positive = (value) => Number.isSafeInteger(value) && value >= 1;
    if (!positive(amount.refund) || !positive(amount.total)) {
      return this.error(res, record, 400, 'PARAM_ERROR', '退款金额有误');
    }
    if (amount.currency !== 'CNY') return this.error(res, record, 400, 'PARAM_ERROR', '币种有误');
    const trade = request.out_trade_no
      ? this.orders.get(request.out_trade_no)
      : [...this.orders.values()].find((t) => t.transaction_id && t.transaction_id === request.transaction_id);
    if (!trade) return this.error(res, record, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    const existing = this.refunds.get(request.out_refund_no);
    if (existing) {
      /* The same refund number: the same refund, never a second one. */
      if (existing.out_trade_no !== trade.out_trade_no || existing.amount.refund !== amount.refund) {
        return this.error(res, record, 400, 'INVALID_REQUEST', '商户退款单号重复');
      }
      return this.answer(res, record, 200, existing);
    }
    if (this.refundError) {
      const { status = 403, code = 'NOT_ENOUGH', message = '基本账户余额不足' } = this.refundError;
      return this.error(res, record, status, code, message);
    }
    if (trade.trade_state !== 'SUCCESS' && trade.trade_state !== 'REFUND') {
      return this.error(res, record, 400, 'INVALID_REQUEST', '订单未支付，不能退款');
    }
    if (amount.total !== trade.amount.total) {
      return this.error(res, record, 400, 'PARAM_ERROR', '订单金额与原订单金额不一致');
    }
    if (trade.refunded + amount.refund > trade.amount.total) {
      return this.error(res, record, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
    }
    trade.refunded += amount.refund;
    trade.trade_state = 'REFUND';
    const status = this.refundStatus;
    const refund = {
      refund_id: `50${randomDigits(27)}`,
      out_refund_no: request.out_refund_no,
      transaction_id: trade.transaction_id,
      out_trade_no: trade.out_trade_no,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      create_time: beijingTime(),
      status,
      funds_account: 'AVAILABLE',
      amount: {
        total: trade.amount.total,
        refund: amount.refund,
        from: [],
        payer_total: trade.amount.total,
        payer_refund: amount.refund,
        settlement_refund: amount.refund,
        settlement_total: trade.amount.total,
        discount_refund: 0,
        currency: 'CNY',
        refund_fee: 0,
      },
      promotion_detail: [],
    };
    if (status === 'SUCCESS') refund.success_time = beijingTime();
    this.refunds.set(refund.out_refund_no, refund);
    return this.answer(res, record, 200, refund);
  }

  listen(port = 0) {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      let size = 0;
      req.on('data', (chunk) => {
        size += chunk.length;
        if (size <= BODY_MAX) chunks.push(chunk);
      });
      req.on('end', () => {
        try {
          this.handle(req, res, Buffer.concat(chunks).toString('utf8'));
        } catch (error) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ code: 'SYSTEM_ERROR', message: String(error && error.message) }));
        }
      });
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        resolve(this);
      });
    });
  }

  close() {
    if (!this.server) return Promise.resolve();
    const server = this.server;
    this.server = null;
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/*
 * Starts a simulator on 127.0.0.1 ("port" 0: any free one). Resolves to it:
 * { url, appid, mchid, apiv3Key, merchantSerial, platformSerial, nextPlatformSerial, keys
 *   (KeyObject pairs: merchant, platform, nextPlatform, wrong), writeKeyFiles(dir),
 *   lebdEnv(dir, {next}), pay(), closeTrade(), notify(), buildNotification(), post(),
 *   completeRefund(), requests, requestsTo(), orders, refunds, notifications, answerKey,
 *   refundStatus, refundError, nextAnswers, merchantCall(), close() }.
 */
async function startWechatSim({ port = 0 } = {}) {
  const names = ['merchant', 'platform', 'nextPlatform', 'wrong'];
  const pairs = await Promise.all(names.map(() => generateKeyPair('rsa', { modulusLength: 2048 })));
  const keys = Object.fromEntries(names.map((name, i) => [name, pairs[i]]));
  const sim = new WechatSim(keys);
  return sim.listen(port);
}

module.exports = {
  startWechatSim,
  WechatSim,
  beijingTime,
  encryptResource,
  decryptResource,
  parseAuthorization,
  signedText,
  rsaSign,
  rsaVerify,
  tamperOneByte,
};

/* ---- standalone ---- */

async function main() {
  const port = Number(process.argv[2] || 0);
  const sim = await startWechatSim({ port });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wechatpay-sim-'));
  const env = sim.lebdEnv(dir, { next: true });
  process.stdout.write(`wechatpay simulator on ${sim.url}; keys in ${dir}\n`);
  for (const [name, value] of Object.entries(env)) process.stdout.write(`export ${name}='${value}'\n`);
  /* A self-check: a signed query of an unknown order answers a signed 404. */
  const probe = await sim.merchantCall('GET', `/v3/pay/transactions/out-trade-no/PROBE0001?mchid=${sim.mchid}`);
  const code = probe.body && probe.body.code;
  process.stdout.write(`self-check: ${probe.status} ${code} verified=${probe.verified}\n`);
  sim.requests.length = 0;
  process.stdout.write('commands: pay <out_trade_no> | notify <out_trade_no> | orders\n');
  const lines = require('node:readline').createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    const [command, argument] = line.trim().split(/\s+/);
    try {
      if (command === 'pay') process.stdout.write(`${JSON.stringify(sim.pay(argument))}\n`);
      else if (command === 'notify') {
        const result = await sim.notify(argument);
        process.stdout.write(`notify: ${result.status} ${result.text}\n`);
      } else if (command === 'orders') {
        for (const trade of sim.orders.values()) {
          const { out_trade_no: no, trade_state: state, amount, code_url: codeUrl } = trade;
          process.stdout.write(`${no} ${state} ${amount.total} ${codeUrl}\n`);
        }
      } else if (command) process.stdout.write(`unknown command ${command}\n`);
    } catch (error) {
      process.stdout.write(`error: ${error.message}\n`);
    }
  });
  const stop = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  lines.on('close', stop);
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  });
}
