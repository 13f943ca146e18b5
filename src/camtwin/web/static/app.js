// camtwin workbench: plain JavaScript, no build step. Talks to the JSON API (/openapi.json).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = {
  schema: null,        // ModuleSpec JSON schema
  base: null,          // spec of the selected module (model_dump, JSON mode)
  captureJob: null,    // last finished capture job id
  zoom: {x: 0.5, y: 0.5},
  busy: false,
};

// ---------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, detail, field) { super(detail); this.status = status; this.field = field; }
}

async function api(path, options = {}) {
  const opts = {...options};
  if (opts.json !== undefined) {
    opts.method = opts.method || "POST";
    opts.headers = {"Content-Type": "application/json"};
    opts.body = JSON.stringify(opts.json);
    delete opts.json;
  }
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const detail = body && body.detail ? body.detail : `${r.status} ${r.statusText}`;
    throw new ApiError(r.status, typeof detail === "string" ? detail : JSON.stringify(detail),
                       body ? body.field : null);
  }
  return body;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function runJob(path, payload) {
  const {job_id} = await api(path, {json: payload});
  const box = $("#progress-box"), bar = $("#progress"), msg = $("#progress-msg");
  box.hidden = false;
  for (;;) {
    const job = await api(`/api/jobs/${job_id}`);
    bar.value = job.progress;
    msg.textContent = `${job.kind}: ${job.message} (${Math.round(100 * job.progress)} %)`;
    if (job.status === "done") { box.hidden = true; return job; }
    if (job.status === "error") { box.hidden = true; throw new ApiError(500, job.error, null); }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------
function clearError() {
  $("#error").hidden = true;
  $("#error").textContent = "";
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
}

function showError(err) {
  const box = $("#error");
  box.textContent = err.message || String(err);
  box.hidden = false;
  document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  if (err.field) {
    const path = err.field.replace(/^module\.overrides\./, "").replace(/^overrides\./, "");
    document.querySelectorAll(`[data-path="${CSS.escape(path)}"], [data-path="module.${CSS.escape(path)}"]`)
      .forEach((el) => el.classList.add("invalid"));
  }
}

// ---------------------------------------------------------------------------------------
// the spec form, derived from the JSON schema
// ---------------------------------------------------------------------------------------
function deref(node) {
  if (node && node.$ref) return state.schema.$defs[node.$ref.split("/").pop()];
  return node;
}

// Describe how to edit a schema property: {kind, choices, nullable, objectDef}
function fieldKind(prop) {
  let p = deref(prop), nullable = false;
  if (p.anyOf) {
    const branches = p.anyOf.map(deref);
    nullable = branches.some((b) => b.type === "null");
    const rest = branches.filter((b) => b.type !== "null");
    const strChoices = rest.flatMap((b) => b.enum ? b.enum : (b.const !== undefined ? [b.const] : []));
    const obj = rest.find((b) => b.type === "object" && b.properties);
    if (rest.length === 1) { p = rest[0]; }
    else if (strChoices.length && rest.every((b) => b.enum || b.const !== undefined || b.type === "array")) {
      return {kind: "choice", choices: strChoices, nullable, partial: true};
    } else if (obj) { return {kind: "object", def: obj, nullable}; }
    else return {kind: "unsupported"};
  }
  if (p.enum) return {kind: "choice", choices: p.enum, nullable};
  if (p.const !== undefined) return {kind: "choice", choices: [p.const], nullable};
  if (p.type === "object" && p.properties) return {kind: "object", def: p, nullable};
  if (p.type === "boolean") return {kind: "bool", nullable};
  if (p.type === "integer") return {kind: "int", nullable, p};
  if (p.type === "number") return {kind: "number", nullable, p};
  if (p.type === "string") return {kind: "text", nullable};
  return {kind: "unsupported"};
}

function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  keys.slice(0, -1).forEach((k) => { o[k] = o[k] && typeof o[k] === "object" ? o[k] : {}; o = o[k]; });
  o[keys[keys.length - 1]] = value;
}

function rangeText(p) {
  if (!p) return "";
  const lo = p.exclusiveMinimum !== undefined ? `> ${p.exclusiveMinimum}` : (p.minimum !== undefined ? `≥ ${p.minimum}` : "");
  const hi = p.exclusiveMaximum !== undefined ? `< ${p.exclusiveMaximum}` : (p.maximum !== undefined ? `≤ ${p.maximum}` : "");
  return [lo, hi].filter(Boolean).join(", ");
}

function makeInput(path, prop, value) {
  const f = fieldKind(prop);
  const name = path.split(".").pop();
  let el;
  if (f.kind === "choice") {
    if (f.partial && typeof value !== "string") return null;  // e.g. a literal CCM matrix
    el = document.createElement("select");
    const opts = f.nullable ? ["", ...f.choices] : f.choices;
    opts.forEach((c) => { const o = document.createElement("option"); o.value = String(c); o.textContent = c === "" ? "(none)" : String(c); el.append(o); });
    el.value = value == null ? "" : String(value);
    el.dataset.type = f.choices.every((c) => typeof c === "number") ? "int" : "string";
  } else if (f.kind === "bool") {
    el = document.createElement("input"); el.type = "checkbox"; el.checked = !!value; el.dataset.type = "bool";
  } else if (f.kind === "int" || f.kind === "number") {
    el = document.createElement("input"); el.type = "number"; el.step = "any";
    el.value = value == null ? "" : String(value);
    el.dataset.type = f.kind;
    if (f.nullable) el.placeholder = "none";
    el.title = rangeText(f.p);
  } else if (f.kind === "text") {
    el = document.createElement("input"); el.type = "text"; el.value = value == null ? "" : String(value); el.dataset.type = "string";
  } else return null;
  el.dataset.path = path;
  el.dataset.nullable = f.nullable ? "1" : "";
  el.name = path;
  const label = document.createElement("label");
  const range = rangeText(f.p);
  label.append(`${name}${range ? " (" + range + ")" : ""}`, el);
  label.title = (deref(prop).description || "") + (range ? ` valid: ${range}` : "");
  el.addEventListener("change", onParamChange);
  return label;
}

function buildSection(section) {
  const host = $(`#form-${section}`);
  host.replaceChildren();
  const def = deref(state.schema.properties[section]);
  const values = state.base[section];
  const add = (parent, def, prefix, vals, depth) => {
    for (const [key, prop] of Object.entries(def.properties)) {
      const path = `${prefix}.${key}`;
      const f = fieldKind(prop);
      const v = vals ? vals[key] : undefined;
      if (f.kind === "object") {
        if (depth >= 1 || v == null) continue;  // one level of nesting; absent blocks stay in YAML
        const fs = document.createElement("fieldset");
        const lg = document.createElement("legend"); lg.textContent = key; fs.append(lg);
        add(fs, deref(f.def), path, v, depth + 1);
        if (fs.children.length > 1) parent.append(fs);
        continue;
      }
      const el = makeInput(path, prop, v);
      if (el) parent.append(el);
    }
  };
  add(host, def, section, values, 0);
}

function buildForm() {
  ["sensor", "lens", "isp"].forEach(buildSection);
}

function readInput(el) {
  const t = el.dataset.type;
  if (t === "bool") return el.checked;
  const raw = el.value.trim();
  if (raw === "" && el.dataset.nullable) return null;
  if (t === "number" || t === "int") return raw === "" ? raw : Number(raw);
  return raw;
}

// Only the values that differ from the module are sent.
function overrides() {
  const out = {};
  document.querySelectorAll(".spec-form [data-path]").forEach((el) => {
    const path = el.dataset.path;
    const v = readInput(el);
    const base = getPath(state.base, path);
    const changed = JSON.stringify(v) !== JSON.stringify(base === undefined ? null : base);
    el.parentElement.classList.toggle("changed", changed);
    if (changed) setPath(out, path, v);
  });
  return out;
}

function numberOrNull(sel) {
  const v = $(sel).value.trim();
  return v === "" ? null : Number(v);
}

function moduleChoice(name) {
  const isA = name === undefined;
  return {
    name: isA ? $("#module-select").value : name,
    overrides: isA ? overrides() : {},
    crop_width_px: numberOrNull("#crop-width"),
    crop_height_px: numberOrNull("#crop-height"),
  };
}

function conditions() {
  return {
    scene: $("#scene-select").value,
    illuminant: $("#illuminant").value,
    lux: numberOrNull("#lux"),
    exposure_ms: numberOrNull("#exposure"),
    temperature_c: numberOrNull("#temperature"),
    seed: numberOrNull("#seed") ?? 0,
  };
}

let validateTimer = null;
function onParamChange() {
  refreshStale();
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, 150);
}

