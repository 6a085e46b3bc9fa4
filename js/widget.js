// magicgif-widget front end: plain ES module for anywidget, no framework, no npm at runtime.
// State lives in the kernel's traits; the API's limits come from the `limits` trait; media
// arrives as binary message chunks, or base64 text chunks in hosts that drop binary buffers.

const LABELS = {
  idle: "Ready",
  creating: "Sending…",
  queued: "Queued",
  rendering: "Rendering",
  downloading: "Downloading",
  complete: "Complete",
  failed: "Failed",
  canceled: "Canceled",
  waiting: "Waiting",
  unknown: "Unknown",
};
let uid = 0;
const newId = () => (globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`).slice(0, 13);
const chars = (text) => [...text].length; // code points, as the API counts them
const caches = new WeakMap(); // model -> {cache, views, timer}: views of one model share media

function sharedCache(model) {
  let entry = caches.get(model);
  if (!entry) {
    entry = { cache: new MediaCache(model), views: 0, timer: null };
    caches.set(model, entry);
  }
  clearTimeout(entry.timer);
  entry.views += 1;
  return {
    cache: entry.cache,
    release() {
      entry.views -= 1;
      if (entry.views > 0) return;
      // A view replaced by a re-render comes back at once: keep the media a little while.
      entry.timer = setTimeout(() => {
        if (entry.views === 0) {
          entry.cache.dispose();
          caches.delete(model);
        }
      }, 10_000);
    },
  };
}

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) el.append(child);
  return el;
}

/**
 * @typedef {{type: "media", req: string, key: string, mime: string, chunks: number, size: number,
 *   seq: number, encoding?: "binary" | "base64", data?: string}} MediaChunk
 * @typedef {{type: "media-error", req: string, key: string, message: string}} MediaError
 * @typedef {{key: string, parts: (ArrayBuffer | DataView | Uint8Array)[], got: number,
 *   resolve: (url: string) => void, reject: (error: Error) => void, timer?: number}} Pending
 */

// Once a chunk arrives without its buffer (Colab's widget manager drops them), every later
// request on this page asks for base64 text instead.
let textOnly = false;

/** @param {string} text base64 @returns {Uint8Array} */
function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** Fetches media by key from the kernel; chunks are reassembled into one Blob URL.
 * Every request has a deadline, renewed by each chunk: a silent kernel ends in an error. */
class MediaCache {
  constructor(model) {
    this.model = model;
    /** @type {Map<string, Promise<string>>} key -> Blob URL */
    this.urls = new Map();
    /** @type {Map<string, Pending>} req -> what is being assembled */
    this.pending = new Map();
    this.onMessage = (msg, buffers) => this.receive(msg, buffers);
    model.on("msg:custom", this.onMessage);
  }
  /** @param {string} key @returns {Promise<string>} */
  get(key) {
    if (!this.urls.has(key)) {
      this.urls.set(key, new Promise((resolve, reject) => this.request({ key, parts: [], got: 0, resolve, reject })));
    }
    return /** @type {Promise<string>} */ (this.urls.get(key));
  }
  /** Drop a failed key so the next `get` asks the kernel again (the Retry button). */
  forget(key) {
    this.urls.delete(key);
  }
  /** @param {Pending} entry */
  request(entry) {
    const req = `${Date.now()}-${++uid}`;
    entry.parts = [];
    entry.got = 0;
    this.pending.set(req, entry);
    this.arm(req, entry);
    this.model.send({ type: "media", key: entry.key, req, encoding: textOnly ? "base64" : "binary" });
  }
  /** @param {string} req @param {Pending} entry */
  arm(req, entry) {
    clearTimeout(entry.timer);
    const waitMs = (this.model.get("limits") || {}).media_timeout_ms || 20_000;
    entry.timer = setTimeout(() => {
      this.fail(req, entry, `the animation did not arrive from the kernel within ${Math.round(waitMs / 1000)} s`);
    }, waitMs);
  }
  /** @param {string} req @param {Pending} entry @param {string} message */
  fail(req, entry, message) {
    clearTimeout(entry.timer);
    this.pending.delete(req);
    this.urls.delete(entry.key);
    entry.reject(new Error(message));
  }
  /** @param {MediaChunk | MediaError} msg @param {(ArrayBuffer | DataView)[] | undefined} buffers */
  receive(msg, buffers) {
    const entry = msg && this.pending.get(msg.req);
    if (!entry) return;
    if (msg.type === "media-error") {
      this.fail(msg.req, entry, msg.message);
      return;
    }
    if (msg.type !== "media") return;
    let part;
    if (msg.encoding === "base64") {
      part = fromBase64(msg.data || "");
    } else {
      const buffer = buffers && buffers[0];
      if (!buffer) {
        // This host drops binary buffers: ask again, as text, for this and every later request.
        textOnly = true;
        clearTimeout(entry.timer);
        this.pending.delete(msg.req);
        this.request(entry);
        return;
      }
      part = ArrayBuffer.isView(buffer) ? new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new DataView(buffer);
    }
    if (!entry.parts[msg.seq]) entry.got += 1;
    entry.parts[msg.seq] = part;
    if (entry.got === msg.chunks) {
      clearTimeout(entry.timer);
      this.pending.delete(msg.req);
      entry.resolve(URL.createObjectURL(new Blob(entry.parts, { type: msg.mime })));
    } else {
      this.arm(msg.req, entry);
    }
  }
  dispose() {
    this.model.off("msg:custom", this.onMessage);
    for (const promise of this.urls.values()) promise.then((url) => URL.revokeObjectURL(url), () => {});
    this.urls.clear();
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new Error("view closed"));
    }
    this.pending.clear();
  }
}

/** While a view of a widget is on the page, hide that widget's static output (stills.py):
 * it is there for readers without a kernel. Returns the function that shows it again. */
function hideStill(id, el) {
  if (!id) return () => {};
  const root = el.getRootNode?.() ?? document;
  const host = root instanceof ShadowRoot ? root : document.head;
  const style = document.createElement("style");
  const mark = `[data-magicgif-still="${CSS.escape(id)}"]`;
  style.textContent = `${mark}{display:none !important}.jp-OutputArea-child:has(${mark}){display:none !important}`;
  host.append(style);
  return () => style.remove();
}

function caption(media) {
  const kb = media.size / 1024;
  const size = kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${Math.round(kb)} KB`;
  const cost = media.credits ? ` · ${media.credits} credits` : "";
  return `${media.format.toUpperCase()} · ${size} · ${media.filename}${cost}`;
}

