// Drives an Easel server with the official openai Node SDK, as a user of a hosted provider would.
// Run by dev.easel.server.sdk.NodeSdkTest, which starts the server and passes:
//   EASEL_BASE_URL, EASEL_MODEL, EASEL_KEY_FREE, EASEL_KEY_PREMIUM,
//   EASEL_KEY_LIMITED (a key whose tier allows few requests per minute); the server's queue holds one job
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';

const baseURL = process.env.EASEL_BASE_URL + '/v1';
const model = process.env.EASEL_MODEL;
const free = new OpenAI({ baseURL, apiKey: process.env.EASEL_KEY_FREE, maxRetries: 0 });

// A 64x48 RGB PNG made by hand (no image library in this test): rows of a gradient.
import { deflateSync } from 'node:zlib';
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(w, h) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const o = y * (w * 3 + 1) + 1 + x * 3;
    raw[o] = x * 4; raw[o + 1] = y * 5; raw[o + 2] = 128;
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
function pngSize(b64) {
  const b = Buffer.from(b64, 'base64');
  assert.equal(b.subarray(1, 4).toString('ascii'), 'PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}
const source = png(64, 48);

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

check('generate with b64_json, n=2, seed as an extra field', async () => {
  const r = await free.images.generate({ model, prompt: 'a lighthouse', size: '64x64', n: 2, response_format: 'b64_json', seed: 99 });
  assert.equal(r.data.length, 2);
  for (const d of r.data) assert.deepEqual(pngSize(d.b64_json), [64, 64]);
  assert.equal(r.seed, 99);
});

check('generate with url', async () => {
  const r = await free.images.generate({ model, prompt: 'a harbor', size: '64x64', response_format: 'url' });
  const res = await fetch(r.data[0].url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.deepEqual(pngSize(Buffer.from(await res.arrayBuffer()).toString('base64')), [64, 64]);
});

check('edit via multipart with a file part and strength as an extra field', async () => {
  const r = await free.images.edit({ model, prompt: 'oil painting', image: await toFile(source, 'in.png', { type: 'image/png' }), strength: 0.5 });
  assert.deepEqual(pngSize(r.data[0].b64_json), [64, 48]);
});

check('edit with a base64 text field', async () => {
  const r = await free.images.edit({ model, prompt: 'pencil sketch', image: source.toString('base64') });
  assert.deepEqual(pngSize(r.data[0].b64_json), [64, 48]);
});

check('edit with a data URL text field', async () => {
  const r = await free.images.edit({ model, prompt: 'pastel', image: 'data:image/png;base64,' + source.toString('base64') });
  assert.deepEqual(pngSize(r.data[0].b64_json), [64, 48]);
});

check('edit with image[] (an array of files), no filename or type', async () => {
  const r = await free.images.edit({ model, prompt: 'ink', image: [await toFile(source)], size: '64x64' });
  assert.deepEqual(pngSize(r.data[0].b64_json), [64, 64]);
});

check('streaming generation: partial images then the image', async () => {
  const stream = await free.images.generate({ model, prompt: 'a forest', size: '64x64', stream: true, partial_images: 2 });
  const types = [];
  let last;
  for await (const event of stream) { types.push(event.type); last = event; }
  assert.deepEqual(types, ['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
  assert.deepEqual(pngSize(last.b64_json), [64, 64]);
});

check('streaming edit', async () => {
  const stream = await free.images.edit({ model, prompt: 'winter', image: await toFile(source, 'a.png'), stream: true, partial_images: 1, strength: 1 });
  const types = [];
  for await (const event of stream) types.push(event.type);
  assert.deepEqual(types, ['image_edit.partial_image', 'image_edit.completed']);
});

const fails = async (promise, ErrorClass, status, field) => {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, status);
    assert.equal(typeof e.error?.message, 'string');
    if (field) assert.equal(e.param, field);
    return e;
  }
  assert.fail(`expected ${ErrorClass.name}`);
};

check('401 for a bad key', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-easel-wrong', maxRetries: 0 });
  await fails(bad.images.generate({ model, prompt: 'x' }), OpenAI.AuthenticationError, 401);
});

check('403 for a model above the tier, naming the tier', async () => {
  const e = await fails(free.images.generate({ model: 'flux.1-schnell', prompt: 'x' }), OpenAI.PermissionDeniedError, 403, 'model');
  assert.match(e.message, /pro/);
});

check('404 for an unknown model', async () => {
  await fails(free.images.generate({ model: 'dall-e-3', prompt: 'x' }), OpenAI.NotFoundError, 404, 'model');
});

check('400 for a bad size, a missing prompt, n out of range, an image that is not an image', async () => {
  await fails(free.images.generate({ model, prompt: 'x', size: '100x100' }), OpenAI.BadRequestError, 400, 'size');
  await fails(free.images.generate({ model }), OpenAI.BadRequestError, 400, 'prompt');
  await fails(free.images.generate({ model, prompt: 'x', n: 11 }), OpenAI.BadRequestError, 400, 'n');
  await fails(free.images.edit({ model, prompt: 'x', image: await toFile(Buffer.from('not an image'), 'a.png') }), OpenAI.BadRequestError, 400, 'image');
});

check('413 for a body above the limit', async () => {
  await fails(free.images.edit({ model, prompt: 'x', image: await toFile(Buffer.alloc(1200 * 1024), 'big.png') }), OpenAI.APIError, 413);
});

check('429 with Retry-After over the rate limit', async () => {
  const limited = new OpenAI({ baseURL, apiKey: process.env.EASEL_KEY_LIMITED, maxRetries: 0 });
  let error;
  for (let i = 0; i < 10 && !error; i++) {
    try { await limited.images.generate({ model, prompt: 'x', size: '64x64' }); } catch (e) { error = e; }
  }
  assert.ok(error instanceof OpenAI.RateLimitError, `expected RateLimitError, got ${error}`);
  assert.ok(Number(error.headers.get('retry-after')) >= 1);
});

check('503 with Retry-After at once when the queue is full', async () => {
  // Two long jobs (raw fetch, aborted afterwards, which cancels them): one runs, one fills the queue (capacity 1).
  const long = () => {
    const controller = new AbortController();
    const done = fetch(baseURL + '/images/generations', {
      method: 'POST', signal: controller.signal,
      headers: { 'Authorization': 'Bearer ' + process.env.EASEL_KEY_FREE, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'slow', size: '256x256', steps: 150 }),
    }).catch(() => null);
    return { controller, done };
  };
  const queueLength = async () => {
    const text = await (await fetch(process.env.EASEL_BASE_URL + '/metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith('easel_queue_length'));
    return Number(line.split(' ').pop());
  };
  const until = async (condition) => {
    for (let i = 0; i < 3000 && !(await condition()); i++) await new Promise((r) => setTimeout(r, 10));
  };
  const running = long();
  await new Promise((r) => setTimeout(r, 300));
  await until(async () => (await queueLength()) === 0);
  const waiting = long();
  await until(async () => (await queueLength()) === 1);
  const premium = new OpenAI({ baseURL, apiKey: process.env.EASEL_KEY_PREMIUM, maxRetries: 0 });
  const t0 = Date.now();
  try {
    const e = await fails(premium.images.generate({ model, prompt: 'x', size: '64x64' }), OpenAI.InternalServerError, 503);
    assert.ok(Date.now() - t0 < 2000, 'answered at once');
    assert.equal(e.code, 'server_busy');
    assert.ok(Number(e.headers.get('retry-after')) >= 1);
  } finally {
    running.controller.abort();
    waiting.controller.abort();
    await Promise.all([running.done, waiting.done]);
    await until(async () => (await queueLength()) === 0);
  }
});

let failed = 0;
for (const [name, fn] of checks) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}: ${e.stack ?? e}`);
  }
}
console.log(`${checks.length - failed}/${checks.length} passed`);
process.exit(failed ? 1 : 0);
