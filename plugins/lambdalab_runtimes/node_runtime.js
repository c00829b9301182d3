'use strict';
/*
 * lambdalab's Node.js runtime client: what AWS's nodejs*.x runtimes do, over the Lambda
 * Runtime API (AWS_LAMBDA_RUNTIME_API), so one server serves Node and custom runtimes.
 *
 * INIT: load the handler named by _HANDLER ("file.export", "dir/file.export") from the
 * code root (.js, .mjs or .cjs; ES modules by import()), with AWS's errors:
 * Runtime.MalformedHandlerName, Runtime.ImportModuleError, Runtime.UserCodeSyntaxError,
 * Runtime.HandlerNotFound. Then loop: GET /next, call handler(event, context[, callback]),
 * POST the result to /response or the error ({errorType, errorMessage, trace}) to /error.
 * console.* writes "<ISO time>\t<request id>\t<LEVEL>\t<message>", newlines as \r (as the
 * RIC writes to stdout); lambdalab's log reader turns them back into one multi-line event.
 */
const fs = require('fs');
const http = require('http');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');
const os = require('os');

// Lambda's sandbox user has a passwd entry, so os.homedir() answers there even without
// HOME (AWS sets none); a confined lambdalab environment runs as a uid with no entry, where
// it throws ENOENT, and the AWS SDK for JavaScript v3 calls it to look for ~/.aws/config.
// Answer with a home of that uid's name (it need not exist), for ES module imports too.
const passwdHomedir = os.homedir;
os.homedir = () => {
  try {
    return passwdHomedir();
  } catch (e) {
    return `/home/sbx_user${process.getuid()}`;
  }
};
require('module').syncBuiltinESMExports();

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const API = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, noDelay: true });
let currentRequestId; // undefined during INIT, as AWS logs it

// -- Runtime API client -------------------------------------------------------------

function call(method, route, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const allHeaders = data
      ? { ...headers, 'Content-Type': 'application/json', 'Content-Length': data.length }
      : headers;
    const req = http.request(
      { host: HOST, port: PORT, method, path: API + route, agent, headers: allHeaders },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

// -- logs ----------------------------------------------------------------------------

// With LogFormat JSON, AWS sets AWS_LAMBDA_LOG_FORMAT=JSON and AWS_LAMBDA_LOG_LEVEL: each
// console.* call at that level or above is one JSON line {timestamp, level, requestId,
// message}; the others are dropped (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html).
const LEVEL_ORDER = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const least = Math.max(0, LEVEL_ORDER.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()));
  for (const [method, level] of Object.entries(levels)) {
    if (LEVEL_ORDER.indexOf(level) < least) {
      console[method] = () => {};
    } else if (json) {
      console[method] = (...args) => {
        const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId,
          message: util.format(...args) };
        process.stdout.write(JSON.stringify(record) + '\n');
      };
    } else {
      console[method] = (...args) => {
        const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`;
        process.stdout.write(line.replace(/\n/g, '\r') + '\n');
      };
    }
  }
}

// -- errors --------------------------------------------------------------------------

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

function errorObject(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function logged(label, error) {
  const { errorType, errorMessage, trace } = errorObject(error);
  console.error(label, '\t' + JSON.stringify({ errorType, errorMessage, stack: trace }));
  return { errorType, errorMessage, trace };
}

// -- loading the handler -----------------------------------------------------------

function tryRequire(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function tryImport(file) {
  return fs.existsSync(file) ? import(pathToFileURL(file).href) : undefined;
}

function isModulePackage(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, 'utf8')).type === 'module';
      } catch (e) {
        return false;
      }
    }
    if (d === path.dirname(d)) return false;
  }
}

async function loadModule(root, moduleRoot, moduleName) {
  const base = path.resolve(root, moduleRoot, moduleName);
  const esm = isModulePackage(path.dirname(base));
  try {
    return (
      (!esm && tryRequire(base + '.js')) ||
      (esm && (await tryImport(base + '.js'))) ||
      (await tryImport(base + '.mjs')) ||
      tryRequire(base + '.cjs') ||
      require(require.resolve(moduleName, { paths: [root, path.resolve(root, moduleRoot)] }))
    );
  } catch (e) {
    if (e instanceof SyntaxError) throw new RuntimeError('Runtime.UserCodeSyntaxError', String(e));
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', String(e));
    }
    throw e;
  }
}

async function loadHandler(root, handlerString) {
  const match = /^(.*\/)?([^./]+)\.(.+)$/.exec(handlerString || '');
  if (!match) throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  const [, moduleRoot = '', moduleName, handlerPath] = match;
  const loaded = await loadModule(root, moduleRoot, moduleName);
  let handler = loaded;
  for (const part of handlerPath.split('.')) handler = handler == null ? undefined : handler[part];
  if (handler === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${handlerString} is not a function`);
  }
  return handler;
}

// -- one invocation ----------------------------------------------------------------

function makeContext(headers) {
  const env = process.env;
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  if (headers['lambda-runtime-client-context']) {
    context.clientContext = JSON.parse(headers['lambda-runtime-client-context']);
  }
  if (headers['lambda-runtime-cognito-identity']) {
    context.identity = JSON.parse(headers['lambda-runtime-cognito-identity']);
  }
  return context;
}

// Settles with [error, result]: from a returned promise, the callback (after the event
// loop empties, unless callbackWaitsForEmptyEventLoop is false) or context.done/succeed/fail.
function run(handler, event, context) {
  return new Promise((settle) => {
    let settled = false;
    const finish = (error, result) => {
      if (!settled) {
        settled = true;
        settle([error, result]);
      }
    };
    const callback = (error, result) => {
      if (context.callbackWaitsForEmptyEventLoop) process.once('beforeExit', () => finish(error, result));
      else finish(error, result);
    };
    context.done = (error, result) => finish(error, result);
    context.succeed = (result) => finish(null, result);
    context.fail = (error) => finish(error == null ? new Error('handled') : error);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (error) {
      finish(error);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((result) => finish(null, result), (error) => finish(error == null ? new Error('undefined') : error));
    } else if (handler.length < 3) {
      process.once('beforeExit', () => finish(null, returned));
    }
  });
}

async function invoke(handler, next) {
  const headers = next.headers;
  const requestId = (currentRequestId = headers['lambda-runtime-aws-request-id']);
  process.env._X_AMZN_TRACE_ID = headers['lambda-runtime-trace-id'] || '';
  let error;
  let body;
  try {
    const [failure, result] = await run(handler, JSON.parse(next.body), makeContext(headers));
    error = failure;
    if (!error) body = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    error = e;
  }
  if (error) {
    const reported = logged('Invoke Error', error);
    await call('POST', `/invocation/${requestId}/error`, JSON.stringify(reported), {
      'Lambda-Runtime-Function-Error-Type': reported.errorType,
    });
  } else {
    await call('POST', `/invocation/${requestId}/response`, body);
  }
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER);
  } catch (e) {
    const reported = logged('Uncaught Exception', e);
    await call('POST', '/init/error', JSON.stringify(reported), {
      'Lambda-Runtime-Function-Error-Type': reported.errorType,
    });
    process.exit(129);
  }
  for (;;) {
    await invoke(handler, await call('GET', '/invocation/next'));
  }
}

main();
