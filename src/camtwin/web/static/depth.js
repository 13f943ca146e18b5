// camtwin workbench: the depth (3D) panel. Plain JavaScript, no build step; talks to
// /api/depth/* and polls /api/jobs/{id} like the 2D panel (app.js), in its own scope.
"use strict";

(() => {
  const q = (sel) => document.querySelector(sel);

  async function call(path, json) {
    const opts = json === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(json)};
    const r = await fetch(path, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const err = new Error(body && typeof body.detail === "string" ? body.detail : `${r.status} ${r.statusText}`);
      err.field = body ? body.field : null;
      throw err;
    }
    return body;
  }

  async function job(path, payload) {
    const {job_id} = await call(path, payload);
    const msg = q("#depth-progress");
    for (;;) {
      const j = await call(`/api/jobs/${job_id}`);
      msg.textContent = `${j.kind}: ${j.message} (${Math.round(100 * j.progress)} %)`;
      if (j.status === "done") { msg.textContent = ""; return j; }
      if (j.status === "error") { msg.textContent = ""; throw new Error(j.error); }
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  function showError(err) {
    const box = q("#depth-error");
    box.textContent = err ? (err.message || String(err)) : "";
    box.hidden = !err;
  }

  const num = (sel) => { const v = q(sel).value.trim(); return v === "" ? null : Number(v); };

  function moduleChoice() {
    const c = {name: q("#depth-module").value};
    const w = num("#depth-crop-w"), h = num("#depth-crop-h");
    if (w !== null) c.crop_width_px = w;
    if (h !== null) c.crop_height_px = h;
    return c;
  }

  const fmt = (v) => (v === null || v === undefined) ? "—" :
    (typeof v === "number" ? Number(v.toPrecision(4)).toString() : String(v));

  function table(header, rows, rowClass = () => "") {
    const t = document.createElement("table");
    const tr = t.insertRow();
    header.forEach((h) => { const th = document.createElement("th"); th.textContent = h; tr.append(th); });
    rows.forEach((r) => {
      const row = t.insertRow();
      const cls = rowClass(r);
      if (cls) row.className = cls;
      r.forEach((v) => { const td = row.insertCell(); td.textContent = fmt(v); });
    });
    return t;
  }

  function links(j) {
    const p = document.createElement("p");
    p.className = "downloads";
    p.append("Download: ");
    Object.entries(j.downloads || {}).forEach(([key, url], i) => {
      if (i) p.append(" · ");
      const a = document.createElement("a");
      a.href = url; a.download = ""; a.dataset.key = key; a.textContent = url.split("/").pop();
      p.append(a);
    });
    return p;
  }

  function showCapture(j) {
    const r = j.result, out = q("#depth-out");
    out.replaceChildren();
    const h = document.createElement("h3");
    h.textContent = `${r.module.name} (${r.kind}): ${r.scene} at ${r.distance_m} m, reflectance ${r.reflectance}, ${r.ambient_klx} klx, ${r.frames} frame(s)`;
    const imgs = document.createElement("div");
    imgs.className = "images";
    const range = r.depth_range_m[0] === null ? "no valid depth" :
      `${fmt(r.depth_range_m[0])}–${fmt(r.depth_range_m[1])} m`;
    for (const [key, caption] of [["depth", `depth, turbo near → far (${range}; black: none)`],
                                  ["amplitude", "amplitude / signal"]]) {
      const f = document.createElement("figure");
      const img = document.createElement("img");
      img.id = `depth-img-${key}`; img.alt = caption; img.className = "pixelated-depth";
      img.src = `/api/jobs/${j.id}/images/${r.images[key]}.png`;
      const c = document.createElement("figcaption"); c.textContent = caption;
      f.append(img, c); imgs.append(f);
    }
    const t = table(["metric", "value"], Object.entries(r.metrics));
    t.id = "depth-metrics";
    out.append(h, imgs, t, links(j));
  }

  function showEvaluation(j) {
    const r = j.result, out = q("#depth-out");
    out.replaceChildren();
    const h = document.createElement("h3");
    h.textContent = `${r.module} for ${r.title}: ${r.passed ? "PASS" : "FAIL"}`;
    const rows = r.verdicts.map((v) => [v.metric,
      Object.entries(v.conditions).map(([k, c]) => `${k} ${c}`).join(", "),
      v.value_text, v.unit, v.min, v.max, v.status]);
    const t = table(["requirement", "conditions", "measured", "unit", "min", "max", "verdict"], rows,
                    (row) => ({pass: "pass", fail: "fail"}[row[6]] || "na"));
    t.id = "depth-verdicts";
    out.append(h, t, links(j));
  }

  async function withButton(btn, fn) {
    btn.disabled = true;
    showError(null);
    try { await fn(); } catch (e) { showError(e); } finally { btn.disabled = false; }
  }

  function describe(mods) {
    const m = mods.find((x) => x.name === q("#depth-module").value);
    if (!m) return;
    const ill = m.illuminator ? `, ${m.illuminator.kind} ${m.illuminator.wavelength_nm} nm` : "";
    q("#depth-module-info").textContent =
      `${m.kind}: ${m.width_px}×${m.height_px} px of ${m.pixel_pitch_um} µm, ${m.hfov_deg}° wide${ill}. ${m.description || ""}`;
  }

  async function init() {
    if (!q("#depth")) return;
    try {
      const [mods, scenes, apps] = await Promise.all([
        call("/api/depth/modules"), call("/api/depth/scenes"), call("/api/depth/applications")]);
      const fill = (sel, items, label, value) => {
        sel.replaceChildren(...items.map((it) => {
          const o = document.createElement("option");
          o.value = value(it); o.textContent = label(it); return o;
        }));
      };
      fill(q("#depth-module"), mods, (m) => `${m.name} — ${m.kind} ${m.width_px}×${m.height_px}`, (m) => m.name);
      fill(q("#depth-scene"), scenes.scenes, (s) => s, (s) => s);
      fill(q("#depth-application"), apps, (a) => `${a.name} — ${a.title}`, (a) => a.name);
      q("#depth-frames").max = scenes.max_frames;
      describe(mods);
      q("#depth-module").addEventListener("change", () => describe(mods));
      q("#depth").dataset.ready = "1";
    } catch (e) { showError(e); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!q("#depth")) return;
    q("#depth-capture-btn").addEventListener("click", (e) => withButton(e.target, async () => {
      showCapture(await job("/api/depth/capture", {
        module: moduleChoice(), scene: q("#depth-scene").value, distance_m: num("#depth-distance"),
        reflectance: num("#depth-reflectance"), ambient_klx: num("#depth-ambient"),
        frames: num("#depth-frames"), seed: num("#depth-seed")}));
    }));
    q("#depth-evaluate-btn").addEventListener("click", (e) => withButton(e.target, async () => {
      // the evaluation crops the array itself (the centre, where datasheets quote noise)
      showEvaluation(await job("/api/depth/evaluate", {
        module: {name: q("#depth-module").value}, application: q("#depth-application").value,
        seed: num("#depth-seed")}));
    }));
    init();
  });
})();
