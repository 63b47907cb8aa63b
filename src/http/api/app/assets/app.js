// The page: signed out (a sign-in button) or signed in (banner, uploads, gallery).

import * as auth from "./auth.js";
import { me, upload } from "./api.js";
import { Gallery } from "./photos.js";

const $ = (id) => document.getElementById(id);

function showProblem(e) {
  $("problem").textContent = e.message;
  $("problem").hidden = false;
}

function clearProblem() {
  $("problem").hidden = true;
}

const gallery = new Gallery(showProblem);

function render() {
  const inside = auth.signedIn();
  $("signed-in").hidden = !inside;
  $("signed-out").hidden = inside;
  $("sign-in").hidden = inside;
  $("sign-out").hidden = !inside;
  $("who").hidden = !inside;
  if (!inside) gallery.clear();
}

// The banner: who the service says this is and what is left of the rate limit (`/api/me`),
// or only the ID token's user name where the service does not answer `/api/me`.
async function banner() {
  const who = $("who");
  who.textContent = `Signed in as ${auth.userName()}`;
  try {
    const info = await me();
    if (!info) return;
    let text = `Signed in as ${info.principal} (${info.auth_method})`;
    const rate = info.rate_limit;
    if (rate) {
      text += ` · ${rate.remaining} of ${rate.limit} requests left, resets in ${rate.reset_secs} s`;
    }
    who.textContent = text;
  } catch (e) {
    showProblem(e);
  }
}

async function uploadAll(files) {
  clearProblem();
  const list = $("uploads");
  for (const file of files) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    li.append(name, bar);
    list.append(li);
    try {
      const photo = await upload(file, (sent, total) => {
        bar.max = total;
        bar.value = sent;
      });
      gallery.prepend(photo);
      li.remove();
    } catch (e) {
      li.className = "failed";
      bar.remove();
      const why = document.createElement("span");
      why.textContent = e.message;
      li.append(why);
      showProblem(e);
    }
  }
  banner();
}

async function main() {
  await auth.init(() => {
    showProblem(new Error("Your session ended; sign in again."));
    render();
  });
  $("sign-in").addEventListener("click", () => auth.signIn().catch(showProblem));
  $("sign-out").addEventListener("click", () => auth.signOut().catch(showProblem));
  $("files").addEventListener("change", (e) => {
    const files = [...e.target.files];
    e.target.value = "";
    uploadAll(files);
  });
  if (!auth.configured()) {
    showProblem(new Error("Sign-in is not configured here (CUTOVER_OAUTH_DOMAIN is not set)."));
    document.body.dataset.ready = "true";
    return;
  }
  $("sign-in").disabled = false;
  try {
    await auth.completeSignIn();
  } catch (e) {
    showProblem(e);
  }
  render();
  if (auth.signedIn()) {
    await Promise.all([banner(), gallery.start()]);
  }
  document.body.dataset.ready = "true";
}

main().catch(showProblem);