// Every validation or action takes a ticket; a validation answer that arrives after a
// newer request started is stale and must not clear (or show) an error.
let ticket = 0;

async function validateNow() {
  if (state.busy) return;  // the running action validates the same choices itself
  const mine = ++ticket;
  try {
    const r = await api("/api/validate", {json: moduleChoice()});
    if (mine !== ticket) return;
    clearError();
    describeModule(r.module, r.capturable ? "" : ` — above this server's capture limit of ${(r.max_pixels / 1e6).toFixed(2)} MP: set a crop`);
  } catch (e) { if (mine === ticket) showError(e); }
}

function describeModule(m, extra = "") {
  $("#module-info").textContent = `${m.description || m.title} — ${m.width_px}×${m.height_px} px ` +
    `(${m.megapixels} MP), ${m.pixel_pitch_um} µm, ${m.cfa}, ${m.shutter} shutter, ` +
    `f = ${m.focal_length_mm} mm f/${m.f_number}, HFOV ${m.hfov_deg}°${extra}`;
}

async function selectModule() {
  const name = $("#module-select").value;
  const r = await api(`/api/modules/${encodeURIComponent(name)}`);
  state.base = r.spec;
  buildForm();
  refreshStale();
  await validateNow();
}

// ---------------------------------------------------------------------------------------
// results
// ---------------------------------------------------------------------------------------
const fmt = (v, digits = 3) => (v === null || v === undefined) ? "n/a" :
  (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v).toPrecision(digits));

