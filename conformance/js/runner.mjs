// JavaScript runner of coffer's conformance suite (conformance/README.md), on the AWS SDK for
// JavaScript v3 pinned in package-lock.json.
//
// Usage: node runner.mjs ENDPOINT. Credentials and region come from the environment. Prints
// {"client": ...} once, then answers each {"op", "input"} line on standard input with one
// {"ok", "output"|"error"} line. It never prints or logs an input.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import * as sm from "@aws-sdk/client-secrets-manager";

const pkg = JSON.parse(
  readFileSync(new URL("./node_modules/@aws-sdk/client-secrets-manager/package.json", import.meta.url)),
);
const client = new sm.SecretsManagerClient({ endpoint: process.argv[2], maxAttempts: 1 });

// decode turns {"$base64": s} into bytes, as the SDK takes blobs.
function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$base64") return new Uint8Array(Buffer.from(v.$base64, "base64"));
    return Object.fromEntries(keys.map((k) => [k, decode(v[k])]));
  }
  return v;
}

// encode turns bytes into {"$base64": s} and dates into ISO 8601 text, dropping $metadata.
function encode(v) {
  if (v instanceof Uint8Array) return { $base64: Buffer.from(v).toString("base64") };
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).filter(([k, e]) => k !== "$metadata" && e !== undefined).map(([k, e]) => [k, encode(e)]),
    );
  }
  return v;
}

const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

say({ client: `@aws-sdk/client-secrets-manager ${pkg.version} (node ${process.version})` });
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  const step = JSON.parse(line);
  const Command = sm[`${step.op}Command`];
  if (!Command) {
    say({ ok: false, error: { code: "RunnerUnknownOperation", message: step.op } });
    continue;
  }
  try {
    say({ ok: true, output: encode(await client.send(new Command(decode(step.input)))) });
  } catch (err) {
    say({ ok: false, error: { code: err.name, message: err.message } });
  }
}
