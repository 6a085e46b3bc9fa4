// The front end's pure parts, run by `node --test js/tests/` (no framework, no DOM).
import assert from "node:assert/strict";
import { test } from "node:test";

import { MediaCache, caption, chars, isSubmitKey, label, shownKeys } from "../widget.js";

/** A model with just what MediaCache uses: traits, custom messages, and what was sent. */
function fakeModel(traits = {}) {
  const handlers = new Map();
  return {
    sent: [],
    traits: { limits: { media_timeout_ms: 1000 }, ...traits },
    get(name) {
      return this.traits[name];
    },
    on(name, fn) {
      handlers.set(name, [...(handlers.get(name) ?? []), fn]);
    },
    off(name, fn) {
      handlers.set(name, (handlers.get(name) ?? []).filter((f) => f !== fn));
    },
    send(content) {
      this.sent.push(content);
    },
    emit(name, ...args) {
      for (const fn of handlers.get(name) ?? []) fn(...args);
    },
  };
}

const bytes = (text) => new TextEncoder().encode(text);

test("the prompt's length counts code points, as the API does", () => {
  assert.equal(chars("cat"), 3);
  assert.equal(chars("🐈 cat"), 5); // one emoji is two UTF-16 units but one character
});

test("a status shows as its label, an unknown one as itself", () => {
  assert.notEqual(label("queued"), "queued");
  assert.equal(label("some-new-status"), "some-new-status");
});

test("a caption says format, size, file and cost", () => {
  const media = { format: "gif", size: 2.5 * 1024 * 1024, filename: "cat.gif", credits: 50 };
  assert.equal(caption(media), "GIF · 2.5 MB · cat.gif · 50 credits");
  assert.equal(caption({ ...media, size: 2048, credits: 0 }), "GIF · 2 KB · cat.gif");
});

test("Ctrl+Enter or Cmd+Enter generates; Enter alone and composing text do not", () => {
  const key = (over) => ({ key: "Enter", ctrlKey: false, metaKey: false, ...over });
  assert.equal(isSubmitKey(key({ ctrlKey: true })), true);
  assert.equal(isSubmitKey(key({ metaKey: true })), true);
  assert.equal(isSubmitKey(key({})), false);
  assert.equal(isSubmitKey(key({ ctrlKey: true, isComposing: true })), false);
  assert.equal(isSubmitKey(key({ key: "a", ctrlKey: true })), false);
});

test("the shown keys are the result's, the history's and the finished cards'", () => {
  const keys = shownKeys({ key: "m" }, [{ key: "h1" }, { key: "h2" }], [{ key: "" }, { key: "g" }]);
  assert.deepEqual(keys, ["m", "h1", "h2", "g"]);
  assert.deepEqual(shownKeys({}, [], []), []);
});

test("chunks are put together in order into one URL, asked for once per key", async () => {
  const model = fakeModel();
  const cache = new MediaCache(model);
  const first = cache.get("k");
  assert.equal(cache.get("k"), first); // the same promise: no second request
  assert.equal(model.sent.length, 1);
  const { req, encoding } = model.sent[0];
  assert.equal(encoding, "binary");
  const chunk = (seq, text) => [
    { type: "media", req, key: "k", mime: "image/gif", chunks: 2, seq, size: 6 },
    [bytes(text).buffer],
  ];
  model.emit("msg:custom", ...chunk(1, "def")); // out of order
  model.emit("msg:custom", ...chunk(0, "abc"));
  const url = await first;
  const blob = await (await fetch(url)).blob(); // node resolves blob: URLs it made
  assert.equal(await blob.text(), "abcdef");
  assert.equal(blob.type, "image/gif");
  cache.dispose();
});

test("a key the traits no longer show is evicted and its URL revoked", async () => {
  const model = fakeModel();
  const cache = new MediaCache(model);
  const urls = {};
  for (const key of ["old", "kept"]) {
    const promise = cache.get(key);
    const { req } = model.sent.at(-1);
    model.emit("msg:custom", { type: "media", req, key, mime: "image/gif", chunks: 1, seq: 0 }, [
      bytes(key).buffer,
    ]);
    urls[key] = await promise;
  }
  cache.retain(["kept"]);
  assert.deepEqual([...cache.urls.keys()], ["kept"]);
  await new Promise((resolve) => setTimeout(resolve, 0)); // the revoke runs on the promise
  await assert.rejects(fetch(urls.old)); // revoked: the bytes are gone
  assert.equal(await (await (await fetch(urls.kept)).blob()).text(), "kept");
  cache.get("old"); // asked for again, it is requested again
  assert.equal(model.sent.length, 3);
  cache.dispose();
});

test("a kernel error for a key rejects it, and the next get asks again", async () => {
  const model = fakeModel();
  const cache = new MediaCache(model);
  const promise = cache.get("k");
  const { req } = model.sent[0];
  model.emit("msg:custom", { type: "media-error", req, key: "k", message: "file is gone" });
  await assert.rejects(promise, /file is gone/);
  cache.get("k");
  assert.equal(model.sent.length, 2);
  cache.dispose();
});

test("a chunk without its buffer switches this page to base64 text", async () => {
  const model = fakeModel();
  const cache = new MediaCache(model);
  const promise = cache.get("k");
  const first = model.sent[0];
  model.emit("msg:custom", { type: "media", req: first.req, key: "k", mime: "image/gif", chunks: 1, seq: 0 }, []);
  const again = model.sent[1];
  assert.equal(again.encoding, "base64");
  const data = Buffer.from("GIF89a").toString("base64");
  model.emit("msg:custom", {
    type: "media", req: again.req, key: "k", mime: "image/gif", chunks: 1, seq: 0, encoding: "base64", data,
  });
  assert.equal(await (await (await fetch(await promise)).blob()).text(), "GIF89a");
  cache.dispose();
});
