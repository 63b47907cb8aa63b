// Sign-in: OAuth 2.0 authorization code grant with PKCE (S256), `state` and `nonce`, against the
// Hosted UI endpoints named in /config.json (Cognito's, or this service's dev ones).
//
// Tokens live in this module's variables only, never in localStorage or sessionStorage, so a
// script injected into another page of the origin, or a reload, cannot find them. The one thing
// kept in sessionStorage is the PKCE verifier with `state` and `nonce`, for the few seconds
// between the redirect to the sign-in page and the callback: the page that comes back is a new
// document, and that is the standard place for it (the verifier alone is useless without the
// code, which only the registered redirect URI receives).

const PENDING = "cutover.pending-sign-in";
// Refresh this long before the access token expires.
const REFRESH_MARGIN_MS = 60_000;

let config = null;
let tokens = null; // { access, id, refresh, expiresAt, claims }
let refreshTimer = null;
let onSignedOut = () => {};

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function s256(text) {
  return b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

// The claims of a JWT, unverified: the ID token came straight from the token endpoint over the
// page's own connection (OpenID Connect Core §3.1.3.7 allows TLS in place of the signature).
function claimsOf(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function endpoint(url) {
  return new URL(url, location.origin);
}

export function redirectUri() {
  return location.origin + "/";
}

// Reads /config.json; `onExpired` is called when the session cannot be kept (refresh refused).
export async function init(onExpired) {
  onSignedOut = onExpired;
  const res = await fetch("/config.json");
  if (!res.ok) throw new Error(`cannot read /config.json (${res.status})`);
  config = await res.json();
  return config;
}

// Whether there is a sign-in service to go to.
export function configured() {
  return Boolean(config?.oauth);
}

export async function signIn() {
  const o = config.oauth;
  const pending = { verifier: randomString(48), state: randomString(), nonce: randomString() };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = endpoint(o.authorize_url);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: o.client_id,
    redirect_uri: redirectUri(),
    scope: o.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: "S256",
  });
  location.assign(url);
}

async function tokenRequest(params) {
  const res = await fetch(endpoint(config.oauth.token_url), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.oauth.client_id, ...params }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`sign-in refused: ${body.error || res.status}`);
  return body;
}

function keep(answer) {
  const refresh = answer.refresh_token || tokens?.refresh;
  const idToken = answer.id_token || tokens?.id;
  tokens = {
    access: answer.access_token,
    id: idToken,
    refresh,
    expiresAt: Date.now() + answer.expires_in * 1000,
    claims: claimsOf(idToken),
  };
  clearTimeout(refreshTimer);
  const wait = Math.max(5_000, answer.expires_in * 1000 - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(() => refresh().catch(() => forget()), wait);
}

async function refresh() {
  if (!tokens?.refresh) throw new Error("no refresh token");
  keep(await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh }));
}

function forget() {
  clearTimeout(refreshTimer);
  tokens = null;
  onSignedOut();
}

// On the way back from the sign-in page: redeems the code. `false` when this load is not a
// callback; throws when it is one that cannot be trusted.
export async function completeSignIn() {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // The code leaves the address bar (and the history) at once.
  history.replaceState(null, "", location.pathname);
  if (query.has("error")) {
    throw new Error(`sign-in failed: ${query.get("error_description") || query.get("error")}`);
  }
  if (!pending || pending.state !== query.get("state")) {
    throw new Error("this sign-in answer was not asked for by this page (state); sign in again");
  }
  const answer = await tokenRequest({
    grant_type: "authorization_code",
    code: query.get("code"),
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  if (claimsOf(answer.id_token).nonce !== pending.nonce) {
    throw new Error("the ID token does not carry this sign-in's nonce; sign in again");
  }
  keep(answer);
  return true;
}

export function signedIn() {
  return tokens !== null;
}

// Who the ID token says signed in.
export function userName() {
  return tokens?.claims["cognito:username"] || tokens?.claims.sub || "";
}

// A current access token, refreshed first when it is about to expire (a timer in a
// background tab may have fired late).
export async function accessToken() {
  if (!tokens) throw new Error("signed out");
  if (Date.now() > tokens.expiresAt - REFRESH_MARGIN_MS / 2) {
    try {
      await refresh();
    } catch (e) {
      forget();
      throw e;
    }
  }
  return tokens.access;
}

// Revokes the session's refresh token (RFC 7009; Cognito's /oauth2/revoke, or the dev
// issuer's), which revokes its access and ID tokens too: the API refuses them within its
// control poll. A failure does not keep anyone signed in: the session still ends here.
async function revoke(refreshToken) {
  if (!refreshToken || !config.oauth.revoke_url) return;
  try {
    const res = await fetch(endpoint(config.oauth.revoke_url), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: refreshToken, client_id: config.oauth.client_id }),
    });
    if (!res.ok) console.info(`sign-out: the refresh token was not revoked (${res.status})`);
  } catch {
    console.info("sign-out: the revocation endpoint did not answer");
  }
}

// Revokes the session, forgets the tokens and ends the Hosted UI session, which returns to
// this page.
export async function signOut() {
  const refreshToken = tokens?.refresh;
  tokens = null;
  clearTimeout(refreshTimer);
  await revoke(refreshToken);
  const url = endpoint(config.oauth.logout_url);
  url.search = new URLSearchParams({ client_id: config.oauth.client_id, logout_uri: redirectUri() });
  location.assign(url);
}
