'use strict';
/*
 * alipay.js - a simulator of Alipay's open API, for black-box tests of lebd's Alipay provider.
 *
 * It plays the gateway (POST .../gateway.do) the way Alipay documents it: the common
 * parameters (app_id, method, format, charset, sign_type, timestamp, version, notify_url,
 * biz_content) arrive form-encoded, in the body or the query; the request's RSA2 signature is
 * checked with the application's public key over every non-empty parameter but "sign", sorted
 * by name and joined "name=value&..."; a bad one is refused with code 40002
 * isv.invalid-signature, unsigned, as Alipay's gateway does. Every business answer is
 * {"<method>_response":{...},"sign":"..."} where "sign" is the SHA256withRSA signature, with
 * Alipay's private key, of the exact text of the response member.
 *
 * Methods: alipay.trade.precreate (a QR code; idempotent on out_trade_no while unpaid),
 * alipay.trade.query (ACQ.TRADE_NOT_EXIST until the payer scans or pays, as for a precreated
 * trade), alipay.trade.refund (idempotent on out_request_no: a repeated one answers
 * fund_change "N"; never more than was paid) and alipay.trade.fastpay.refund.query.
 *
 * The test drives the payer's side: pay() marks a trade paid (Alipay's trade_no is made then),
 * notify() posts a signed asynchronous notification (trade_status_sync) to the notify_url the
 * precreate gave, or to lebdNotifyUrl, with knobs to forge, tamper with or re-route it.
 *
 * Node built-ins only. Run alone (`node tests/sim/alipay.js`) it prints its URL and writes its
 * keys to a temporary directory, for trying lebd by hand.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const BODY_MAX = 1 << 20;
const PRICE = /^\d{1,9}(\.\d{1,2})?$/;
const ALIPAY_TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const OUT_TRADE_NO = /^[A-Za-z0-9_]{1,64}$/;

function generateKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }),
  };
}

/* The text a signature covers: non-empty parameters but "sign" (and "sign_type" when
 * "withoutSignType", as in a notification), sorted by name, "name=value" joined by '&'. */
function signContent(params, { withoutSignType = false } = {}) {
  return Object.keys(params)
    .filter((name) => name !== 'sign' && !(withoutSignType && name === 'sign_type'))
    .filter((name) => params[name] !== undefined && params[name] !== null && String(params[name]) !== '')
    .sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))))
    .map((name) => `${name}=${params[name]}`)
    .join('&');
}

function rsaSign(content, privatePem) {
  return crypto.sign('sha256', Buffer.from(content, 'utf8'), privatePem).toString('base64');
}

function rsaVerify(content, signature, publicPem) {
  try {
    return crypto.verify('sha256', Buffer.from(content, 'utf8'), publicPem, Buffer.from(signature, 'base64'));
  } catch (_) {
    return false;
  }
}