// [key, name, unit, element id]: a metric is shown only when the server measured it (a
// value); otherwise the server's reason is listed under the table.
const METRICS = [
  ["exposure_ms", "exposure", "ms"],
  ["grey_snr_db", "SNR of a grey region", "dB", "metric-snr"],
  ["clipped_percent", "clipped pixels", "%", "metric-clipped"],
  ["mtf50_cy_px", "MTF50 (centre, raw e-SFR)", "cy/px", "metric-mtf50"],
  ["mtf50_lp_mm", "MTF50", "lp/mm"],
  ["delta_e00_mean", "mean ΔE00 (ColorChecker)", "", "metric-de"],
  ["mean_signal_e", "mean signal", "e⁻"],
];

function metricsTable(table, m, sources = {}) {
  table.replaceChildren();
  const head = table.insertRow(); ["metric", "value", "unit", "where it comes from"].forEach((h) => { const th = document.createElement("th"); th.textContent = h; head.append(th); });
  const missing = [];
  for (const [key, name, unit, id] of METRICS) {
    if (m[key] === null || m[key] === undefined) { missing.push(`${name}: ${(sources[key] || "not measured").replace(/^not shown: /, "")}`); continue; }
    const tr = table.insertRow();
    tr.insertCell().textContent = name;
    const td = tr.insertCell(); td.textContent = fmt(m[key]); td.className = "num"; if (id) td.id = id;
    tr.insertCell().textContent = unit;
    const src = tr.insertCell(); src.textContent = sources[key] || ""; src.className = "source";
    if (id) src.id = `${id}-source`;
  }
  if (missing.length) {
    const tr = table.insertRow(); tr.className = "not-shown";
    const td = tr.insertCell(); td.colSpan = 4; td.textContent = "Not shown — " + [...new Set(missing)].join("; ");
  }
}

