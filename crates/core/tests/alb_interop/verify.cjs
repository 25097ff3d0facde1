// Verifies ALB tokens with aws-jwt-verify's AlbJwtVerifier, for the differential test in
// crates/core/tests/alb.rs. Input (a JSON file named by argv[2]):
//   {"albArn": [...], "issuer": "...", "clientId": [...], "pems": {"<kid>": "<PEM>"}, "tokens": [...]}
// Output (stdout): one JSON array, per token {"ok": true} or {"ok": false, "error": "<class>"}.
// Keys come from "pems" through a custom fetcher: nothing goes to the network.
"use strict";
const fs = require("fs");
const { AlbJwtVerifier } = require("aws-jwt-verify");
const { AlbJwksCache } = require("aws-jwt-verify/alb-cache");

async function main() {
  const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const fetcher = {
    async fetch(uri) {
      const kid = decodeURIComponent(uri.split("/").pop());
      const pem = input.pems[kid];
      if (pem === undefined) throw new Error(`no key ${kid}`);
      return new TextEncoder().encode(pem).buffer;
    },
  };
  const verifier = AlbJwtVerifier.create(
    {
      albArn: input.albArn,
      issuer: input.issuer,
      clientId: input.clientId,
      jwksUri: "https://keys.invalid",
    },
    { jwksCache: new AlbJwksCache({ fetcher }) },
  );
  const results = [];
  for (const token of input.tokens) {
    try {
      await verifier.verify(token);
      results.push({ ok: true });
    } catch (error) {
      results.push({ ok: false, error: error.constructor.name + ": " + error.message });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(2);
});
