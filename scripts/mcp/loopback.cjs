// Preloaded with `node --require` by agentctl's tests: every server the
// process starts listens on 127.0.0.1 only (server-everything's
// streamableHttp mode would otherwise listen on every interface).
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const port = args[0];
  if (typeof port === "number" || (typeof port === "string" && /^\d+$/.test(port))) {
    if (typeof args[1] !== "string") args.splice(1, 0, "127.0.0.1");
  } else if (port && typeof port === "object" && port.port !== undefined && !port.host) {
    args[0] = { ...port, host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