function mediaElement(format, url, { thumb = false } = {}) {
  if (format === "gif") return h("img", { src: url, alt: thumb ? "" : "Generated animation", class: "mg-media" });
  const video = h("video", {
    src: url,
    autoplay: true,
    loop: true,
    muted: true,
    playsinline: true,
    controls: !thumb,
    class: "mg-media",
    "aria-label": thumb ? null : "Generated animation",
  });
  video.muted = true; // the attribute alone does not allow autoplay everywhere
  return video;
}

function render({ model, el, signal }) {
  const id = `mg-${newId()}-${++uid}`;
  const shared = sharedCache(model);
  const cache = shared.cache;
  const limits = model.get("limits");
  const cleanups = [() => shared.release(), hideStill(model.get("still_id"), el)];
  /** Listen to each of the space-separated events: Backbone takes such a list in one call,
   * but anywidget's model interface (marimo's, for one) takes a single event name. */
  const on = (names, fn) => {
    for (const name of names.split(/\s+/)) {
      model.on(name, fn);
      cleanups.push(() => model.off(name, fn));
    }
  };

  // ---- controls ----------------------------------------------------------------------
  const prompt = h("textarea", {
    id: `${id}-prompt`,
    class: "mg-prompt",
    rows: 3,
    placeholder: "Cute dancing cat, pixel art",
    "aria-describedby": `${id}-count`,
  });
  const format = h(
    "select",
    { id: `${id}-format`, class: "mg-select" },
    ...limits.formats.map((f) => h("option", { value: f, text: f.toUpperCase() })),
  );
  const name = h("input", { id: `${id}-name`, class: "mg-input", type: "text", placeholder: "optional" });
  const galleryBox = h("input", { id: `${id}-gallery`, type: "checkbox", class: "mg-checkbox" });
  const generate = h("button", { type: "button", class: "mg-button mg-primary", text: "Generate" });
  const cancel = h("button", { type: "button", class: "mg-button", text: "Cancel" });
  const badge = h("span", { class: "mg-badge", title: "No API token: animations are drawn locally, no AI, no credits" });
  const hint = h("div", {
    class: "mg-hint",
    text: "Sandbox: no API token is set, so animations are drawn locally (no AI, no credits). Set MAGIC_HOUR_API_TOKEN to use Magic Hour.",
  });
  const credits = h("span", { class: "mg-credits" });
  const bar = h("div", { class: "mg-bar-fill" });
  const progress = h(
    "div",
    { class: "mg-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, "aria-label": "Generation progress" },
    bar,
  );
  const statusText = h("span", { "aria-live": "polite" });
  const elapsedText = h("span", { class: "mg-elapsed" });
  const summaryText = h("span", { class: "mg-summary" });
  const statusLine = h("div", { class: "mg-status" }, statusText, elapsedText, summaryText);
  const alert = h("div", { class: "mg-alert", role: "alert" });
  const notice = h("div", { class: "mg-notice", role: "status" }); // what became of a job
  const stage = h("div", { class: "mg-stage" });
  const gallery = h("div", { class: "mg-gallery", role: "list", "aria-label": "Gallery" });
  const history = h("div", { class: "mg-history", role: "list", "aria-label": "History" });
  const counter = h("span", { class: "mg-count", id: `${id}-count` });

  const root = h(
    "div",
    { class: "magicgif" },
    h("div", { class: "mg-header" }, h("span", { class: "mg-title", text: "AI GIF generator" }), badge, credits),
    hint,
    h("div", { class: "mg-label" }, h("label", { for: prompt.id, text: "Prompt" }), counter),
    prompt,
    h(
      "div",
      { class: "mg-row" },
      h("div", { class: "mg-field" }, h("label", { class: "mg-label-text", for: format.id, text: "Format" }), format),
      h("div", { class: "mg-field mg-grow" }, h("label", { class: "mg-label-text", for: name.id, text: "Name" }), name),
      h(
        "div",
        { class: "mg-field mg-check", title: "Generate one animation per line of the prompt, as a gallery" },
        h("span", { class: "mg-label-text", "aria-hidden": "true", text: "Gallery" }),
        h("label", { class: "mg-check-label", for: galleryBox.id }, galleryBox, h("span", { text: "One per line" })),
      ),
      h("div", { class: "mg-actions" }, generate, cancel),
    ),
    h("div", { class: "mg-progress" }, progress, statusLine),
    alert,
    notice,
    stage,
    gallery,
    history,
  );
  el.append(root);
  cleanups.push(() => root.remove());

  // ---- view ← model ------------------------------------------------------------------
  const sync = () => {
    if (document.activeElement !== prompt) prompt.value = model.get("prompt");
    if (document.activeElement !== name) name.value = model.get("name");
    format.value = model.get("output_format");
    const galleryMode = model.get("gallery_mode");
    galleryBox.checked = galleryMode;
    galleryBox.disabled = model.get("running");
    prompt.placeholder = galleryMode ? "One prompt per line:\nCute dancing cat, pixel art\nA paper boat on a stormy sea" : "Cute dancing cat, pixel art";
    prompt.rows = galleryMode ? 5 : 3;
    generate.textContent = galleryMode ? "Generate gallery" : "Generate";
    const summary = model.get("summary");
    summaryText.textContent = galleryMode && summary ? ` · ${summary}` : "";
    const running = model.get("running");
    generate.disabled = running;
    cancel.disabled = !running;
    prompt.setAttribute("aria-busy", running ? "true" : "false");
    const sandbox = model.get("sandbox");
    badge.textContent = sandbox ? "sandbox" : "";
    badge.hidden = !sandbox;
    hint.hidden = !sandbox;
    const charged = model.get("credits_charged");
    credits.textContent = !sandbox && charged ? `${charged} credits charged` : "";
    updateCounter();
    const error = model.get("error");
    alert.textContent = error;
    alert.hidden = !error;
    const note = model.get("notice");
    notice.textContent = note;
    notice.hidden = !note;
    root.dataset.status = model.get("status");
  };

  // The API reports statuses only: between them the bar moves on time, learned from past jobs.
  // Times are taken on this page's clock when a change arrives (the kernel's may differ).
  // A view made mid-job or after it (a re-render) starts from the kernel's own durations.
  const clock = { phase: Date.now(), shown: 0, jobStamp: model.get("job_started") };
  clock.job = clock.phase - Math.max(0, model.get("phase_started") - model.get("job_started"));
  const onPhase = () => {
    clock.phase = Date.now();
  };
  const onJob = () => {
    clock.job = clock.phase = Date.now();
    clock.shown = 0;
    clock.jobStamp = model.get("job_started");
  };
  const shown = () => {
    const status = model.get("status");
    const base = model.get("progress");
    if (status !== "rendering") return base;
    const estimate = Math.max(0.5, model.get("render_estimate"));
    const elapsed = (Date.now() - clock.phase) / 1000;
    const fraction = elapsed <= estimate ? elapsed / estimate : 1 + Math.log1p((elapsed - estimate) / estimate) / 6;
    return Math.min(85, Math.max(base, 12 + 70 * Math.min(fraction, 1.04)));
  };
  let lastLabel = "";
  const tick = () => {
    const status = model.get("status");
    // Within a job the bar never moves back, whatever the job's end.
    clock.shown = status === "idle" ? 0 : Math.max(clock.shown, Math.round(shown()));
    const value = clock.shown;
    bar.style.width = `${value}%`;
    progress.setAttribute("aria-valuenow", String(value));
    progress.dataset.state = status;
    const active = model.get("running");
    const seconds = ((active ? Date.now() : clock.phase) - clock.job) / 1000;
    const label = LABELS[status] ?? status;
    if (label !== lastLabel) statusText.textContent = lastLabel = label; // announced once
    elapsedText.textContent = status === "idle" || !clock.jobStamp ? "" : ` · ${Math.max(0, seconds).toFixed(1)} s`;
  };
  const timer = setInterval(tick, 100);
  cleanups.push(() => clearInterval(timer));

  let shownKey = null;
  const showResult = () => {
    const media = model.get("media");
    if (!media || !media.key || media.key === shownKey) return;
    shownKey = media.key;
    cache.get(media.key).then(
      (url) => {
        if (shownKey !== media.key) return;
        const figure = h(
          "figure",
          { class: "mg-result" },
          mediaElement(media.format, url),
          h("figcaption", { text: caption(media) }),
        );
        stage.replaceChildren(figure);
      },
      (error) => {
        if (shownKey !== media.key) return;
        const retry = h("button", {
          type: "button",
          class: "mg-button",
          text: "Retry",
          onclick: () => {
            cache.forget(media.key);
            shownKey = null;
            stage.replaceChildren();
            showResult();
          },
        });
        stage.replaceChildren(
          h("div", { class: "mg-unavailable", role: "alert" }, h("p", { text: `The result could not be shown: ${error.message}.` }), retry),
        );
      },
    );
  };

  const download = (item) =>
    cache.get(item.key).then(
      (url) => {
        const link = h("a", { href: url, download: item.filename });
        document.body.append(link);
        link.click();
        link.remove();
      },
      (error) => {
        alert.textContent = `Download failed: ${error.message}`;
        alert.hidden = false;
      },
    );

  const fillThumb = (thumb, item) =>
    cache.get(item.key).then(
      (url) => thumb.replaceChildren(mediaElement(item.format, url, { thumb: true })),
      (error) =>
        thumb.replaceChildren(
          h("button", {
            type: "button",
            class: "mg-link",
            text: "Retry",
            title: error.message,
            "aria-label": `Retry showing ${item.filename}`,
            onclick: () => {
              cache.forget(item.key);
              fillThumb(thumb, item);
            },
          }),
        ),
    );
  const downloadButton = (item) =>
    h("button", {
      type: "button",
      class: "mg-link",
      text: "Download",
      "aria-label": `Download ${item.filename}`,
      onclick: () => download(item),
    });

  const renderHistory = () => {
    const items = model.get("history") || [];
    history.hidden = items.length === 0;
    history.replaceChildren(
      ...items.map((item) => {
        const thumb = h("div", { class: "mg-thumb" });
        fillThumb(thumb, item);
        return h(
          "div",
          { class: "mg-item", role: "listitem" },
          thumb,
          h("div", { class: "mg-item-text", title: item.prompt, text: item.prompt }),
          h("div", { class: "mg-item-meta", text: item.format.toUpperCase() }),
          h(
            "div",
            { class: "mg-item-actions" },
            h("button", {
              type: "button",
              class: "mg-link",
              text: "Reuse",
              "aria-label": `Reuse: ${item.prompt}`,
              onclick: () => {
                model.set({ prompt: item.prompt, output_format: item.format, name: item.name || "" });
                model.save_changes();
              },
            }),
            downloadButton(item),
          ),
        );
      }),
    );
  };

  const cards = new Map(); // index -> {card, key, status}: cards update in place
  const renderGallery = () => {
    const items = model.get("gallery") || [];
    gallery.hidden = items.length === 0;
    if (items.length !== cards.size || items.some((item) => !cards.has(item.index))) {
      cards.clear();
      gallery.replaceChildren();
    }
    for (const item of items) {
      let entry = cards.get(item.index);
      if (!entry) {
        const thumb = h("div", { class: "mg-thumb mg-card-thumb" });
        const state = h("div", { class: "mg-card-state" });
        const actions = h("div", { class: "mg-item-actions" });
        const card = h(
          "div",
          { class: "mg-card", role: "listitem" },
          thumb,
          h("div", { class: "mg-item-text", title: item.prompt, text: item.prompt }),
          state,
          actions,
        );
        entry = { card, thumb, state, actions, key: null, status: null };
        cards.set(item.index, entry);
        gallery.append(card);
      }
      if (entry.status === item.status && entry.key === (item.key || null)) continue;
      entry.status = item.status;
      entry.card.dataset.status = item.status;
      entry.state.textContent = item.error || LABELS[item.status] || item.status;
      entry.state.title = item.error || "";
      if (item.key && entry.key !== item.key) {
        entry.key = item.key;
        fillThumb(entry.thumb, item);
        entry.actions.replaceChildren(downloadButton(item));
      } else if (!item.key) {
        entry.thumb.replaceChildren(h("span", { class: "mg-card-wait", text: LABELS[item.status] || item.status }));
      }
    }
  };

  // ---- view → model ------------------------------------------------------------------
  const push = (key, value) => {
    model.set(key, value);
    model.save_changes();
  };
  const start = () => {
    push("prompt", prompt.value);
    push("name", name.value);
    // The settings travel with the request: a widget manager may hold back state updates
    // while earlier messages are pending, and a custom message would then overtake them.
    const settings = { prompt: prompt.value, name: name.value, output_format: format.value, gallery_mode: galleryBox.checked };
    model.send({ type: "generate", settings }); // the kernel checks the input and says what is wrong
    if (!prompt.value.trim()) prompt.focus();
  };
  const updateCounter = () => {
    if (model.get("gallery_mode")) {
      const lines = prompt.value.split("\n").filter((line) => line.trim());
      const long = lines.findIndex((line) => chars(line.trim()) > limits.prompt_max_chars);
      counter.textContent = long >= 0 ? `line ${long + 1} is over ${limits.prompt_max_chars} characters` : `${lines.length} ${lines.length === 1 ? "prompt" : "prompts"}`;
      counter.classList.toggle("mg-over", long >= 0 || lines.length > limits.gallery_max);
      return;
    }
    const count = chars(prompt.value);
    counter.textContent = `${count}/${limits.prompt_max_chars}`;
    counter.classList.toggle("mg-over", count > limits.prompt_max_chars);
  };
  prompt.addEventListener("input", () => {
    push("prompt", prompt.value);
    updateCounter();
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!model.get("running")) start();
    }
  });
  name.addEventListener("input", () => push("name", name.value));
  format.addEventListener("change", () => push("output_format", format.value));
  galleryBox.addEventListener("change", () => push("gallery_mode", galleryBox.checked));
  generate.addEventListener("click", start);
  cancel.addEventListener("click", () => model.send({ type: "cancel" }));

  // Keep the keyboard where the action is: Cancel while running, Generate after.
  let wasRunning = model.get("running");
  const moveFocus = () => {
    const running = model.get("running");
    if (running === wasRunning) return;
    wasRunning = running;
    const inside = root.contains(document.activeElement) || document.activeElement === document.body;
    if (!inside) return;
    if (running && (document.activeElement === generate || document.activeElement === document.body)) cancel.focus();
    else if (!running && (document.activeElement === cancel || document.activeElement === document.body)) generate.focus();
  };
  on("change:prompt change:name change:output_format change:running change:sandbox change:credits_charged change:error change:notice change:status", sync);
  on("change:running", moveFocus);
  on("change:phase_started", onPhase);
  on("change:job_started", onJob);
  on("change:media", showResult);
  on("change:history", renderHistory);
  on("change:gallery", renderGallery);
  on("change:gallery_mode change:summary", sync);
  sync();
  tick();
  showResult();
  renderHistory();
  renderGallery();

  const dispose = () => {
    for (const fn of cleanups.splice(0)) fn();
  };
  signal?.addEventListener("abort", dispose);
  return dispose;
}

export default { render };