/* "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8). */
function beijingTime(date = new Date()) {
  return new Date(date.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace('T', ' ');
}

function parseBeijingTime(text) {
  return Date.parse(`${text.replace(' ', 'T')}+08:00`);
}

/* Yuan text (Alipay's Price) to fen, exactly; NaN if it is not one. */
function yuanToFen(text) {
  if (typeof text !== 'string' || !PRICE.test(text)) return NaN;
  const [whole, fraction = ''] = text.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

function fenToYuan(fen) {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

function randomDigits(count) {
  let out = '';
  while (out.length < count) out += crypto.randomInt(0, 1e9).toString().padStart(9, '0');
  return out.slice(0, count);
}

/* An Alipay trade number: date, "22001", digits (28 in all, like "2016071921001003030200089909"). */
function newTradeNo() {
  const day = beijingTime().slice(0, 10).replace(/-/g, '');
  return `${day}22001${randomDigits(15)}`;
}

/* A form body from an object, or from a list of [name, value] pairs (order kept). */
function formEncode(params) {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return new URLSearchParams(pairs.map(([k, v]) => [k, String(v)])).toString();
}

/* Changes one byte of a form body: the last digit of total_amount (the most tempting field),
 * else the last character. */
function tamperOneByte(body) {
  const match = /(^|&)total_amount=([^&]*\d)(&|$)/.exec(body);
  if (match) {
    const at = match.index + match[1].length + 'total_amount='.length + match[2].length - 1;
    const digit = body[at] === '9' ? '8' : String(Number(body[at]) + 1);
    return body.slice(0, at) + digit + body.slice(at + 1);
  }
  const last = body[body.length - 1];
  return body.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

function post(url, body, contentType) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = http.request(
      {
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode,
            contentType: response.headers['content-type'] || '',
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/*
 * Starts the simulator. "lebdNotifyUrl" (optional, or set later as sim.lebdNotifyUrl): where
 * notifications go instead of the notify_url of the trade's precreate.
 */
async function startAlipaySim({ lebdNotifyUrl = null, appId = '2021000000000001', sellerId = '2088000000000001' } = {}) {
  const app = generateKeyPair();
  const current = generateKeyPair();
  const next = generateKeyPair();
  const keys = {
    appPrivatePem: app.privatePem,
    appPublicPem: app.publicPem,
    alipayPrivatePem: current.privatePem,
    alipayPublicPem: current.publicPem,
    nextAlipayPrivatePem: next.privatePem,
    nextAlipayPublicPem: next.publicPem,
  };
  let strangerPem = null; /* a key Alipay never had, for forgeries; made on first use */
  const trades = new Map(); /* out_trade_no -> trade */
  const requests = [];
  const answers = []; /* queued one-shot answers: {method, ...spec} */

  const sim = {
    url: null,
    appId,
    sellerId,
    keys,
    trades,
    requests,
    lebdNotifyUrl,
    /* Which Alipay key signs answers and notifications: "current" or "next" (a rotation). */
    signingKey: 'current',
  };

  function alipayPrivatePem(which = sim.signingKey) {
    return which === 'next' ? keys.nextAlipayPrivatePem : keys.alipayPrivatePem;
  }

  function strangerKey() {
    if (strangerPem === null) strangerPem = generateKeyPair().privatePem;
    return strangerPem;
  }

  /* The answer to "method": the response member signed as Alipay signs it (or not). */
  function answer(res, method, response, { sign = 'good', httpStatus = 200, key = null } = {}) {
    const name = method ? `${method.replace(/\./g, '_')}_response` : 'error_response';
    const text = JSON.stringify(response);
    let body = `{"${name}":${text}`;
    if (sign === 'good') body += `,"sign":"${rsaSign(text, alipayPrivatePem(key || sim.signingKey))}"`;
    else if (sign === 'bad') body += `,"sign":"${rsaSign(text, strangerKey())}"`;
    else if (sign === 'tampered') {
      const signature = rsaSign(text, alipayPrivatePem());
      body = `{"${name}":${text.replace('"msg":"', '"msg":" ')},"sign":"${signature}"`;
    }
    body += '}';
    res.writeHead(httpStatus, { 'content-type': 'application/json;charset=utf-8' });
    res.end(body);
    return body;
  }

  function gatewayError(res, method, code, msg, subCode, subMsg) {
    return answer(res, method, { code, msg, sub_code: subCode, sub_msg: subMsg }, { sign: 'none' });
  }

  function businessFailure(subCode, subMsg, extra = {}) {
    return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg, ...extra };
  }

  function findTrade(biz) {
    if (biz.out_trade_no) return trades.get(biz.out_trade_no) || null;
    if (biz.trade_no) return [...trades.values()].find((t) => t.trade_no === biz.trade_no) || null;
    return null;
  }

  /* ---- the methods ---- */

  function precreate(params, biz) {
    const { out_trade_no: outTradeNo, total_amount: total, subject } = biz;
    if (typeof outTradeNo !== 'string' || !OUT_TRADE_NO.test(outTradeNo)) {
      return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (out_trade_no)');
    }
    const fen = yuanToFen(total);
    if (!(fen >= 1 && fen <= 10000000000)) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (total_amount)');
    if (typeof subject !== 'string' || subject === '' || subject.length > 256) {
      return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (subject)');
    }
    if (biz.time_expire !== undefined) {
      const expire = ALIPAY_TIME.test(biz.time_expire) ? parseBeijingTime(biz.time_expire) : NaN;
      const at = parseBeijingTime(params.timestamp);
      if (!(expire - at >= 60 * 1000 && expire - at <= 15 * 86400 * 1000)) {
        return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (time_expire)');
      }
    }
    const existing = trades.get(outTradeNo);
    if (existing) {
      if (existing.status === 'TRADE_SUCCESS' || existing.status === 'TRADE_FINISHED') {
        return businessFailure('ACQ.TRADE_HAS_SUCCESS', '交易已被支付', { out_trade_no: outTradeNo });
      }
      if (existing.status === 'TRADE_CLOSED') return businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
      if (existing.total_amount_fen !== fen) return businessFailure('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
    } else {
      trades.set(outTradeNo, {
        out_trade_no: outTradeNo,
        total_amount: total,
        total_amount_fen: fen,
        subject,
        time_expire: biz.time_expire || null,
        notify_url: params.notify_url || null,
        qr_code: `https://qr.alipay.com/bax0${crypto.randomBytes(10).toString('hex')}`,
        status: 'CREATED', /* precreated: not a trade Alipay shows until scanned */
        trade_no: null,
        buyer_id: `2088${randomDigits(12)}`,
        gmt_create: beijingTime(),
        gmt_payment: null,
        refunds: new Map(), /* out_request_no -> {fen, gmt_refund_pay} */
        refunded_fen: 0,
      });
    }
    const trade = trades.get(outTradeNo);
    return { code: '10000', msg: 'Success', out_trade_no: outTradeNo, qr_code: trade.qr_code };
  }

  function query(params, biz) {
    const trade = findTrade(biz);
    if (!trade || trade.status === 'CREATED') {
      return businessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在', {
        buyer_pay_amount: '0.00',
        invoice_amount: '0.00',
        out_trade_no: biz.out_trade_no,
        point_amount: '0.00',
        receipt_amount: '0.00',
      });
    }
    const paid = trade.status !== 'WAIT_BUYER_PAY' && trade.gmt_payment !== null;
    return {
      code: '10000',
      msg: 'Success',
      buyer_logon_id: '159******20',
      buyer_pay_amount: paid ? trade.total_amount : '0.00',
      buyer_user_id: trade.buyer_id,
      invoice_amount: paid ? trade.total_amount : '0.00',
      out_trade_no: trade.out_trade_no,
      point_amount: '0.00',
      receipt_amount: paid ? trade.total_amount : '0.00',
      ...(paid ? { send_pay_date: trade.gmt_payment } : {}),
      total_amount: trade.total_amount,
      trade_no: trade.trade_no,
      trade_status: trade.status,
    };
  }

  function refundAnswer(trade, fundChange, refund) {
    return {
      code: '10000',
      msg: 'Success',
      buyer_logon_id: '159******20',
      buyer_user_id: trade.buyer_id,
      fund_change: fundChange,
      gmt_refund_pay: refund.gmt_refund_pay,
      out_trade_no: trade.out_trade_no,
      refund_fee: fenToYuan(trade.refunded_fen),
      send_back_fee: fenToYuan(refund.fen),
      trade_no: trade.trade_no,
    };
  }

  function refund(params, biz) {
    const trade = findTrade(biz);
    if (!trade || trade.status === 'CREATED') return businessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在');
    const fen = yuanToFen(biz.refund_amount);
    if (!(fen >= 1)) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (refund_amount)');
    const requestNo = biz.out_request_no || trade.out_trade_no;
    const known = trade.refunds.get(requestNo);
    if (known) return refundAnswer(trade, 'N', known); /* the same refund asked again: nothing moves */
    if (trade.status === 'WAIT_BUYER_PAY') return businessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
    if (trade.status === 'TRADE_FINISHED') return businessFailure('ACQ.TRADE_HAS_FINISHED', '交易已完结');
    if (trade.status === 'TRADE_CLOSED') return businessFailure('ACQ.TRADE_HAS_CLOSE', '交易已经关闭');
    if (trade.refunded_fen + fen > trade.total_amount_fen) {
      return businessFailure('ACQ.REASON_TRADE_REFUND_FEE_ERR', '退款金额无效');
    }
    const made = { fen, gmt_refund_pay: beijingTime(), out_request_no: requestNo };
    trade.refunds.set(requestNo, made);
    trade.refunded_fen += fen;
    if (trade.refunded_fen === trade.total_amount_fen) trade.status = 'TRADE_CLOSED';
    return refundAnswer(trade, 'Y', made);
  }

  function refundQuery(params, biz) {
    const trade = findTrade(biz);
    if (!trade || trade.status === 'CREATED') return businessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在');
    if (!biz.out_request_no) return businessFailure('ACQ.INVALID_PARAMETER', '参数无效 (out_request_no)');
    const made = trade.refunds.get(biz.out_request_no);
    if (!made) return { code: '10000', msg: 'Success' }; /* no such refund: no refund fields */
    return {
      code: '10000',
      msg: 'Success',
      out_request_no: biz.out_request_no,
      out_trade_no: trade.out_trade_no,
      refund_amount: fenToYuan(made.fen),
      refund_status: 'REFUND_SUCCESS',
      total_amount: trade.total_amount,
      trade_no: trade.trade_no,
    };
  }

  const METHODS = {
    'alipay.trade.precreate': precreate,
    'alipay.trade.query': query,
    'alipay.trade.refund': refund,
    'alipay.trade.fastpay.refund.query': refundQuery,
  };

  /* ---- the gateway ---- */

  function handle(req, res, raw) {
    const url = new URL(req.url, 'http://localhost');
    const params = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    const contentType = req.headers['content-type'] || '';
    if (/^application\/x-www-form-urlencoded/i.test(contentType)) {
      for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) if (!(k in params)) params[k] = v;
    }
    const method = params.method;
    const entry = {
      method,
      params,
      biz: null,
      contentType,
      raw: raw.toString('utf8'),
      signatureValid: false,
      at: Date.now(),
    };
    requests.push(entry);

    if (req.method !== 'POST' || url.pathname !== '/gateway.do') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    /* The gateway's own checks, in Alipay's order: a missing argument is 40001, a bad one
     * 40002; neither answer is signed. */
    const MISSING = ['40001', 'Missing Required Arguments'];
    const INVALID = ['40002', 'Invalid Arguments'];
    const checks = [
      [!method, MISSING, 'isv.missing-method', '缺少方法名参数'],
      [!params.app_id, MISSING, 'isv.missing-app-id', '缺少AppID参数'],
      [!params.sign, MISSING, 'isv.missing-signature', '缺少签名参数'],
      [!params.timestamp, MISSING, 'isv.missing-timestamp', '缺少时间戳参数'],
      [!params.version, MISSING, 'isv.missing-version', '缺少版本参数'],
      [params.app_id !== appId, INVALID, 'isv.invalid-app-id', '无效的AppID参数'],
      [params.sign_type !== 'RSA2', INVALID, 'isv.invalid-signature-type', '无效的签名类型'],
      [!ALIPAY_TIME.test(params.timestamp), INVALID, 'isv.invalid-timestamp', '非法的时间戳参数'],
      [params.version !== '1.0', INVALID, 'isv.invalid-version', '版本号错误'],
      [params.format !== undefined && params.format.toUpperCase() !== 'JSON', INVALID, 'isv.invalid-format', '无效的数据格式'],
      [params.charset !== undefined && !/^utf-8$/i.test(params.charset), INVALID, 'isv.invalid-charset', '字符集错误'],
    ];
    for (const [failed, [code, msg], subCode, subMsg] of checks) {
      if (failed) return gatewayError(res, method || null, code, msg, subCode, subMsg);
    }
    const content = signContent(params);
    entry.signatureValid = rsaVerify(content, params.sign, keys.appPublicPem);
    if (!entry.signatureValid) {
      return gatewayError(res, method, '40002', 'Invalid Arguments', 'isv.invalid-signature',
        `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${content}`);
    }
    if (!METHODS[method]) {
      return gatewayError(res, null, '40002', 'Invalid Arguments', 'isv.invalid-method', '不存在的方法名');
    }
    let biz;
    try {
      biz = JSON.parse(params.biz_content || '');
    } catch (_) {
      biz = null;
    }
    entry.biz = biz;
    if (biz === null || typeof biz !== 'object' || Array.isArray(biz)) {
      return gatewayError(res, method, '40002', 'Invalid Arguments', 'isv.invalid-biz-content', '业务参数格式错误');
    }
    const queued = answers.findIndex(
      (a) => a.method === method && (!a.outTradeNo || a.outTradeNo === biz.out_trade_no),
    );
    const spec = queued >= 0 ? answers.splice(queued, 1)[0] : null;
    if (spec && spec.response) {
      entry.answer = answer(res, method, spec.response, spec);
      return entry.answer;
    }
    const response = METHODS[method](params, biz);
    entry.response = response;
    if (spec && spec.drop) {
      /* Done at Alipay, but the answer is lost on the way back. */
      req.socket.destroy();
      return null;
    }
    entry.answer = answer(res, method, response, spec || {});
    return entry.answer;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= BODY_MAX) chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (error) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error && error.stack));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  sim.url = `http://127.0.0.1:${server.address().port}/gateway.do`;

  /* ---- the test's side ---- */

  /* The next call of "method" (about spec.outTradeNo only, if given) gets this answer instead
   * of the real one: {response} (an object, signed unless sign is 'none', 'bad' or
   * 'tampered'), or {drop: true} (done, but the answer is lost), or {sign: 'bad'} (the real
   * answer, badly signed); spec.httpStatus sets the HTTP status. */
  sim.queueAnswer = (method, spec) => {
    answers.push({ method, ...spec });
  };

  /* The payer scans the QR code: Alipay makes the trade (WAIT_BUYER_PAY). */
  sim.scan = (outTradeNo) => {
    const trade = trades.get(outTradeNo);
    if (!trade) throw new Error(`no precreated trade ${outTradeNo}`);
    if (trade.status === 'CREATED') trade.status = 'WAIT_BUYER_PAY';
    if (!trade.trade_no) trade.trade_no = newTradeNo();
    return trade;
  };

  /* The payer pays: TRADE_SUCCESS (or opts.status), with Alipay's trade_no. */
  sim.pay = (outTradeNo, opts = {}) => {
    const trade = sim.scan(outTradeNo);
    trade.status = opts.status || 'TRADE_SUCCESS';
    if (opts.tradeNo) trade.trade_no = opts.tradeNo;
    trade.gmt_payment = beijingTime();
    return trade;
  };

  /* The trade is closed unpaid (timed out). */
  sim.closeTrade = (outTradeNo) => {
    const trade = sim.scan(outTradeNo);
    trade.status = 'TRADE_CLOSED';
    trade.gmt_close = beijingTime();
    return trade;
  };

  /* The parameters of a notification of the trade "outTradeNo", as Alipay sends them, in
   * Alipay's order. opts: status, amount (total_amount text), appId, sellerId, tradeNo,
   * outTradeNo, refund (a refund's TRADE_CLOSED fields), extra {name: value}, omit [names]. */
  sim.notifyParams = (outTradeNo, opts = {}) => {
    const trade = trades.get(outTradeNo) || {
      out_trade_no: outTradeNo,
      total_amount: opts.amount || '1.00',
      subject: 'unknown',
      buyer_id: `2088${randomDigits(12)}`,
      gmt_create: beijingTime(),
      trade_no: null,
      status: 'TRADE_SUCCESS',
    };
    if (!trade.trade_no) trade.trade_no = newTradeNo();
    const status = opts.status || (trade.status === 'CREATED' || trade.status === 'WAIT_BUYER_PAY' ? 'TRADE_SUCCESS' : trade.status);
    const amount = opts.amount || trade.total_amount;
    const now = beijingTime();
    const pairs = [
      ['gmt_create', trade.gmt_create],
      ['charset', 'utf-8'],
      ['seller_email', 'leb-merchant@example.com'],
      ['subject', trade.subject],
      ['sign', ''],
      ['buyer_id', trade.buyer_id],
      ['invoice_amount', amount],
      ['notify_id', `2026${crypto.randomBytes(15).toString('hex')}`],
      ['fund_bill_list', JSON.stringify([{ amount, fundChannel: 'ALIPAYACCOUNT' }])],
      ['notify_type', 'trade_status_sync'],
      ['trade_status', status],
      ['receipt_amount', amount],
      ['app_id', opts.appId || appId],
      ['buyer_pay_amount', amount],
      ['sign_type', 'RSA2'],
      ['seller_id', opts.sellerId || sellerId],
      ['gmt_payment', trade.gmt_payment || now],
      ['notify_time', opts.notifyTime || now],
      ['version', '1.0'],
      ['out_trade_no', opts.outTradeNo || trade.out_trade_no],
      ['total_amount', amount],
      ['trade_no', opts.tradeNo || trade.trade_no],
      ['auth_app_id', opts.appId || appId],
      ['point_amount', '0.00'],
    ];
    if (opts.refund) {
      pairs.push(['gmt_refund', now], ['refund_fee', amount], ['out_biz_no', opts.refund === true ? `R${trade.out_trade_no}` : opts.refund]);
      pairs.push(['gmt_close', now]);
    }
    for (const [name, value] of Object.entries(opts.extra || {})) pairs.push([name, value]);
    const omit = new Set(opts.omit || []);
    return pairs.filter(([name]) => !omit.has(name));
  };

  /* A signed notification body. opts as notifyParams, and: wrongKey (signed with a key Alipay
   * never had), key ('current' or 'next'), noSign, signType, tamper (true: one byte of the
   * body changed after signing; or a function of the body). */
  sim.rawNotifyBody = (outTradeNo, opts = {}) => {
    const pairs = sim.notifyParams(outTradeNo, opts);
    const object = Object.fromEntries(pairs);
    const content = signContent(object, { withoutSignType: true });
    const pem = opts.wrongKey ? strangerKey() : alipayPrivatePem(opts.key || sim.signingKey);
    const sign = rsaSign(content, pem);
    const signed = pairs
      .filter(([name]) => !(opts.noSign && name === 'sign'))
      .map(([name, value]) => [name, name === 'sign' ? sign : name === 'sign_type' && opts.signType ? opts.signType : value]);
    let body = formEncode(signed);
    if (opts.tamper === true) body = tamperOneByte(body);
    else if (typeof opts.tamper === 'function') body = opts.tamper(body);
    return body;
  };

  /* Where notifications of "outTradeNo" go. */
  sim.notifyUrl = (outTradeNo, opts = {}) => {
    const trade = trades.get(outTradeNo);
    const url = opts.url || sim.lebdNotifyUrl || (trade && trade.notify_url);
    if (!url) throw new Error(`no notify_url for ${outTradeNo}: give lebdNotifyUrl`);
    return url;
  };

  /* POSTs a form "body" as Alipay does; resolves {status, text, contentType}. */
  sim.postNotify = (url, body, contentType = 'application/x-www-form-urlencoded; charset=utf-8') =>
    post(url, body, contentType);

  /* Posts a signed notification of "outTradeNo" (see rawNotifyBody for opts; opts.body: a
   * ready body). Resolves {status, text, body}. */
  sim.notify = async (outTradeNo, opts = {}) => {
    const body = opts.body || sim.rawNotifyBody(outTradeNo, opts);
    const answer = await sim.postNotify(sim.notifyUrl(outTradeNo, opts), body, opts.contentType);
    return { ...answer, body };
  };

  /* The requests of "method" the gateway received. */
  sim.requestsOf = (method) => requests.filter((entry) => entry.method === method);

  /* Writes the PEM files lebd reads; resolves to their paths. */
  sim.writeKeyFiles = (dir) => {
    fs.mkdirSync(dir, { recursive: true });
    const files = {
      appPrivateKeyFile: path.join(dir, 'alipay_app_private.pem'),
      appPublicKeyFile: path.join(dir, 'alipay_app_public.pem'),
      alipayPublicKeyFile: path.join(dir, 'alipay_public.pem'),
      alipayPublicKeyNextFile: path.join(dir, 'alipay_public_next.pem'),
    };
    fs.writeFileSync(files.appPrivateKeyFile, keys.appPrivatePem, { mode: 0o600 });
    fs.writeFileSync(files.appPublicKeyFile, keys.appPublicPem, { mode: 0o600 });
    fs.writeFileSync(files.alipayPublicKeyFile, keys.alipayPublicPem, { mode: 0o600 });
    fs.writeFileSync(files.alipayPublicKeyNextFile, keys.nextAlipayPublicPem, { mode: 0o600 });
    return files;
  };

  /* The LEB_ALIPAY_* environment for lebd ("files" from writeKeyFiles). */
  sim.lebdEnv = (files, { next = true } = {}) => ({
    LEB_ALIPAY_APP_ID: appId,
    LEB_ALIPAY_SELLER_ID: sellerId,
    LEB_ALIPAY_APP_PRIVATE_KEY_FILE: files.appPrivateKeyFile,
    LEB_ALIPAY_ALIPAY_PUBLIC_KEY_FILE: files.alipayPublicKeyFile,
    ...(next ? { LEB_ALIPAY_ALIPAY_PUBLIC_KEY_NEXT_FILE: files.alipayPublicKeyNextFile } : {}),
    LEB_ALIPAY_GATEWAY_URL: sim.url,
  });

  sim.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  return sim;
}

module.exports = {
  startAlipaySim,
  signContent,
  rsaSign,
  rsaVerify,
  beijingTime,
  yuanToFen,
  fenToYuan,
  formEncode,
  tamperOneByte,
};

if (require.main === module) {
  startAlipaySim().then((sim) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipay-sim-'));
    const files = sim.writeKeyFiles(dir);
    console.log(sim.url);
    console.log(JSON.stringify({ url: sim.url, appId: sim.appId, sellerId: sim.sellerId, env: sim.lebdEnv(files) }, null, 2));
    const stop = () =>
      sim.close().then(() => {
        fs.rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