// Links to every file a finished job offers (raw DNG, processed PNG/TIFF, metrics JSON,
// report HTML), each a download.
const DOWNLOAD_LABELS = {raw_dng: "raw DNG", raw_tiff: "raw TIFF", processed_png: "processed PNG",
  processed_tiff: "processed TIFF", metrics_json: "metrics JSON", report_html: "report HTML",
  plot_png: "plot PNG"};

function downloadLinks(job) {
  const p = document.createElement("p");
  p.className = "downloads";
  p.append("Download: ");
  Object.entries(job.downloads || {}).forEach(([key, url], i) => {
    if (i) p.append(" · ");
    const a = document.createElement("a");
    a.href = url; a.download = ""; a.dataset.key = key;
    const m = key.match(/^(m\d+)_(.+)$/);
    a.textContent = m ? `${m[1] === "m0" ? "A" : "B"} ${DOWNLOAD_LABELS[m[2]] || m[2]}` : (DOWNLOAD_LABELS[key] || key);
    p.append(a);
  });
  return p;
}

// ---------------------------------------------------------------------------------------
// stale results: each result remembers the module choice it was made with; when the
// module, its parameters or the crop change, the result is labelled stale.
// ---------------------------------------------------------------------------------------
const made = {capture: null, eval: null, compare: null, plot: null};

function choiceKey(section) {
  const a = moduleChoice();
  if (section === "eval") { a.crop_width_px = null; a.crop_height_px = null; }
  const b = section === "compare" || (section === "plot" && $("#plot-with-b").checked) ? $("#module-b").value : null;
  return JSON.stringify([a, b]);
}

function choiceLabel(section) {
  const a = moduleChoice();
  const edited = Object.keys(a.overrides).length ? " with edited parameters" : "";
  const crop = section !== "eval" && (a.crop_width_px || a.crop_height_px) ? `, crop ${a.crop_width_px || "full"}×${a.crop_height_px || "full"}` : "";
  const b = section === "compare" ? ` vs ${$("#module-b").value}` : "";
  return `${a.name}${edited}${crop}${b}`;
}

function refreshStale() {
  for (const [section, r] of Object.entries(made)) {
    const note = $(`#${section}-stale`), out = $(`#${section}-result`);
    if (!note || !out) continue;
    const stale = r !== null && r.key !== choiceKey(section);
    note.hidden = !stale;
    note.textContent = stale ? `Stale: made with ${r.label}; the module or its parameters have changed since. Run it again for the current module.` : "";
    out.classList.toggle("stale", stale);
  }
}

function imageUrl(job, key) { return `/api/jobs/${job}/images/${key}.png`; }

function updateZoom() {
  if (!state.captureJob) return;
  const q = `x=${state.zoom.x.toFixed(4)}&y=${state.zoom.y.toFixed(4)}`;
  $("#img-zoom").src = `/api/jobs/${state.captureJob}/zoom.png?image=processed&${q}`;
  $("#img-zoom-raw").src = `/api/jobs/${state.captureJob}/zoom.png?image=raw&${q}`;
  $("#zoom-caption").textContent = `1:1 pixels around (${Math.round(100 * state.zoom.x)} %, ${Math.round(100 * state.zoom.y)} %), ×8`;
}

function showCapture(job) {
  const r = job.result;
  state.captureJob = job.id;
  state.zoom = {x: 0.5, y: 0.5};
  $("#capture-empty").hidden = true;
  $("#capture-out").hidden = false;
  $("#img-processed").src = imageUrl(job.id, r.images.processed);
  $("#img-raw").src = imageUrl(job.id, r.images.raw);
  updateZoom();
  metricsTable($("#metrics"), r.metrics, r.metric_sources);
  $("#capture-notes").textContent = `${r.module.name}: ${r.width_px}×${r.height_px} px, ${r.scene}, ` +
    `${r.illuminant} ${r.lux} lx, ${r.auto_exposure ? "auto exposure" : "fixed exposure"}, ` +
    `${r.temperature_c} °C, seed ${r.seed}` + (r.notes.length ? ` — ${r.notes.join("; ")}` : "");
  $("#capture-downloads").replaceChildren(downloadLinks(job));
}

