// @ts-check
// magicgif-widget front end: plain ES module for anywidget, no framework, no npm at runtime.
// State lives in the kernel's traits; the API's limits come from the `limits` trait, the bar's
// shape from `progress` and `progress_curve`; media arrives as binary message chunks, or
// base64 text chunks in hosts that drop binary buffers.
//
// A view is a list of parts (PARTS, at the end), each built by one function from a Context:
// its nodes, the model events it redraws on, and how. A new part (a list trait, a line of
// account facts) is one more function in that list.

/**
 * @typedef {object} Limits  What the front end shows of the API's rules (contract.py).
 * @property {string[]} formats
 * @property {number} prompt_max_chars
 * @property {number} gallery_max
 * @property {number} media_timeout_ms
 *
 * @typedef {object} MediaEntry  A result: the current one (`media`) or one in `history`.
 * @property {string} key  what the kernel serves its file by
 * @property {string} project_id
 * @property {string} prompt
 * @property {string} name
 * @property {string} format
 * @property {string} mime
 * @property {string} filename
 * @property {number} size  bytes
 * @property {number} credits
 *
 * @typedef {object} Card  One prompt of a gallery.
 * @property {number} index
 * @property {string} prompt
 * @property {string} status
 * @property {string} project_id
 * @property {string} key  empty until its file is ready
 * @property {string} [format]
 * @property {string} [mime]
 * @property {string} [filename]
 * @property {string} [error]
 *
 * @typedef {object} EarlierJob  A job from an earlier session, found in the user's journal
 *   (widget/earlier.py). `id` is what Collect and Dismiss send.
 * @property {string} id
 * @property {string} project_id  empty for an unknown job (its create's answer was lost)
 * @property {string} prompt
 * @property {string} name
 * @property {string} format
 * @property {string} age  e.g. "started 2 min ago"
 * @property {string} meta  format, age, where it came from, what it cost
 * @property {string} status  what the journal last heard of it
 * @property {"collect" | "unknown" | "gallery"} kind  a gallery card stands for a whole batch
 * @property {number} [count]  a gallery's jobs still to collect
 * @property {number} [never_sent]  a gallery's items never sent (Resume gallery asks first)
 *
 * @typedef {object} Confirm  A question asked before paying ({} if none): a Generate that
 *   repeats a running job (duplicate), a large gallery (cost), or a Resume gallery that would
 *   create items never sent (resume). The labels come from the kernel (widget/earlier.py).
 * @property {"duplicate" | "cost" | "resume"} [kind]
 * @property {string} [id]  the running job (duplicate) or the gallery (resume)
 * @property {string} [text]
 * @property {string} [yes]  the paying answer's label
 * @property {string} [no]  the other answer's label
 *
 * @typedef {object} Account  What a job costs and what is left (widget/account.py).
 * @property {"sandbox" | "reading" | "ok" | "low" | "failed" | "rejected"} state
 * @property {number | null} credits
 * @property {number} cost
 * @property {string} text
 *
 * @typedef {object} Traits  The model's synced traits (GifWidget, widget/gif_widget.py).
 * @property {string} prompt
 * @property {string} output_format
 * @property {string} name
 * @property {boolean} gallery_mode
 * @property {string} status
 * @property {boolean} running
 * @property {number} progress  percent: the bar's floor
 * @property {[number, number][]} progress_curve  [seconds into the phase, percent] points
 * @property {number} phase_started  ms since the epoch, the kernel's clock
 * @property {number} job_started
 * @property {number} render_estimate  seconds
 * @property {string} error
 * @property {string} notice
 * @property {string} project_id
 * @property {number} credits_charged
 * @property {string} summary
 * @property {MediaEntry | {}} media
 * @property {MediaEntry[]} history
 * @property {Card[]} gallery
 * @property {EarlierJob[]} earlier_jobs
 * @property {Confirm} confirm
 * @property {Account} account
 * @property {boolean} sandbox
 * @property {Limits} limits
 * @property {string} still_id
 * @property {{after_ms?: number, text?: string}} unanswered  what to say when the kernel
 *   does not answer the view's hello
 *
 * @typedef {import("@anywidget/types").AnyModel<Traits>} Model  anywidget's model (Backbone's
 *   in Jupyter, its own in marimo), typed by the package anywidget publishes
 *
 * @typedef {object} Context  What every part of one view shares.
 * @property {Model} model
 * @property {MediaCache} cache
 * @property {Limits} limits
 * @property {string} id  prefix of this view's element ids
 * @property {(names: string, fn: () => void) => void} on  listen to space-separated events
 * @property {(fn: () => void) => void} cleanup  run `fn` when the view goes
 * @property {(message: string) => void} alert  show a message in the alert area
 * @property {() => HTMLElement} root  the view's outer element
 * @property {() => void} generate  send Generate with the form's values, confirmed (the
 *   "Generate anyway" answer to `confirm`)
 *
 * @typedef {object} Part  A piece of the view.
 * @property {Node[]} nodes  its elements, in page order
 * @property {string} [events]  the model events it redraws on, space-separated
 * @property {() => void} [update]  redraw from the model (also once, at the start)
 */

