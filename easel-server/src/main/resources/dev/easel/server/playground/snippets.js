// "Copy as code": curl, Python and Node (official OpenAI SDKs) for a set of parameters. The key is read
// from the environment (EASEL_API_KEY), never pasted into the snippet.

/** The request fields of a settings object, in a stable order, without the ones left to the model. */
export function requestFields(s) {
  const f = { model: s.model, prompt: s.prompt };
  if (s.negative_prompt) f.negative_prompt = s.negative_prompt;
  if (s.size) f.size = s.size;
  if (s.n && s.n !== 1) f.n = s.n;
  if (s.steps != null) f.steps = s.steps;
  if (s.guidance_scale != null) f.guidance_scale = s.guidance_scale;
  if (s.sampler) f.sampler = s.sampler;
  if (s.strength != null && s.mode === 'edit') f.strength = s.strength;
  if (s.seed != null) f.seed = s.seed;
  return f;
}

const OPENAI_FIELDS = new Set(['model', 'prompt', 'size', 'n']);

const shellQuote = (v) => `'${String(v).replace(/'/g, `'\\''`)}'`;
const lit = (v) => JSON.stringify(v); // a JSON string or number is also a Python and JS literal

export function curl(s, base) {
  const f = requestFields(s);
  const auth = '-H "Authorization: Bearer $EASEL_API_KEY"';
  if (s.mode === 'edit') {
    const parts = ['-F image=@source.png'];
    if (s.hasMask) parts.push('-F mask=@mask.png');
    for (const [k, v] of Object.entries(f)) parts.push(`-F ${shellQuote(`${k}=${v}`)}`);
    return `curl -s ${base}/images/edits ${auth} \\\n  ${parts.join(' \\\n  ')} \\\n`
      + `  | jq -r '.data[0].b64_json' | base64 -d > image.png\n`;
  }
  return `curl -s ${base}/images/generations ${auth} \\\n  -H "Content-Type: application/json" \\\n`
    + `  -d ${shellQuote(JSON.stringify(f))} \\\n  | jq -r '.data[0].b64_json' | base64 -d > image.png\n`;
}

export function python(s, base) {
  const f = requestFields(s);
  const args = [];
  const extra = [];
  for (const [k, v] of Object.entries(f)) (OPENAI_FIELDS.has(k) ? args : extra).push([k, v]);
  const lines = ['import base64', 'import os', '', 'from openai import OpenAI', '',
    `client = OpenAI(base_url=${lit(base)}, api_key=os.environ["EASEL_API_KEY"])`];
  const call = s.mode === 'edit' ? 'client.images.edit(' : 'client.images.generate(';
  const body = args.map(([k, v]) => `    ${k}=${lit(v)},`);
  if (s.mode === 'edit') {
    body.unshift('    image=open("source.png", "rb"),');
    if (s.hasMask) body.splice(1, 0, '    mask=open("mask.png", "rb"),');
  }
  if (extra.length) body.push(`    extra_body={${extra.map(([k, v]) => `${lit(k)}: ${lit(v)}`).join(', ')}},`);
  lines.push(`result = ${call}`, ...body, ')');
  lines.push('for i, image in enumerate(result.data):',
    '    with open(f"image-{i}.png", "wb") as out:',
    '        out.write(base64.b64decode(image.b64_json))');
  return lines.join('\n') + '\n';
}

export function node(s, base) {
  const f = requestFields(s);
  const lines = ["import fs from 'node:fs';", "import OpenAI, { toFile } from 'openai';", '',
    `const client = new OpenAI({ baseURL: ${lit(base)}, apiKey: process.env.EASEL_API_KEY });`];
  const body = Object.entries(f).map(([k, v]) => `  ${k}: ${lit(v)},`);
  if (s.mode === 'edit') {
    body.unshift("  image: await toFile(fs.createReadStream('source.png'), 'source.png', { type: 'image/png' }),");
    if (s.hasMask) body.splice(1, 0, "  mask: await toFile(fs.createReadStream('mask.png'), 'mask.png', { type: 'image/png' }),");
  }
  lines.push(`const result = await client.images.${s.mode === 'edit' ? 'edit' : 'generate'}({`, ...body, '});');
  lines.push("result.data.forEach((image, i) => fs.writeFileSync(`image-${i}.png`, Buffer.from(image.b64_json, 'base64')));");
  return lines.join('\n') + '\n';
}

export const LANGUAGES = { curl, python, node };
