// The official Node SDK's WecomCrypto (@wecom/aibot-node-sdk) opening one 1 KiB callback the way a
// webhook does: JSON envelope → signature check → decrypt (Base64, AES-256-CBC, unframe) → JSON
// parse. Prints `ops_per_sec <n>`. Run by `cargo bench -p plugin-wecom --bench crypto` when
// WECOM_NODE_SDK names a folder holding node_modules/@wecom/aibot-node-sdk, e.g. after
// `npm install --prefix /tmp/nodebench @wecom/aibot-node-sdk@1.0.7`.
const path = require("path");
const sdk = require(path.join(process.env.WECOM_NODE_SDK || ".", "node_modules/@wecom/aibot-node-sdk"));

const TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const crypto = new sdk.WecomCrypto(TOKEN, KEY, "");

const callback = {
  msgid: "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", aibotid: "AIBOTID", chattype: "single",
  from: { userid: "USERID" },
  response_url: "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC",
  msgtype: "text", text: { content: "" },
};
callback.text.content = "x".repeat(1024 - JSON.stringify(callback).length);
const plain = JSON.stringify(callback);
if (plain.length !== 1024) throw new Error("not 1 KiB");
const { encrypt, signature } = crypto.encrypt(plain, "1700000000", "1372623149");
const body = JSON.stringify({ encrypt });

function open() {
  const env = JSON.parse(body);
  if (!crypto.verifySignature(signature, "1700000000", "1372623149", env.encrypt)) throw new Error("signature");
  return JSON.parse(crypto.decrypt(env.encrypt));
}

for (let i = 0; i < 20000; i++) open();
// Counted per CPU-second of this process (user + system), as `openssl speed` counts its own: on a
// shared machine wall time would charge it for other processes' work.
const seconds = Number(process.env.BENCH_SECONDS || 3);
const started = process.hrtime.bigint();
const cpu = process.cpuUsage();
let n = 0;
while (Number(process.hrtime.bigint() - started) / 1e9 < seconds) {
  for (let i = 0; i < 256; i++) open();
  n += 256;
}
const used = process.cpuUsage(cpu);
console.log(`ops_per_sec ${Math.round(n / ((used.user + used.system) / 1e6))}`);
