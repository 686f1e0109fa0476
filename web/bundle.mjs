// bundle.mjs builds web/dist, the third-party part of the wacht console,
// from the packages that package.json pins and package-lock.json locks
// (run `npm ci` first; `make web` does both). It concatenates the
// libraries' own minified browser builds — nothing is transpiled — and
// records what went in: dist/manifest.json (versions, SHA-256, gzipped
// sizes) and dist/THIRD_PARTY_LICENSES.txt (served with the console).
// web/dist is ignored by git; the wacht binary embeds it (see embed.go).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const pkgDir = (name) => join(root, "node_modules", name);
const pkgJSON = (name) => JSON.parse(readFileSync(join(pkgDir(name), "package.json"), "utf8"));

// Order matters: the SSE extension registers itself with htmx.
const bundles = {
  "vendor.js": [
    ["htmx.org", "dist/htmx.min.js"],
    ["htmx-ext-sse", "dist/sse.min.js"],
    ["uplot", "dist/uPlot.iife.min.js"],
  ],
  "vendor.css": [["uplot", "dist/uPlot.min.css"]],
};

const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const manifest = { packages: {}, files: {} };
const licenses = [];
for (const [out, parts] of Object.entries(bundles)) {
  const chunks = [];
  for (const [name, file] of parts) {
    const meta = pkgJSON(name);
    const locked = lock.packages?.[`node_modules/${name}`]?.version;
    if (locked !== meta.version) {
      throw new Error(`${name}: installed ${meta.version}, lockfile says ${locked}: run npm ci`);
    }
    const license = meta.license ?? "see its LICENSE";
    manifest.packages[name] = { version: meta.version, license };
    chunks.push(`/* ${name}@${meta.version} (${license}) — see THIRD_PARTY_LICENSES.txt */\n`);
    chunks.push(readFileSync(join(pkgDir(name), file), "utf8"));
    chunks.push(out.endsWith(".js") ? "\n;\n" : "\n");
  }
  const body = Buffer.from(chunks.join(""));
  writeFileSync(join(dist, out), body);
  manifest.files[out] = {
    bytes: body.length,
    gzip_bytes: gzipSync(body, { level: 9 }).length,
    sha256: createHash("sha256").update(body).digest("hex"),
  };
}
for (const name of Object.keys(manifest.packages).sort()) {
  const { version } = manifest.packages[name];
  let text = "";
  for (const f of ["LICENSE", "LICENSE.md", "LICENSE.txt"]) {
    try {
      text = readFileSync(join(pkgDir(name), f), "utf8");
      break;
    } catch {}
  }
  if (!text) throw new Error(`${name}: no LICENSE file`);
  licenses.push(`${name}@${version}\n${"=".repeat(40)}\n${text.trim()}\n`);
}
writeFileSync(join(dist, "THIRD_PARTY_LICENSES.txt"), licenses.join("\n"));
writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
for (const [f, m] of Object.entries(manifest.files)) {
  console.log(`web/dist/${f}: ${m.bytes} bytes, ${m.gzip_bytes} gzipped`);
}
