// The search page: reads the question and filters from the URL, asks POST /ask, and draws
// the results with DOM nodes (text is never parsed as HTML).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("search");
  const input = $("q");
  let last = null; // { request, response } of the results on screen
  const docTypes = new Map(); // doc_id -> document type, from GET /documents
  const MODES = ["precise", "fast"]; // the first is the API's default

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ---- state <-> URL <-> form ---------------------------------------------------------------

  function stateFromUrl() {
    const params = new URLSearchParams(window.location.search);
    return {
      q: (params.get("q") || "").trim(),
      docs: params.getAll("doc"),
      yearFrom: params.get("year_from") || "",
      yearTo: params.get("year_to") || "",
      type: params.get("type") || "",
      k: params.get("k") || "10",
      mode: params.get("mode") || MODES[0],
    };
  }

  function stateFromForm() {
    return {
      q: input.value.trim(),
      docs: Array.from(form.querySelectorAll("input[name=doc]:checked")).map((c) => c.value),
      yearFrom: $("year_from").value.trim(),
      yearTo: $("year_to").value.trim(),
      type: $("type").value,
      k: $("k").value,
      mode: $("mode").value,
    };
  }

  function fillForm(state) {
    input.value = state.q;
    for (const box of form.querySelectorAll("input[name=doc]")) {
      box.checked = state.docs.includes(box.value);
    }
    $("year_from").value = state.yearFrom;
    $("year_to").value = state.yearTo;
    if (state.type && !Array.from($("type").options).some((o) => o.value === state.type)) {
      $("type").append(el("option", { value: state.type }, state.type));
    }
    $("type").value = state.type;
    $("k").value = ["5", "10", "20", "50"].includes(state.k) ? state.k : "10";
    $("mode").value = MODES.includes(state.mode) ? state.mode : MODES[0];
    countFilters(state);
  }

  function countFilters(state) {
    const n = (state.docs.length ? 1 : 0) + (state.yearFrom ? 1 : 0) + (state.yearTo ? 1 : 0) +
      (state.type ? 1 : 0);
    $("filter-count").textContent = n ? `(${n} active)` : "";
    if (n) $("filters").open = true;
  }

  function urlFor(state) {
    const params = new URLSearchParams();
    if (state.q) params.set("q", state.q);
    for (const d of state.docs) params.append("doc", d);
    if (state.yearFrom) params.set("year_from", state.yearFrom);
    if (state.yearTo) params.set("year_to", state.yearTo);
    if (state.type) params.set("type", state.type);
    if (state.k && state.k !== "10") params.set("k", state.k);
    if (state.mode && state.mode !== MODES[0]) params.set("mode", state.mode);
    const query = params.toString();
    return window.location.pathname + (query ? `?${query}` : "");
  }

  function requestFor(state) {
    const body = {
      question: state.q,
      top_k: Number(state.k) || 10,
      mode: MODES.includes(state.mode) ? state.mode : MODES[0],
    };
    const filters = {};
    if (state.docs.length) filters.doc_ids = state.docs;
    if (state.yearFrom) filters.year_from = Number(state.yearFrom);
    if (state.yearTo) filters.year_to = Number(state.yearTo);
    if (state.type) filters.type = [state.type];
    if (Object.keys(filters).length) body.filters = filters;
    return body;
  }

  // ---- documents for the filters --------------------------------------------------------------

  async function loadDocuments() {
    const box = $("doc-filters");
    try {
      const response = await fetch("/documents");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      for (const d of body.documents) if (d.type) docTypes.set(d.doc_id, d.type);
      box.replaceChildren(...body.documents.map((d, i) => el("div", { className: "check" },
        el("input", { type: "checkbox", name: "doc", id: `doc-${i}`, value: d.doc_id }),
        el("label", { for: `doc-${i}` }, d.title, " ", el("span", { className: "muted" },
          `(${d.year ?? "n.d."})`)))));
      const types = [...new Set(body.documents.map((d) => d.type).filter(Boolean))].sort();
      for (const t of types) $("type").append(el("option", { value: t }, t));
    } catch (err) {
      box.replaceChildren(el("p", { className: "hint" }, "Documents could not be loaded."));
    }
  }

  // ---- results ----------------------------------------------------------------------------

  function where(citation) {
    if (citation.page !== null) {
      const label = citation.page_label || String(citation.page);
      return label === String(citation.page) ? `Page ${label}` :
        `Page ${label} (PDF page ${citation.page})`;
    }
    return citation.section ? `Section: ${citation.section}` : null;
  }

  function highlighted(text, highlights) {
    const parts = [];
    let at = 0;
    const spans = highlights.slice().sort((a, b) => a.start - b.start);
    for (const h of spans) {
      if (h.start < at || h.end > text.length) continue;
      if (h.start > at) parts.push(text.slice(at, h.start));
      parts.push(el("mark", {}, text.slice(h.start, h.end)));
      at = h.end;
    }
    if (at < text.length) parts.push(text.slice(at));
    return parts;
  }

  function whyList(p) {
    const rank = (r) => (r === null ? "not among the top results" : `#${r}`);
    const score = (s) => (s === null ? "" : ` (score ${s})`);
    return el("details", { className: "why" },
      el("summary", {}, "Why this result"),
      el("dl", {},
        el("dt", {}, "Keyword match (BM25)"), el("dd", {}, rank(p.why.bm25_rank), score(p.why.bm25_score)),
        el("dt", {}, "Meaning match (embeddings)"), el("dd", {}, rank(p.why.dense_rank), score(p.why.dense_score)),
        el("dt", {}, "Combined score"), el("dd", {}, String(p.why.fused)),
        el("dt", {}, "Adjusted for"),
        el("dd", {}, p.why.hints.length ? `${p.why.hints.join("; ")} (${p.why.bonus > 0 ? "+" : ""}${p.why.bonus})` : "nothing"),
        // The second stage: present only when the cross-encoder read this passage.
        p.why.rerank_rank === null ? null : [
          el("dt", {}, "Cross-encoder (reranker)"),
          el("dd", {}, rank(p.why.rerank_rank), score(p.why.rerank_score))],
        el("dt", {}, "Matching words"),
        el("dd", {}, p.matched_terms.length ? p.matched_terms.join(", ") : "none")));
  }

  function contextLink(p) {
    const spans = p.highlights.map((h) => `${h.start}-${h.end}`).join(",");
    return `/p/${encodeURIComponent(p.passage_id)}` + (spans ? `?h=${spans}` : "");
  }

  function result(p) {
    const c = p.citation;
    const id = `r${p.rank}`;
    const meta = [c.year ?? "n.d.", docTypes.get(c.doc_id), c.series && c.number ? `${c.series} No. ${c.number}` : c.series,
      where(c)].filter(Boolean).join(" · ");
    const also = p.also_in.length ? el("p", { className: "also" }, "Also in: ",
      p.also_in.map((a, i) => [i ? "; " : "",
        el("a", { href: `/p/${encodeURIComponent(a.passage_id)}` }, a.citation.title,
          where(a.citation) ? `, ${where(a.citation)}` : "")])) : null;
    return el("li", { className: "result", id },
      el("article", { "aria-labelledby": `${id}-title` },
        el("h3", { id: `${id}-title`, className: "result-title" },
          el("a", { href: contextLink(p) }, c.title)),
        el("p", { className: "meta" }, meta),
        el("blockquote", { className: "passage", cite: `/p/${p.passage_id}` },
          el("p", {}, highlighted(p.text, p.highlights))),
        el("p", { className: "cite" }, c.formatted),
        also,
        el("div", { className: "actions" },
          el("button", { type: "button", className: "copy-cite",
            dataset: { passage: p.passage_id } }, "Copy citation"),
          el("a", { href: contextLink(p) }, "Open in context")),
        whyList(p)));
  }

  // What ran and how long each step took, in one quiet line.
  function stagesText(s) {
    const ms = (x) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
    const steps = [`question ${ms(s.encode_ms)}`, `first stage ${ms(s.first_stage_ms)}`];
    if (s.reranked) {
      const whole = s.read_whole ? `, ${s.read_whole} also whole` : "";
      steps.push(`reranking ${s.reranked} candidates${whole} ${ms(s.rerank_ms)}`);
    }
    // The weight falls for paraphrased questions, where the first stage ranks better.
    const what = s.reranked
      ? `reranked by ${s.reranker}, weight ${s.rerank_weight.toFixed(2)}`
      : "no reranking";
    return `Ranking: ${s.mode} (${what}) · ${steps.join(", ")}` +
      (s.cached ? ` · from the cache in ${ms(s.total_ms)}` : ` · ${ms(s.total_ms)} in all`);
  }

  function show(request, response) {
    last = { request, response };
    $("error").hidden = true;
    $("results-section").hidden = false;
    $("no-evidence").hidden = response.answerable;
    const n = response.passages.length;
    const confidence = Math.round(response.confidence * 100);
    $("status").textContent = n === 0 ?
      "No passages match these filters." :
      `${n} passage${n === 1 ? "" : "s"} for “${response.question}”` +
      ` · confidence ${confidence}%${response.answerable ? "" : " (no confident evidence)"}`;
    $("stages").textContent = stagesText(response.stages);
    $("results").replaceChildren(...response.passages.map(result));
    document.title = `${response.question} · iomqa`;
  }

  function fail(message) {
    last = null;
    $("results-section").hidden = true;
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  async function run(state) {
    if (!state.q) return;
    const request = requestFor(state);
    $("status").textContent = "Searching…";
    form.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        fail(`The search failed: ${body.detail || `HTTP ${response.status}`}`);
        return;
      }
      show(request, body);
    } catch (err) {
      fail("The search service could not be reached.");
    } finally {
      form.removeAttribute("aria-busy");
    }
  }

  // ---- export -------------------------------------------------------------------------------

  function rows() {
    const base = window.location.origin;
    return last.response.passages.map((p) => ({
      rank: p.rank,
      score: p.score,
      passage_id: p.passage_id,
      doc_id: p.citation.doc_id,
      title: p.citation.title,
      year: p.citation.year,
      page: p.citation.page_label || p.citation.page,
      section: p.citation.section,
      citation: p.citation.formatted,
      highlights: p.highlights.map((h) => h.text).join(" … "),
      text: p.text,
      permalink: `${base}/p/${p.passage_id}`,
    }));
  }

  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+@\t\r]/.test(text)) text = `'${text}`; // keep spreadsheets from running it
    return `"${text.replace(/"/g, '""')}"`;
  }

  function download(name, type, text) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const link = el("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function exportCsv() {
    if (!last) return;
    const data = rows();
    const header = Object.keys(data[0] || { rank: "" });
    const lines = [header.map(csvCell).join(",")]
      .concat(data.map((r) => header.map((h) => csvCell(r[h])).join(",")));
    download("iomqa-results.csv", "text/csv;charset=utf-8", "\ufeff" + lines.join("\r\n") + "\r\n");
  }

  function exportJson() {
    if (!last) return;
    const body = {
      question: last.response.question,
      filters: last.request.filters || null,
      mode: last.response.stages.mode,
      index_version: last.response.index_version,
      answerable: last.response.answerable,
      confidence: last.response.confidence,
      results: rows(),
    };
    download("iomqa-results.json", "application/json", JSON.stringify(body, null, 2) + "\n");
  }

  // ---- events -------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const state = stateFromForm();
    if (!state.q) { input.focus(); return; }
    countFilters(state);
    window.history.pushState(null, "", urlFor(state));
    run(state);
  });

  $("clear-filters").addEventListener("click", () => {
    fillForm({ ...stateFromForm(), docs: [], yearFrom: "", yearTo: "", type: "" });
    if (input.value.trim()) form.requestSubmit();
  });

  $("results").addEventListener("click", async (event) => {
    const button = event.target.closest("button.copy-cite");
    if (!button) return;
    const style = $("style").value;
    try {
      const response = await fetch(
        `/passages/${encodeURIComponent(button.dataset.passage)}/cite?format=${style}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      window.iomqa.flash(button, await window.iomqa.copyText(await response.text()));
    } catch (err) {
      window.iomqa.flash(button, false);
    }
  });

  // Another ranking for the question on screen: search again at once.
  $("mode").addEventListener("change", () => {
    if (input.value.trim()) form.requestSubmit();
  });

  $("export-csv").addEventListener("click", exportCsv);
  $("export-json").addEventListener("click", exportJson);

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement &&
      (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  window.addEventListener("popstate", () => {
    const state = stateFromUrl();
    fillForm(state);
    if (state.q) run(state);
  });

  const initial = stateFromUrl();
  input.value = initial.q;
  if (!initial.q) input.focus();
  loadDocuments().then(() => {
    // Keep whatever was typed while the documents loaded.
    fillForm({ ...initial, q: input.value });
    if (initial.q) run(stateFromForm());
  });
})();