const LABELS = {
  idle: "Ready",
  creating: "Sending…",
  checking: "Checking the balance…",
  collecting: "Checking the job…",
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
/** @param {string} text @returns {number} code points, as the API counts them */
const chars = (text) => [...text].length;
/** @param {string} status @returns {string} */
const label = (status) => LABELS[/** @type {keyof LABELS} */ (status)] ?? status;

/**
 * An element with attributes, listeners (`onclick`…) and children.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
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

/** @param {HTMLElement} el @param {string} text shown, or the element hidden when empty */
function showText(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

// ---- media from the kernel ---------------------------------------------------------------

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

/** Revoke a Blob URL once it exists (a failed fetch made none). @param {Promise<string>} url */
const revoke = (url) => url.then((made) => URL.revokeObjectURL(made), () => {});

/** Fetches media by key from the kernel; chunks are reassembled into one Blob URL.
 * Every request has a deadline, renewed by each chunk: a silent kernel ends in an error. */
class MediaCache {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Map<string, Promise<string>>} key -> Blob URL */
    this.urls = new Map();
    /** @type {Map<string, Pending>} req -> what is being assembled */
    this.pending = new Map();
    /** @param {MediaChunk | MediaError} msg @param {(ArrayBuffer | DataView)[] | undefined} buffers */
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
  /** Drop a failed key so the next `get` asks the kernel again (the Retry button).
   * @param {string} key */
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
    const waitMs = this.model.get("limits").media_timeout_ms;
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
      entry.resolve(URL.createObjectURL(new Blob(/** @type {BlobPart[]} */ (entry.parts), { type: msg.mime })));
    } else {
      this.arm(msg.req, entry);
    }
  }
  /** Revoke and drop each URL whose key the traits no longer show (the kernel's store has
   * dropped its file too), so a long session does not keep every result it ever drew.
   * @param {Iterable<string>} keys */
  retain(keys) {
    const keep = new Set(keys);
    for (const [key, promise] of [...this.urls]) {
      if (keep.has(key)) continue;
      this.urls.delete(key);
      revoke(promise);
    }
  }
  dispose() {
    this.model.off("msg:custom", this.onMessage);
    for (const promise of this.urls.values()) revoke(promise);
    this.urls.clear();
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(new Error("view closed"));
    }
    this.pending.clear();
  }
}

/** The media keys the traits show: the result, the history, the gallery's finished cards.
 * @param {MediaEntry | {}} media @param {MediaEntry[]} history @param {Card[]} gallery
 * @returns {string[]} */
function shownKeys(media, history, gallery) {
  const keys = "key" in media && media.key ? [media.key] : [];
  for (const item of [...history, ...gallery]) if (item.key) keys.push(item.key);
  return keys;
}

/** @typedef {{cache: MediaCache, views: number, timer: any, closed: boolean, rescue: (() => void) | null}} Shared */

/** @type {WeakMap<Model, Shared>} views of one model share media */
const caches = new WeakMap();

/** This model's media cache, shared by its views; `release` when a view goes.
 * @param {Model} model @returns {{cache: MediaCache, shared: Shared, release: () => void}} */
function sharedCache(model) {
  let entry = caches.get(model);
  if (!entry) {
    /** @type {Shared} */
    const created = { cache: new MediaCache(model), views: 0, timer: null, closed: false, rescue: null };
    // The kernel says so before it closes the widget: no view draws itself again after that.
    model.on("msg:custom", (/** @type {any} */ msg) => {
      if (msg?.type !== "closed") return;
      created.closed = true;
      created.rescue?.();
    });
    const retain = () =>
      created.cache.retain(shownKeys(model.get("media"), model.get("history"), model.get("gallery")));
    for (const name of ["media", "history", "gallery"]) model.on(`change:${name}`, retain);
    caches.set(model, created);
    entry = created;
  }
  const shared = entry;
  clearTimeout(shared.timer);
  shared.views += 1;
  return {
    cache: shared.cache,
    shared,
    release() {
      shared.views -= 1;
      if (shared.views > 0) return;
      // A view replaced by a re-render comes back at once: keep the media a little while.
      shared.timer = setTimeout(() => {
        if (shared.views === 0 && !shared.rescue) {
          shared.cache.dispose();
          caches.delete(model);
        }
      }, 10_000);
    },
  };
}

// ---- views a host removed ------------------------------------------------------------------
// Classic Notebook (6.5, widgetsnbextension 3.6, Colab's stack) redraws every widget output
// from JSON once its widget manager has loaded. A view drawn before that is removed, the
// output's model id is blanked, and the redrawn outputs forget their display ids, so updates
// of the static output are dropped. Any host may remove a view while its cell stays.

const RESCUE_CHECKS_MS = [300, 600]; // no view for this long (twice) while the cell stays

/** The static outputs of this widget on the page. @param {string} id @returns {HTMLElement[]} */
function stillsOf(id) {
  if (!id) return [];
  const found = document.querySelectorAll(`[data-magicgif-still="${CSS.escape(id)}"]`);
  return [...found].filter(
    /** @returns {node is HTMLElement} */ (node) => node instanceof HTMLElement && node.isConnected,
  );
}

