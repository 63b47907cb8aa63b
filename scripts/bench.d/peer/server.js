// The Node.js peer: express 5 + aws-jwt-verify, verifying the same dev-issuer tokens against the
// same JWKS and answering the list with 20 items held in memory (no storage at all), so it is the
// cheapest version of the list a Node service could serve. A cluster of PEER_WORKERS processes.
"use strict";
const cluster = require("node:cluster");
const express = require("express");
const { JwtRsaVerifier } = require("aws-jwt-verify");

const port = Number(process.env.PEER_PORT);
const workers = Number(process.env.PEER_WORKERS || 2);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (w, code) => { if (code) process.exit(code); });
} else {
  const verifier = JwtRsaVerifier.create({
    issuer: "urn:cutover:dev-issuer",
    audience: null, // Cognito access tokens carry client_id, not aud: checked below.
    // aws-jwt-verify fetches JWKS over https only; the dev issuer serves it over http on
    // loopback, so the worker fetches it itself and hands it over with cacheJwks below.
    jwksUri: "https://jwks.invalid/.well-known/jwks.json",
    customJwtCheck: ({ payload }) => {
      if (payload.token_use !== "access") throw new Error("not an access token");
      if (payload.client_id !== "cutover-dev") throw new Error("unknown client");
    },
  });
  const items = Array.from({ length: 20 }, (_, i) => ({
    id: `01J${String(i).padStart(23, "0")}`,
    filename: `p${i}.png`,
    content_type: "image/png",
    size: 4104,
    sha256: "0".repeat(64),
    uploaded_at: "2025-01-01T00:00:00Z",
    owner: "",
  }));
  const app = express();
  app.disable("x-powered-by");
  app.get("/healthz", (_req, res) => res.send("ok"));
  app.get("/api/photos", async (req, res) => {
    const auth = req.get("authorization") || "";
    if (!auth.startsWith("Bearer ")) return res.status(401).end();
    let payload;
    try {
      payload = await verifier.verify(auth.slice(7));
    } catch {
      return res.status(401).end();
    }
    res.json({ items: items.map((it) => ({ ...it, owner: payload.sub })), next_cursor: null });
  });
  fetch(process.env.PEER_JWKS_URL)
    .then((r) => r.json())
    .then((jwks) => {
      verifier.cacheJwks(jwks);
      app.listen(port, "127.0.0.1");
    });
}
