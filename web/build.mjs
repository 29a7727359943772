// Bundles web/src into a folder (see build.sh): one script and one stylesheet with content-hashed names, the page
// that loads them, brotli and gzip copies of each, the licences of the bundled libraries, and build.json with the
// hash of the inputs. Deterministic: the same inputs give the same bytes.
//
//   node build.mjs <out-dir>                 build
//   node build.mjs --compare <built> <dist>  exit 1 unless both folders hold the same files with the same content
import { build } from "esbuild";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const here = path.dirname(new URL(import.meta.url).pathname);
const compressed = (name) => name.endsWith(".br") || name.endsWith(".gz");

/** Every file below `dir`, as sorted paths relative to it with `/` separators. */
function walk(dir, prefix = "") {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      return entry.isDirectory() ? walk(path.join(dir, entry.name), relative) : [relative];
    })
    .sort();
}

/** SHA-256 over each input as `path\nlength\n<bytes>\n`, in sorted path order (the Rust test does the same). */
function inputsHash() {
  const inputs = ["build.mjs", "build.sh", "package-lock.json", "package.json", ...walk(path.join(here, "src")).map((f) => `src/${f}`)].sort();
  const hash = createHash("sha256");
  for (const input of inputs) {
    const bytes = fs.readFileSync(path.join(here, input));
    hash.update(`${input}\n${bytes.length}\n`);
    hash.update(bytes);
    hash.update("\n");
  }
  return hash.digest("hex");
}

function licences(metafile) {
  const packages = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (match) packages.set(match[1], true);
  }
  const sections = [...packages.keys()].sort().map((name) => {
    const dir = path.join(here, "node_modules", name);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    const licenceFile = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    const text = licenceFile ? fs.readFileSync(path.join(dir, licenceFile), "utf8").trim() : `${meta.license}`;
    return `${name} ${meta.version} (${meta.license})\n${meta.homepage ?? ""}\n\n${text}\n`;
  });
  return `Libraries bundled into the Retail AI Advisor dashboard (web/dist/assets):\n\n${sections.join("\n----\n\n")}`;
}

async function bundle(out) {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, "assets"), { recursive: true });
  const result = await build({
    absWorkingDir: here,
    entryPoints: { app: "src/main.js", style: "src/styles.css" },
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "none",
    entryNames: "[name]-[hash]",
    outdir: "assets",
    write: false,
    metafile: true,
    logLevel: "warning",
  });
  const assets = {};
  for (const file of result.outputFiles) {
    const name = path.relative(here, file.path).split(path.sep).join("/");
    fs.writeFileSync(path.join(out, name), file.contents);
    const base = path.basename(name);
    if (base.startsWith("app-") && base.endsWith(".js")) assets.script = `/api/app/${name}`;
    if (base.startsWith("style-") && base.endsWith(".css")) assets.style = `/api/app/${name}`;
  }
  const icon = fs.readFileSync(path.join(here, "src/icon.svg"));
  const iconName = `assets/icon-${createHash("sha256").update(icon).digest("hex").slice(0, 10)}.svg`;
  fs.writeFileSync(path.join(out, iconName), icon);
  assets.icon = `/api/app/${iconName}`;
  const page = fs
    .readFileSync(path.join(here, "src/index.html"), "utf8")
    .replaceAll("{{script}}", assets.script)
    .replaceAll("{{style}}", assets.style)
    .replaceAll("{{icon}}", assets.icon);
  fs.writeFileSync(path.join(out, "index.html"), page);
  fs.writeFileSync(path.join(out, "LICENSES.txt"), licences(result.metafile));
  for (const name of walk(out)) {
    const bytes = fs.readFileSync(path.join(out, name));
    fs.writeFileSync(path.join(out, `${name}.br`), zlib.brotliCompressSync(bytes, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }));
    fs.writeFileSync(path.join(out, `${name}.gz`), zlib.gzipSync(bytes, { level: 9 }));
  }
  const files = Object.fromEntries(walk(out).map((name) => [name, fs.statSync(path.join(out, name)).size]));
  const info = { inputs_sha256: inputsHash(), assets, files };
  fs.writeFileSync(path.join(out, "build.json"), `${JSON.stringify(info, null, 2)}\n`);
}

/** Same plain files with the same bytes; compressed copies must decompress to their plain file. */
function compare(built, dist) {
  const problems = [];
  const a = walk(built), b = walk(dist);
  for (const name of new Set([...a, ...b])) {
    if (!a.includes(name)) problems.push(`${name}: in web/dist but not built (stale file)`);
    else if (!b.includes(name)) problems.push(`${name}: built but missing from web/dist`);
    else if (compressed(name)) {
      const plain = fs.readFileSync(path.join(dist, name.slice(0, -3)));
      const bytes = fs.readFileSync(path.join(dist, name));
      const unpacked = name.endsWith(".br") ? zlib.brotliDecompressSync(bytes) : zlib.gunzipSync(bytes);
      if (!unpacked.equals(plain)) problems.push(`${name}: does not decompress to ${name.slice(0, -3)}`);
    } else if (name !== "build.json" && !fs.readFileSync(path.join(built, name)).equals(fs.readFileSync(path.join(dist, name)))) {
      problems.push(`${name}: differs from a fresh build`);
    }
  }
  const hashes = [built, dist].map((d) => JSON.parse(fs.readFileSync(path.join(d, "build.json"), "utf8")).inputs_sha256);
  if (hashes[0] !== hashes[1]) problems.push("build.json: records another input hash than a fresh build");
  if (problems.length) {
    console.error(`web/dist is stale; run web/build.sh and commit web/dist:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.error("web/dist matches a fresh build");
}

const [first, ...rest] = process.argv.slice(2);
if (first === "--compare") compare(path.resolve(rest[0]), path.resolve(here, rest[1]));
else await bundle(path.resolve(here, first ?? "dist"));
