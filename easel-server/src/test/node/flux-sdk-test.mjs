// Reproduces FLUX.1 reference images through an Easel server with the official openai Node SDK.
// Run by dev.easel.server.sdk.FluxSdkTest, which starts the server and passes:
//   EASEL_BASE_URL, EASEL_KEY_PRO, EASEL_KEY_PREMIUM,
//   EASEL_FLUX_REQUESTS: a JSON array of {name, model, tier, prompt, size, steps, guidance_scale, seed,
//                        source (a PNG path, for an edit), strength},
//   EASEL_OUTPUT_DIR: where each request's image is written as <name>.png (the Java side compares them).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';

const baseURL = process.env.EASEL_BASE_URL + '/v1';
const keys = { pro: process.env.EASEL_KEY_PRO, premium: process.env.EASEL_KEY_PREMIUM };
const requests = JSON.parse(process.env.EASEL_FLUX_REQUESTS);
const outputDir = process.env.EASEL_OUTPUT_DIR;

const checks = [];
const check = (name, fn) => checks.push([name, fn]);

for (const q of requests) {
  const client = new OpenAI({ baseURL, apiKey: keys[q.tier], maxRetries: 0 });
  const recipe = { steps: q.steps, guidance_scale: q.guidance_scale, seed: q.seed };
  if (q.source) {
    check(`${q.name}: images.edit on ${q.model} with strength ${q.strength} and seed ${q.seed}`, async () => {
      const image = await toFile(readFileSync(q.source), 'source.png', { type: 'image/png' });
      const r = await client.images.edit({ model: q.model, prompt: q.prompt, image, strength: q.strength, ...recipe });
      save(q, r);
    });
  } else {
    check(`${q.name}: images.generate on ${q.model} at ${q.size} with seed ${q.seed}`, async () => {
      const r = await client.images.generate({ model: q.model, prompt: q.prompt, size: q.size, response_format: 'b64_json', ...recipe });
      save(q, r);
    });
  }
}

function save(q, r) {
  assert.equal(r.data.length, 1);
  assert.equal(r.seed, q.seed);
  const png = Buffer.from(r.data[0].b64_json, 'base64');
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  writeFileSync(join(outputDir, q.name + '.png'), png);
}

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
process.exit(failed || checks.length === 0 ? 1 : 0);