function verdictTable(ev) {
  const wrap = document.createElement("div");
  const h = document.createElement("p");
  h.innerHTML = `<strong></strong> `;
  h.firstChild.textContent = `${ev.module} for ${ev.title}: ${ev.passed ? "PASS" : "FAIL"} (${ev.failed} failed, ${ev.seconds} s)`;
  h.className = ev.passed ? "verdict-pass" : "verdict-fail";
  wrap.append(h);
  const t = document.createElement("table");
  t.className = "verdicts";
  const head = t.insertRow();
  ["requirement", "limit", "measured", "margin", "verdict", "basis", "where it comes from"].forEach((x) => { const th = document.createElement("th"); th.textContent = x; head.append(th); });
  for (const v of ev.verdicts) {
    const tr = t.insertRow();
    const na = v.status === "n/a";
    tr.className = na ? "na" : (v.passed ? "pass" : "fail");
    const cond = Object.entries(v.conditions).map(([k, x]) => `${k}=${x}`).join(", ");
    tr.insertCell().textContent = v.metric + (cond ? ` (${cond})` : "");
    tr.insertCell().textContent = v.limit;
    const m = tr.insertCell(); m.textContent = na ? "n/a" : v.value_text; m.className = "num";
    const g = tr.insertCell(); g.textContent = na ? "" : v.margin_text; g.className = "num";
    tr.insertCell().textContent = na ? "n/a (not passed)" : (v.passed ? "pass" : "FAIL");
    const b = tr.insertCell(); b.textContent = v.basis; b.title = v.source;
    const src = tr.insertCell(); src.className = "source";
    src.textContent = na ? (v.not_applicable || "") : (v.measured_from || "");
  }
  wrap.append(t);
  return wrap;
}

// ---------------------------------------------------------------------------------------
// actions
// ---------------------------------------------------------------------------------------
async function busy(button, fn) {
  if (state.busy) return;
  state.busy = true;
  ticket++;  // pending validations are now stale
  clearTimeout(validateTimer);
  document.querySelectorAll("button").forEach((b) => { b.disabled = true; });
  clearError();
  try { await fn(); } catch (e) { showError(e); }
  finally {
    state.busy = false;
    document.querySelectorAll("button").forEach((b) => { b.disabled = false; });
  }
}

async function capture() {
  const key = {key: choiceKey("capture"), label: choiceLabel("capture")};
  const job = await runJob("/api/capture", {module: moduleChoice(), ...conditions()});
  showCapture(job);
  made.capture = key; refreshStale();
}

async function evaluate() {
  const key = {key: choiceKey("eval"), label: choiceLabel("eval")};
  const job = await runJob("/api/evaluate", {
    module: {...moduleChoice(), crop_width_px: null, crop_height_px: null},
    application: $("#application").value, seed: numberOrNull("#seed") ?? 0});
  $("#eval-empty").hidden = true;
  $("#eval-out").replaceChildren(verdictTable(job.result), downloadLinks(job));
  made.eval = key; refreshStale();
}

async function compare() {
  const key = {key: choiceKey("compare"), label: choiceLabel("compare")};
  const a = moduleChoice(), b = moduleChoice($("#module-b").value);
  const payload = {modules: [a, b], ...conditions()};
  if ($("#compare-eval").checked) payload.application = $("#application").value;
  const job = await runJob("/api/compare", payload);
  const out = $("#compare-out");
  out.replaceChildren();
  const side = document.createElement("div"); side.className = "side";
  job.result.captures.forEach((c, i) => {
    const col = document.createElement("div");
    const h = document.createElement("h3"); h.textContent = `${i ? "B" : "A"}: ${c.label}`;
    const img = document.createElement("img"); img.src = imageUrl(job.id, c.images.processed); img.alt = `processed ${c.label}`;
    const raw = document.createElement("img"); raw.src = imageUrl(job.id, c.images.raw); raw.alt = `raw ${c.label}`;
    const t = document.createElement("table"); metricsTable(t, c.metrics, c.metric_sources);
    t.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id"));
    col.append(h, img, raw, t);
    if (job.result.evaluations[i]) col.append(verdictTable(job.result.evaluations[i]));
    side.append(col);
  });
  out.append(side, downloadLinks(job));
  made.compare = key; refreshStale();
}