/** Classic Notebook: tell the cell's output area again which output a display id updates (it
 * forgets when it redraws from JSON). Returns whether it had forgotten; no-op elsewhere.
 * @param {HTMLElement} still @returns {boolean} */
function relinkDisplay(still) {
  const displayId = still.dataset.magicgifDisplay;
  const $ = /** @type {any} */ (window).jQuery;
  const wrapper = still.closest(".output_area");
  const cellNode = still.closest(".cell");
  if (!displayId || typeof $ !== "function" || !wrapper || !cellNode) return false;
  const area = $(cellNode).data("cell")?.output_area;
  const targets = area?._display_id_targets;
  if (!targets || !Array.isArray(area.outputs)) return false;
  const mark = `data-magicgif-display="${displayId}"`;
  const index = area.outputs.findIndex((/** @type {any} */ out) => String(out?.data?.["text/html"] ?? "").includes(mark));
  if (index < 0) return false;
  const known = targets[displayId] ?? [];
  if (known.some((/** @type {any} */ t) => t.index === index && (t.element?.[0] ?? t.element) === wrapper)) return false;
  targets[displayId] = [...known.filter((/** @type {any} */ t) => t.index !== index), { index, element: $(wrapper) }];
  return true;
}

/** After a view went: if no view of the widget came back and its static output is still on
 * the page, draw a view just above that output.
 * @param {Model} model @param {Shared} shared @param {number} [step] */
function rescueLater(model, shared, step = 0) {
  setTimeout(() => {
    if (shared.closed || shared.views > 0 || shared.rescue) return;
    const stills = stillsOf(model.get("still_id"));
    if (stills.length === 0) return; // the cell went (deleted, cleared, run again)
    if (step + 1 < RESCUE_CHECKS_MS.length) return rescueLater(model, shared, step + 1);
    rescue(model, shared, stills[stills.length - 1]);
  }, RESCUE_CHECKS_MS[step]);
}

/** @param {Model} model @param {Shared} shared @param {HTMLElement} still */
function rescue(model, shared, still) {
  const anchor = still.closest(".output_area") ?? still.closest(".jp-OutputArea-child") ?? still;
  const box = document.createElement("div");
  box.dataset.magicgifRescued = "";
  let el = box;
  if (anchor.classList.contains("output_area")) {
    // classic Notebook's output row: a prompt column, then the output itself
    box.className = "output_area";
    el = document.createElement("div");
    el.className = "output_subarea jupyter-widgets-view";
    box.append(Object.assign(document.createElement("div"), { className: "prompt" }), el);
  }
  anchor.before(box);
  const dispose = render({ model, el, rescued: true });
  const watch = setInterval(() => !box.isConnected && end(), 1000);
  const end = () => {
    clearInterval(watch);
    shared.rescue = null;
    dispose();
    box.remove();
  };
  shared.rescue = end;
}

/** While a view of a widget is on the page, hide that widget's static output (stills.py):
 * it is there for readers without a kernel. Returns the function that shows it again.
 * @param {string} id @param {HTMLElement} el @returns {() => void} */
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

