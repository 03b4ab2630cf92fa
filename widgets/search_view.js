// The search view: every candidate of an optimize run as a dot, placed by round (x) and
// verified speedup (y, log scale), lines from each parent to its children, coloured by
// status. Hover shows the idea; a click selects the candidate in the explorer.
// A plain ES module for anywidget: no build step, no imports, no network.

const SVG = "http://www.w3.org/2000/svg";
const W = 760;
const H = 340;
const M = { left: 56, right: 24, top: 34, bottom: 58 };
const FAILED_BAND = 26; // candidates without a speedup sit in a band under the axis
const LABELS = {
  best: "best",
  faster: "faster",
  same: "no significant change",
  slower: "slower",
  failed: "failed (wrong results)",
  error: "error / timeout",
};

function svg(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.appendChild(node);
  return node;
}

function fmt(x) {
  if (x >= 100) return `${Math.round(x)}x`;
  if (x >= 10) return `${x.toFixed(0)}x`;
  if (x >= 1) return `${x.toFixed(1)}x`;
  return `${x.toFixed(2)}x`;
}

function ticks(lo, hi) {
  const out = [];
  for (let e = Math.floor(lo) - 1; e <= Math.ceil(hi) + 1; e++) {
    for (const m of [1, 2, 5]) {
      const v = Math.log10(m) + e;
      if (v >= lo - 1e-9 && v <= hi + 1e-9) out.push(Math.pow(10, v));
    }
  }
  return out;
}

function layout(nodes) {
  const timed = nodes.filter((n) => n.speedup);
  const logs = timed.map((n) => Math.log10(n.speedup));
  let lo = Math.min(0, ...logs) - 0.15;
  let hi = Math.max(0, ...logs) + 0.15;
  const rounds = Math.max(0, ...nodes.map((n) => n.round));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom - FAILED_BAND;
  const colW = plotW / (rounds + 1);
  const y = (s) => M.top + ((hi - Math.log10(s)) / (hi - lo)) * plotH;
  const pos = {};
  for (let r = 0; r <= rounds; r++) {
    const column = nodes.filter((n) => n.round === r).sort((a, b) => a.order - b.order);
    const step = Math.min(22, (colW * 0.8) / Math.max(column.length, 1));
    column.forEach((n, i) => {
      const x = M.left + colW * (r + 0.5) + (i - (column.length - 1) / 2) * step;
      const yy = n.speedup ? y(n.speedup) : M.top + plotH + FAILED_BAND / 2 + 6;
      pos[n.id] = { x, y: yy };
    });
  }
  return { pos, y, lo, hi, rounds, colW, plotH };
}