async function plot(kind) {
  const key = {key: choiceKey("plot"), label: choiceLabel("plot")};
  const mods = [moduleChoice()];
  if ($("#plot-with-b").checked) mods.push(moduleChoice($("#module-b").value));
  const job = await runJob("/api/plots", {kind, modules: mods, illuminant: $("#illuminant").value,
                                          lux: numberOrNull("#lux") ?? 1000, seed: numberOrNull("#seed") ?? 0});
  const img = document.createElement("img");
  img.src = imageUrl(job.id, job.result.images.plot);
  img.alt = `${kind} plot`;
  img.className = `plot-${kind}`;
  const fig = document.createElement("figure");
  fig.append(img, downloadLinks(job));
  $("#plot-out").prepend(fig);
  made.plot = key; refreshStale();
}

async function upload(file) {
  clearError();
  try {
    const r = await fetch("/api/uploads", {method: "POST", body: file,
                                           headers: {"Content-Type": file.type || "application/octet-stream"}});
    const body = await r.json();
    if (!r.ok) throw new ApiError(r.status, body.detail, body.field);
    const opt = document.createElement("option");
    opt.value = body.scene; opt.textContent = `${file.name} (${body.width_px}×${body.height_px})`;
    $("#scene-select").append(opt);
    $("#scene-select").value = body.scene;
  } catch (e) { showError(e); }
}

function fillSelect(sel, items, label = (x) => x, value = (x) => x) {
  sel.replaceChildren();
  for (const it of items) {
    const o = document.createElement("option");
    o.value = value(it); o.textContent = label(it);
    sel.append(o);
  }
}

async function init() {
  try {
    const [health, modules, scenes, apps, schema] = await Promise.all([
      api("/api/health"), api("/api/modules"), api("/api/scenes"), api("/api/applications"),
      api("/api/schema")]);
    state.schema = schema;
    $("#server-status").textContent = `camtwin ${health.version} — ${health.workers} simulation threads, capture limit ${(health.limits.max_pixels / 1e6).toFixed(2)} MP`;
    const label = (m) => `${m.name} — ${m.width_px}×${m.height_px} ${m.cfa}`;
    fillSelect($("#module-select"), modules, label, (m) => m.name);
    fillSelect($("#module-b"), modules, label, (m) => m.name);
    if (modules.length > 1) $("#module-b").selectedIndex = 1;
    fillSelect($("#scene-select"), scenes.charts);
    $("#scene-select").value = "colorchecker";
    fillSelect($("#illuminant"), scenes.illuminants);
    fillSelect($("#application"), apps, (a) => `${a.name} — ${a.title}`, (a) => a.name);
    await selectModule();
    document.body.dataset.ready = "1";
  } catch (e) { showError(e); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#module-select").addEventListener("change", () => selectModule().catch(showError));
  ["#crop-width", "#crop-height"].forEach((s) => $(s).addEventListener("change", onParamChange));
  ["#module-b", "#plot-with-b"].forEach((s) => $(s).addEventListener("change", refreshStale));
  $("#reset-params").addEventListener("click", () => { buildForm(); refreshStale(); validateNow(); });
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === t));
    document.querySelectorAll(".spec-form").forEach((f) => f.classList.toggle("hidden", f.dataset.section !== t.dataset.tab));
  }));
  $("#capture-btn").addEventListener("click", (e) => busy(e.target, capture));
  $("#evaluate-btn").addEventListener("click", (e) => busy(e.target, evaluate));
  $("#compare-btn").addEventListener("click", (e) => busy(e.target, compare));
  document.querySelectorAll(".plot-btn").forEach((b) => b.addEventListener("click", () => busy(b, () => plot(b.dataset.kind))));
  $("#upload").addEventListener("change", (e) => { if (e.target.files[0]) upload(e.target.files[0]); });
  $("#img-processed").addEventListener("click", (e) => {
    const r = e.target.getBoundingClientRect();
    state.zoom = {x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
                  y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))};
    updateZoom();
  });
  init();
});