/** @param {MediaEntry} media @returns {string} */
function caption(media) {
  const kb = media.size / 1024;
  const size = kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${Math.round(kb)} KB`;
  const cost = media.credits ? ` · ${media.credits} credits` : "";
  return `${media.format.toUpperCase()} · ${size} · ${media.filename}${cost}`;
}

/** An <img> for a GIF, a looping muted <video> otherwise.
 * @param {string} format @param {string} url @param {{thumb?: boolean}} [options] @returns {HTMLElement} */
function mediaElement(format, url, { thumb = false } = {}) {
  if (format === "gif") return h("img", { src: url, alt: thumb ? "" : "Generated animation", class: "mg-media" });
  const video = /** @type {HTMLVideoElement} */ (
    h("video", {
      src: url,
      autoplay: true,
      loop: true,
      muted: true,
      playsinline: true,
      controls: !thumb,
      class: "mg-media",
      "aria-label": thumb ? null : "Generated animation",
    })
  );
  video.muted = true; // the attribute alone does not allow autoplay everywhere
  return video;
}

/** Fill `thumb` with the item's media, or a Retry link if it cannot be fetched.
 * @param {Context} ctx @param {HTMLElement} thumb @param {MediaEntry | Card} item */
function fillThumb(ctx, thumb, item) {
  ctx.cache.get(item.key).then(
    (url) => thumb.replaceChildren(mediaElement(item.format || "", url, { thumb: true })),
    (error) =>
      thumb.replaceChildren(
        h("button", {
          type: "button",
          class: "mg-link",
          text: "Retry",
          title: error.message,
          "aria-label": `Retry showing ${item.filename}`,
          onclick: () => {
            ctx.cache.forget(item.key);
            fillThumb(ctx, thumb, item);
          },
        }),
      ),
  );
}

/** A button that saves the item's file through the browser.
 * @param {Context} ctx @param {MediaEntry | Card} item @returns {HTMLElement} */
function downloadButton(ctx, item) {
  const save = () =>
    ctx.cache.get(item.key).then(
      (url) => {
        const link = h("a", { href: url, download: item.filename });
        document.body.append(link);
        link.click();
        link.remove();
      },
      (error) => ctx.alert(`Download failed: ${error.message}`),
    );
  return h("button", {
    type: "button",
    class: "mg-link",
    text: "Download",
    "aria-label": `Download ${item.filename}`,
    onclick: save,
  });
}

// ---- the parts of a view, top to bottom ---------------------------------------------------

/** The title, the sandbox badge, and what the last job cost.
 * @param {Context} ctx @returns {Part} */
function header(ctx) {
  const { model } = ctx;
  const badge = h("span", { class: "mg-badge", title: "No API token: animations are drawn locally, no AI, no credits" });
  const credits = h("span", { class: "mg-credits" });
  const update = () => {
    const sandbox = model.get("sandbox");
    showText(badge, sandbox ? "sandbox" : "");
    const charged = model.get("credits_charged");
    credits.textContent = !sandbox && charged ? `${charged} credits charged` : "";
  };
  const el = h("div", { class: "mg-header" }, h("span", { class: "mg-title", text: "AI GIF generator" }), badge, credits);
  return { nodes: [el], events: "change:sandbox change:credits_charged", update };
}

/** What a GIF costs and what is left, or why the balance is unknown; on the sandbox, what
 * the sandbox is (the kernel's sentences).
 * @param {Context} ctx @returns {Part} */
function accountLine(ctx) {
  const line = h("div", { class: "mg-account" });
  const update = () => {
    const account = ctx.model.get("account") || {};
    showText(line, account.text || "");
    line.dataset.state = account.state || "";
  };
  return { nodes: [line], events: "change:account", update };
}

/** Jobs from earlier sessions that may still give files: Collect (no new job, no charge) or
 * Dismiss; an unknown job (its id was lost) can only be dismissed. @param {Context} ctx @returns {Part} */
function earlierJobs(ctx) {
  const { model, id } = ctx;
  const heading = h("span", { class: "mg-earlier-title", id: `${id}-earlier`, text: "Earlier jobs" });
  const hint = h("span", { class: "mg-earlier-hint", id: `${id}-earlier-hint`, text: "Collect downloads a job already paid for: nothing new is made or charged." });
  const list = h("div", { class: "mg-earlier-list", role: "list", "aria-labelledby": heading.id, "aria-describedby": hint.id });
  const section = h("div", { class: "mg-earlier" }, h("div", { class: "mg-earlier-head" }, heading, hint), list);
  /** @param {EarlierJob} job */
  const row = (job) => {
    const what = job.prompt || "an untitled job";
    const buttons = [];
    if (job.kind === "collect" || job.kind === "gallery") {
      const label = job.kind === "gallery" ? `Collect ${job.count ?? ""}`.trim() : "Collect";
      buttons.push(
        h("button", {
          type: "button",
          class: "mg-button mg-primary mg-small",
          text: label,
          "aria-label": `${label}: ${what}`,
          "data-action": "collect",
          onclick: () => model.send({ type: "collect", id: job.id }),
        }),
      );
    }
    if (job.kind === "gallery" && job.never_sent) {
      buttons.push(
        h("button", {
          type: "button",
          class: "mg-button mg-small",
          text: "Resume gallery",
          "aria-label": `Resume gallery: ${what}`,
          "data-action": "collect",
          onclick: () => model.send({ type: "resume_gallery", id: job.id }),
        }),
      );
    }
    buttons.push(
      h("button", {
        type: "button",
        class: "mg-button mg-small",
        text: "Dismiss",
        "aria-label": `Dismiss: ${what}`,
        onclick: () => model.send({ type: "dismiss", id: job.id }),
      }),
    );
    return h(
      "div",
      { class: "mg-earlier-card", role: "listitem", "data-kind": job.kind, "data-id": job.id },
      h(
        "div",
        { class: "mg-earlier-text" },
        h("div", { class: "mg-earlier-prompt", title: what, text: what }),
        h("div", { class: "mg-earlier-meta", text: job.meta }),
        h("div", { class: "mg-earlier-status", text: job.status }),
      ),
      h("div", { class: "mg-earlier-actions" }, ...buttons),
    );
  };
  const update = () => {
    const jobs = model.get("earlier_jobs") || [];
    const running = model.get("running");
    const active = document.activeElement;
    const focusAt = list.contains(active) ? [...list.children].findIndex((card) => card.contains(active)) : -1;
    list.replaceChildren(...jobs.map(row));
    for (const button of list.querySelectorAll('[data-action="collect"]')) /** @type {HTMLButtonElement} */ (button).disabled = running;
    section.hidden = jobs.length === 0;
    // A card that went (dismissed, collected) takes the keyboard to its neighbour.
    if (focusAt >= 0 && !list.contains(document.activeElement)) {
      const cards = [...list.children];
      const next = cards[Math.min(focusAt, cards.length - 1)];
      /** @type {HTMLElement | null | undefined} */ (next?.querySelector("button:not(:disabled)"))?.focus();
    }
  };
  return { nodes: [section], events: "change:earlier_jobs change:running", update };
}

/** Ctrl+Enter (Cmd+Enter on a Mac) in the prompt generates; plain Enter is a new line (a
 * gallery's next prompt). @param {{key: string, ctrlKey: boolean, metaKey: boolean, isComposing?: boolean}} event */
const isSubmitKey = (event) => event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing;

/** Prompt, format, name, gallery mode, Generate and Cancel. @param {Context} ctx @returns {Part} */
function form(ctx) {
  const { model, limits, id } = ctx;
  const counter = h("span", { class: "mg-count", id: `${id}-count` });
  const prompt = /** @type {HTMLTextAreaElement} */ (
    h("textarea", { id: `${id}-prompt`, class: "mg-prompt", rows: 3, "aria-describedby": counter.id })
  );
  const format = /** @type {HTMLSelectElement} */ (
    h("select", { id: `${id}-format`, class: "mg-select" }, ...limits.formats.map((f) => h("option", { value: f, text: f.toUpperCase() })))
  );
  const name = /** @type {HTMLInputElement} */ (h("input", { id: `${id}-name`, class: "mg-input", type: "text", placeholder: "optional" }));
  const galleryBox = /** @type {HTMLInputElement} */ (h("input", { id: `${id}-gallery`, type: "checkbox", class: "mg-checkbox" }));
  const generate = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "mg-button mg-primary", text: "Generate" }));
  const cancel = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "mg-button", text: "Cancel" }));

  /** @template {keyof Traits} K @param {K} key @param {Traits[K]} value */
  const push = (key, value) => {
    model.set(key, value);
    model.save_changes();
  };
  /** @param {{confirmed?: boolean}} [options] */
  const start = ({ confirmed = false } = {}) => {
    push("prompt", prompt.value);
    push("name", name.value);
    // The settings travel with the request: a widget manager may hold back state updates
    // while earlier messages are pending, and a custom message would then overtake them.
    const settings = { prompt: prompt.value, name: name.value, output_format: format.value, gallery_mode: galleryBox.checked };
    // The kernel checks the input and the balance, and says what is wrong.
    model.send(confirmed ? { type: "generate", settings, confirmed: true } : { type: "generate", settings });
    if (!prompt.value.trim()) prompt.focus();
  };
  ctx.generate = () => start({ confirmed: true });
  const count = () => updateCounter(counter, prompt.value, model.get("gallery_mode"), limits);
  prompt.addEventListener("input", () => {
    push("prompt", prompt.value);
    count();
  });
  prompt.addEventListener("keydown", (event) => {
    if (isSubmitKey(event)) {
      event.preventDefault();
      if (!model.get("running")) start();
    }
  });
  name.addEventListener("input", () => push("name", name.value));
  format.addEventListener("change", () => push("output_format", format.value));
  galleryBox.addEventListener("change", () => push("gallery_mode", galleryBox.checked));
  generate.addEventListener("click", () => start());
  cancel.addEventListener("click", () => model.send({ type: "cancel" }));
  const follow = followFocus(ctx, generate, cancel);

  const update = () => {
    if (document.activeElement !== prompt) prompt.value = model.get("prompt");
    if (document.activeElement !== name) name.value = model.get("name");
    format.value = model.get("output_format");
    const galleryMode = model.get("gallery_mode");
    const running = model.get("running");
    galleryBox.checked = galleryMode;
    galleryBox.disabled = running;
    prompt.placeholder = galleryMode ? "One prompt per line:\nCute dancing cat, pixel art\nA paper boat on a stormy sea" : "Cute dancing cat, pixel art";
    prompt.rows = galleryMode ? 5 : 3;
    generate.textContent = galleryMode ? "Generate gallery" : "Generate";
    generate.disabled = running;
    cancel.disabled = !running;
    prompt.setAttribute("aria-busy", running ? "true" : "false");
    count();
    follow(); // after the buttons' state: a disabled button takes no focus
  };
  const field = (/** @type {string} */ cls, /** @type {HTMLElement} */ control, /** @type {string} */ text) =>
    h("div", { class: cls }, h("label", { class: "mg-label-text", for: control.id, text }), control);
  const nodes = [
    h("div", { class: "mg-label" }, h("label", { for: prompt.id, text: "Prompt" }), counter),
    prompt,
    h(
      "div",
      { class: "mg-row" },
      field("mg-field", format, "Format"),
      field("mg-field mg-grow", name, "Name"),
      h(
        "div",
        { class: "mg-field mg-check", title: "Generate one animation per line of the prompt, as a gallery" },
        h("span", { class: "mg-label-text", "aria-hidden": "true", text: "Gallery" }),
        h("label", { class: "mg-check-label", for: galleryBox.id }, galleryBox, h("span", { text: "One per line" })),
      ),
      h("div", { class: "mg-actions" }, generate, cancel),
    ),
  ];
  return { nodes, events: "change:prompt change:name change:output_format change:running change:gallery_mode", update };
}

/** Asked instead of a create that would repeat a job still running at Magic Hour: pay for
 * another (Generate anyway) or wait for that one (a Collect). The keyboard moves to the safe
 * answer when the question appears. @param {Context} ctx @returns {Part} */
function confirmNotice(ctx) {
  const { model, id } = ctx;
  const text = h("p", { class: "mg-confirm-text", id: `${id}-confirm` });
  /** The paying answer: Generate again (duplicate, cost), or create the never-sent items. */
  const pay = () => {
    const question = model.get("confirm") || {};
    if (question.kind === "resume") model.send({ type: "resume_gallery", id: question.id, confirmed: true });
    else ctx.generate();
  };
  /** The safe answer: wait for the running job, collect only, or not now. */
  const safe = () => {
    const question = model.get("confirm") || {};
    if (question.kind === "cost") model.send({ type: "confirm_no" });
    else model.send({ type: "collect", id: question.id });
  };
  const again = h("button", { type: "button", class: "mg-button", text: "Generate anyway", onclick: pay });
  const wait = h("button", { type: "button", class: "mg-button mg-primary", text: "Wait for that one", onclick: safe });
  const box = h(
    "div",
    { class: "mg-confirm", role: "alertdialog", "aria-labelledby": text.id },
    text,
    h("div", { class: "mg-actions" }, again, wait),
  );
  let asked = "";
  const update = () => {
    const question = model.get("confirm") || {};
    const shown = question.text || "";
    text.textContent = shown;
    again.textContent = question.yes || "Generate anyway";
    wait.textContent = question.no || "Wait for that one";
    box.hidden = !shown;
    if (shown && shown !== asked) {
      const active = document.activeElement;
      if (active === document.body || ctx.root().contains(active)) wait.focus();
    }
    asked = shown;
  };
  return { nodes: [box], events: "change:confirm", update };
}

/** The prompt's length against the limit; in gallery mode, its lines and the first too long.
 * @param {HTMLElement} counter @param {string} text @param {boolean} galleryMode @param {Limits} limits */
function updateCounter(counter, text, galleryMode, limits) {
  const max = limits.prompt_max_chars;
  if (galleryMode) {
    const lines = text.split("\n").filter((line) => line.trim());
    const long = lines.findIndex((line) => chars(line.trim()) > max);
    counter.textContent = long >= 0 ? `line ${long + 1} is over ${max} characters` : `${lines.length} ${lines.length === 1 ? "prompt" : "prompts"}`;
    counter.classList.toggle("mg-over", long >= 0 || lines.length > limits.gallery_max);
    return;
  }
  const count = chars(text);
  counter.textContent = `${count}/${max}`;
  counter.classList.toggle("mg-over", count > max);
}

/** Keep the keyboard where the action is: Cancel while running, Generate after.
 * @param {Context} ctx @param {HTMLElement} generate @param {HTMLElement} cancel @returns {() => void} */
function followFocus(ctx, generate, cancel) {
  let wasRunning = ctx.model.get("running");
  return () => {
    const running = ctx.model.get("running");
    if (running === wasRunning) return;
    wasRunning = running;
    const active = document.activeElement;
    if (!(ctx.root().contains(active) || active === document.body)) return;
    if (running && (active === generate || active === document.body)) cancel.focus();
    else if (!running && (active === cancel || active === document.body)) generate.focus();
  };
}

/** The bar, the status (announced once per change), the elapsed time and a gallery's summary.
 * Between status reports the bar follows the kernel's `progress_curve`; times are taken on this
 * page's clock when a change arrives (the kernel's may differ), and a view made mid-job or
 * after it starts from the kernel's own durations. @param {Context} ctx @returns {Part} */
function progressLine(ctx) {
  const { model } = ctx;
  const fill = h("div", { class: "mg-bar-fill" });
  const bar = h(
    "div",
    { class: "mg-bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, "aria-label": "Generation progress" },
    fill,
  );
  const statusText = h("span", { "aria-live": "polite" });
  const elapsedText = h("span", { class: "mg-elapsed" });
  const summaryText = h("span", { class: "mg-summary" });
  const clock = { phase: Date.now(), job: 0, shown: 0, jobStamp: model.get("job_started") };
  clock.job = clock.phase - Math.max(0, model.get("phase_started") - model.get("job_started"));
  ctx.on("change:phase_started", () => {
    clock.phase = Date.now();
  });
  ctx.on("change:job_started", () => {
    clock.job = clock.phase = Date.now();
    clock.shown = 0;
    clock.jobStamp = model.get("job_started");
  });
  let lastLabel = "";
  const tick = () => {
    const status = model.get("status");
    // Within a job the bar never moves back, whatever the job's end.
    const now = Math.round(barValue(model, (Date.now() - clock.phase) / 1000));
    clock.shown = status === "idle" ? 0 : Math.max(clock.shown, now);
    fill.style.width = `${clock.shown}%`;
    bar.setAttribute("aria-valuenow", String(clock.shown));
    bar.dataset.state = status;
    const seconds = ((model.get("running") ? Date.now() : clock.phase) - clock.job) / 1000;
    const text = label(status);
    if (text !== lastLabel) statusText.textContent = lastLabel = text; // announced once
    elapsedText.textContent = status === "idle" || !clock.jobStamp ? "" : ` · ${Math.max(0, seconds).toFixed(1)} s`;
  };
  const timer = setInterval(tick, 100);
  ctx.cleanup(() => clearInterval(timer));
  const update = () => {
    const summary = model.get("summary");
    summaryText.textContent = model.get("gallery_mode") && summary ? ` · ${summary}` : "";
    tick();
  };
  const el = h("div", { class: "mg-progress" }, bar, h("div", { class: "mg-status" }, statusText, elapsedText, summaryText));
  return { nodes: [el], events: "change:gallery_mode change:summary", update };
}

/** Where the bar stands `seconds` into the phase: the kernel's `progress`, or further along
 * `progress_curve` while a job runs. @param {Model} model @param {number} seconds @returns {number} */
function barValue(model, seconds) {
  const floor = model.get("progress");
  const curve = model.get("progress_curve") || [];
  if (!model.get("running") || curve.length === 0) return floor;
  return Math.max(floor, along(curve, seconds));
}

/** The polyline through `points` ([x, y], x ascending) at `x`, flat beyond its ends.
 * @param {[number, number][]} points @param {number} x @returns {number} */
function along(points, x) {
  let [x0, y0] = points[0];
  if (x <= x0) return y0;
  for (const [x1, y1] of points.slice(1)) {
    if (x <= x1) return x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    [x0, y0] = [x1, y1];
  }
  return y0;
}

/** The alert area (errors) and the notice (what became of a job, a retry under way).
 * @param {Context} ctx @returns {Part} */
function messages(ctx) {
  const { model } = ctx;
  const alert = h("div", { class: "mg-alert", role: "alert" });
  const notice = h("div", { class: "mg-notice", role: "status" });
  ctx.alert = (message) => showText(alert, message);
  const update = () => {
    showText(alert, model.get("error"));
    showText(notice, model.get("notice"));
  };
  return { nodes: [alert, notice], events: "change:error change:notice change:status change:running", update };
}

/** Says so when the kernel does not answer this view's hello: its widget is gone from Python
 * (a page reload after the install, a kernel restart) or the kernel is busy. Any reply,
 * progress or status from the kernel clears it.
 * @param {Context} ctx @returns {Part} */
function kernelAnswer(ctx) {
  const { model } = ctx;
  const { after_ms: afterMs, text = "" } = model.get("unanswered") || {};
  if (!afterMs) return { nodes: [] }; // a kernel that sent no such fact cannot answer a hello
  const box = h("div", { class: "mg-alert mg-unanswered", role: "alert", hidden: "" });
  let answered = false;
  const heard = () => {
    answered = true;
    box.hidden = true;
  };
  /** @param {{type?: string}} msg */
  const onMsg = (msg) => msg && msg.type === "hello" && heard();
  model.on("msg:custom", onMsg);
  ctx.cleanup(() => model.off("msg:custom", onMsg));
  ctx.on("change:status change:progress change:notice change:error", heard);
  const timer = setTimeout(() => {
    if (answered) return;
    showText(box, text);
    box.hidden = false;
  }, afterMs);
  ctx.cleanup(() => clearTimeout(timer));
  model.send({ type: "hello" });
  return { nodes: [box] };
}

/** The current result, large, with its caption; or why it cannot be shown, and Retry.
 * @param {Context} ctx @returns {Part} */
function resultStage(ctx) {
  const { model, cache } = ctx;
  const stage = h("div", { class: "mg-stage" });
  /** @type {string | null} */
  let shownKey = null;
  const update = () => {
    const media = /** @type {MediaEntry} */ (model.get("media"));
    if (!media || !media.key || media.key === shownKey) return;
    shownKey = media.key;
    cache.get(media.key).then(
      (url) => {
        if (shownKey !== media.key) return;
        stage.replaceChildren(h("figure", { class: "mg-result" }, mediaElement(media.format, url), h("figcaption", { text: caption(media) })));
      },
      (error) => {
        if (shownKey !== media.key) return;
        const retry = () => {
          cache.forget(media.key);
          shownKey = null;
          stage.replaceChildren();
          update();
        };
        stage.replaceChildren(
          h(
            "div",
            { class: "mg-unavailable", role: "alert" },
            h("p", { text: `The result could not be shown: ${error.message}.` }),
            h("button", { type: "button", class: "mg-button", text: "Retry", onclick: retry }),
          ),
        );
      },
    );
  };
  return { nodes: [stage], events: "change:media", update };
}

/** A gallery's cards, one per prompt line, updated in place as their jobs move on.
 * @param {Context} ctx @returns {Part} */
function galleryCards(ctx) {
  const gallery = h("div", { class: "mg-gallery", role: "list", "aria-label": "Gallery" });
  /** @type {Map<number, {card: HTMLElement, thumb: HTMLElement, state: HTMLElement, actions: HTMLElement, key: string | null, status: string | null}>} */
  const cards = new Map();
  const update = () => {
    const items = ctx.model.get("gallery") || [];
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
        const text = h("div", { class: "mg-item-text", title: item.prompt, text: item.prompt });
        const card = h("div", { class: "mg-card", role: "listitem" }, thumb, text, state, actions);
        entry = { card, thumb, state, actions, key: null, status: null };
        cards.set(item.index, entry);
        gallery.append(card);
      }
      if (entry.status === item.status && entry.key === (item.key || null)) continue;
      entry.status = item.status;
      entry.card.dataset.status = item.status;
      entry.state.textContent = item.error || label(item.status);
      entry.state.title = item.error || "";
      if (item.key && entry.key !== item.key) {
        entry.key = item.key;
        fillThumb(ctx, entry.thumb, item);
        entry.actions.replaceChildren(downloadButton(ctx, item));
      } else if (!item.key) {
        entry.thumb.replaceChildren(h("span", { class: "mg-card-wait", text: label(item.status) }));
      }
    }
  };
  return { nodes: [gallery], events: "change:gallery", update };
}

/** Earlier results, newest first: a thumbnail, Reuse (its settings back in the form), Download.
 * @param {Context} ctx @returns {Part} */
function historyStrip(ctx) {
  const { model } = ctx;
  const history = h("div", { class: "mg-history", role: "list", "aria-label": "History" });
  /** @param {MediaEntry} item */
  const reuse = (item) => {
    model.set("prompt", item.prompt);
    model.set("output_format", item.format);
    model.set("name", item.name || "");
    model.save_changes();
  };
  /** @param {MediaEntry} item */
  const row = (item) => {
    const thumb = h("div", { class: "mg-thumb" });
    fillThumb(ctx, thumb, item);
    return h(
      "div",
      { class: "mg-item", role: "listitem" },
      thumb,
      h("div", { class: "mg-item-text", title: item.prompt, text: item.prompt }),
      h("div", { class: "mg-item-meta", text: item.format.toUpperCase() }),
      h(
        "div",
        { class: "mg-item-actions" },
        h("button", { type: "button", class: "mg-link", text: "Reuse", "aria-label": `Reuse: ${item.prompt}`, onclick: () => reuse(item) }),
        downloadButton(ctx, item),
      ),
    );
  };
  const update = () => {
    const items = model.get("history") || [];
    history.hidden = items.length === 0;
    history.replaceChildren(...items.map(row));
  };
  return { nodes: [history], events: "change:history", update };
}

/** The view, top to bottom. */
const PARTS = [header, accountLine, earlierJobs, form, confirmNotice, progressLine, messages, kernelAnswer, resultStage, galleryCards, historyStrip];

// ---- the view ----------------------------------------------------------------------------

/** A view of the widget. One that a host removes while the widget's cell stays is drawn again
 * beside the static output (`rescued`), and one that a host then draws ends that one.
 * @param {{model: Model, el: HTMLElement, signal?: AbortSignal, rescued?: boolean}} props @returns {() => void} */
function render({ model, el, signal, rescued = false }) {
  const { cache, shared, release } = sharedCache(model);
  if (!rescued) shared.rescue?.();
  // An update sent while the host had forgotten was dropped: ask the kernel for it again.
  const relinked = stillsOf(model.get("still_id")).filter(relinkDisplay);
  if (relinked.length > 0) model.send({ type: "still_again" });
  /** @type {(() => void)[]} */
  const cleanups = [release, hideStill(model.get("still_id"), el)];
  /** @type {HTMLElement | null} */
  let root = null;
  /** @type {Context} */
  const ctx = {
    model,
    cache,
    limits: model.get("limits"),
    id: `mg-${newId()}-${++uid}`,
    // Listen to each of the space-separated events: Backbone takes such a list in one call,
    // but anywidget's model interface (marimo's, for one) takes a single event name.
    on(names, fn) {
      for (const name of names.split(/\s+/)) {
        model.on(name, fn);
        cleanups.push(() => model.off(name, fn));
      }
    },
    cleanup: (fn) => cleanups.push(fn),
    alert: () => {}, // until the alert area exists (messages)
    generate: () => {}, // until the form exists
    root: () => /** @type {HTMLElement} */ (root),
  };
  const parts = PARTS.map((make) => make(ctx));
  root = h("div", { class: "magicgif" }, ...parts.flatMap((part) => part.nodes));
  const view = root;
  const status = () => (view.dataset.status = model.get("status"));
  el.append(view);
  cleanups.push(() => view.remove());
  ctx.on("change:status", status);
  status();
  for (const { events, update } of parts) {
    if (!update) continue;
    if (events) ctx.on(events, update);
    update();
  }

  if (rescued) view.dataset.rescued = "";
  const dispose = () => {
    if (cleanups.length === 0) return;
    for (const fn of cleanups.splice(0)) fn();
    if (!rescued) rescueLater(model, shared);
  };
  signal?.addEventListener("abort", dispose);
  return dispose;
}

// The pure parts, for js/tests (node --test); anywidget uses only the default export.
export { MediaCache, caption, chars, isSubmitKey, label, shownKeys };

/** @type {import("@anywidget/types").AnyWidget<Traits>} */
export default { render: ({ model, el, signal }) => render({ model, el, signal }) };
