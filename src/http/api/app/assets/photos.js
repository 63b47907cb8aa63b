// The gallery: cards newest first, more pages as the end of the list comes into view (the API's
// cursor), thumbnails and the viewer from blob: URLs of content fetched with the token.

import { deletePhoto, listPhotos, photoContent } from "./api.js";

const $ = (id) => document.getElementById(id);

export class Gallery {
  constructor(onProblem) {
    this.onProblem = onProblem;
    this.list = $("photos");
    this.urls = new Map(); // photo id -> blob: URL, revoked when its card goes
    this.cursor = null;
    this.done = false;
    this.loading = false;
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.more();
    });
    $("viewer-close").addEventListener("click", () => $("viewer").close());
  }

  // Empties the gallery and loads its first page.
  async start() {
    this.clear();
    this.done = false;
    this.observer.observe($("more"));
    await this.more();
  }

  clear() {
    this.observer.disconnect();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
    this.list.replaceChildren();
    this.cursor = null;
    $("empty").hidden = true;
  }

  async more() {
    if (this.loading || this.done) return;
    this.loading = true;
    try {
      const page = await listPhotos(this.cursor);
      for (const photo of page.items) this.list.append(this.card(photo));
      this.cursor = page.next_cursor;
      this.done = !page.next_cursor;
      this.updateEmpty();
    } catch (e) {
      this.onProblem(e);
      this.done = true;
    } finally {
      this.loading = false;
    }
    // A short page may leave the sentinel in view, which the observer does not report again.
    if (!this.done && this.sentinelVisible()) await this.more();
  }

  sentinelVisible() {
    const r = $("more").getBoundingClientRect();
    return r.top < innerHeight && r.bottom >= 0;
  }

  // A photo just uploaded goes first: the list is newest first.
  prepend(photo) {
    this.list.prepend(this.card(photo));
    this.updateEmpty();
  }

  updateEmpty() {
    $("empty").hidden = this.list.children.length > 0;
  }

  card(photo) {
    const li = document.createElement("li");
    li.className = "card";
    li.dataset.id = photo.id;

    const thumb = document.createElement("button");
    thumb.className = "thumb";
    thumb.type = "button";
    thumb.title = `View ${photo.filename}`;
    const img = document.createElement("img");
    img.alt = photo.filename;
    thumb.append(img);

    const meta = document.createElement("div");
    meta.className = "meta";
    const name = document.createElement("div");
    name.className = "name";
    name.textContent = photo.filename;
    const when = document.createElement("div");
    when.textContent = `${new Date(photo.uploaded_at).toLocaleString()} · ${size(photo.size)}`;
    meta.append(name, when);

    const actions = document.createElement("div");
    actions.className = "actions";
    const download = document.createElement("a");
    download.textContent = "Download";
    download.download = photo.filename;
    download.href = "#";
    const del = document.createElement("button");
    del.type = "button";
    del.className = "danger";
    del.textContent = "Delete";
    actions.append(download, del);
    li.append(thumb, meta, actions);

    this.load(photo, img, download);
    thumb.addEventListener("click", () => this.view(photo));
    del.addEventListener("click", () => this.remove(photo, li, del));
    return li;
  }

  async load(photo, img, download) {
    try {
      const url = URL.createObjectURL(await photoContent(photo.id));
      this.urls.set(photo.id, url);
      img.src = url;
      download.href = url;
    } catch (e) {
      this.onProblem(e);
    }
  }

  view(photo) {
    const url = this.urls.get(photo.id);
    if (!url) return;
    $("viewer-img").src = url;
    $("viewer-img").alt = photo.filename;
    $("viewer-name").textContent = photo.filename;
    $("viewer").showModal();
  }

  async remove(photo, li, button) {
    button.disabled = true;
    try {
      await deletePhoto(photo.id);
      li.remove();
      const url = this.urls.get(photo.id);
      if (url) URL.revokeObjectURL(url);
      this.urls.delete(photo.id);
      this.updateEmpty();
    } catch (e) {
      button.disabled = false;
      this.onProblem(e);
    }
  }
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