function draw(model, root, tip) {
  const nodes = model.get("nodes") || [];
  const selected = model.get("selected") || "";
  root.replaceChildren();
  const head = document.createElement("div");
  head.className = "wb-search-head";
  head.textContent = model.get("title") || "Search";
  root.appendChild(head);
  const legend = document.createElement("div");
  legend.className = "wb-search-legend";
  for (const [kind, label] of Object.entries(LABELS)) {
    const item = document.createElement("span");
    item.innerHTML = `<i class="wb-dot wb-${kind}"></i>${label}`;
    legend.appendChild(item);
  }
  root.appendChild(legend);
  if (!nodes.length) {
    const empty = document.createElement("div");
    empty.className = "wb-search-empty";
    empty.textContent = "no candidates yet";
    root.appendChild(empty);
    return;
  }
  const { pos, y, lo, hi, rounds, colW, plotH } = layout(nodes);
  const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "wb-search-svg" });
  root.appendChild(box);
  // axes: speedup ticks, the reference at 1x, the rounds
  for (const t of ticks(lo, hi)) {
    const yy = y(t);
    svg("line", { x1: M.left, x2: W - M.right, y1: yy, y2: yy, class: t === 1 ? "wb-ref" : "wb-grid" }, box);
    svg("text", { x: M.left - 6, y: yy + 4, class: "wb-tick", "text-anchor": "end" }, box).textContent = fmt(t);
  }
  const refLabel = svg("text", { x: W - M.right, y: y(1) - 4, class: "wb-tick", "text-anchor": "end" }, box);
  refLabel.textContent = "your function (1x)";
  const band = M.top + plotH + 6;
  svg("rect", { x: M.left, y: band, width: W - M.left - M.right, height: FAILED_BAND, class: "wb-band" }, box);
  svg("text", { x: M.left - 6, y: band + FAILED_BAND / 2 + 4, class: "wb-tick", "text-anchor": "end" }, box).textContent = "failed";
  for (let r = 0; r <= rounds; r++) {
    const label = svg("text", { x: M.left + colW * (r + 0.5), y: H - 26, class: "wb-tick", "text-anchor": "middle" }, box);
    label.textContent = r === 0 ? "first round" : `round ${r}`;
  }
  svg("text", { x: 14, y: M.top + plotH / 2, class: "wb-axis", transform: `rotate(-90 14 ${M.top + plotH / 2})`, "text-anchor": "middle" }, box).textContent = "speedup (log)";
  svg("text", { x: M.left + (W - M.left - M.right) / 2, y: H - 8, class: "wb-axis", "text-anchor": "middle" }, box).textContent = "round (each child one round after its parent)";
  // lineage: parent -> child
  const edges = svg("g", { class: "wb-edges" }, box);
  for (const n of nodes) {
    const a = n.parent && pos[n.parent];
    const b = pos[n.id];
    if (!a || !b) continue;
    const mid = (a.x + b.x) / 2;
    svg("path", { d: `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`, class: "wb-edge", "data-child": n.id }, edges);
  }
  // the candidates
  const dots = svg("g", { class: "wb-nodes" }, box);
  for (const n of nodes) {
    const p = pos[n.id];
    const g = svg("g", { class: `wb-node wb-${n.kind}${n.id === selected ? " wb-selected" : ""}`, "data-id": n.id, transform: `translate(${p.x},${p.y})` }, dots);
    if (n.kind === "best") svg("circle", { r: 12, class: "wb-halo" }, g);
    svg("circle", { r: n.kind === "best" ? 8 : 6.5, class: "wb-dot-svg", fill: n.colour }, g);
    if (n.kind === "best") svg("text", { x: 0, y: -16, class: "wb-best-label", "text-anchor": "middle" }, g).textContent = `best ${fmt(n.speedup)}`;
    svg("title", {}, g).textContent = `${n.id}: ${n.text}\n${n.idea}`;
    g.addEventListener("mouseenter", () => {
      tip.innerHTML = "";
      const title = document.createElement("b");
      title.textContent = `${n.label}`;
      const status = document.createElement("div");
      status.textContent = n.text;
      const idea = document.createElement("div");
      idea.className = "wb-search-idea";
      idea.textContent = n.idea || "(no idea recorded)";
      tip.append(title, status, idea);
      tip.style.left = `${Math.min(p.x + 14, W - 260)}px`;
      tip.style.top = `${p.y + 40}px`;
      tip.style.display = "block";
    });
    g.addEventListener("mouseleave", () => {
      tip.style.display = "none";
    });
    g.addEventListener("click", () => {
      model.set("selected", n.id);
      model.save_changes();
    });
  }
}

function render({ model, el }) {
  el.classList.add("wb-search");
  const root = document.createElement("div");
  const tip = document.createElement("div");
  tip.className = "wb-search-tip";
  el.append(root, tip);
  const redraw = () => draw(model, root, tip);
  model.on("change:nodes", redraw);
  model.on("change:selected", redraw);
  model.on("change:title", redraw);
  redraw();
  return () => {
    model.off("change:nodes", redraw);
    model.off("change:selected", redraw);
    model.off("change:title", redraw);
  };
}

export default { render };
