// A node socket.io 4.x server for the Socket.IO driver's tests (127.0.0.1 only), the same
// contract as sio_server.py: namespaces "/" and "/chat" with echo (ack), join (ack) and
// publish (emits "message" to the room, ack); "/private" wants auth {token: $SIO_TEST_TOKEN}.
// Prints "PORT <n>" once listening; exits when stdin closes or after 300 s.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const pingInterval = Number(process.env.SIO_PING_INTERVAL_MS || 25000);
const token = process.env.SIO_TEST_TOKEN || require("crypto").randomBytes(16).toString("hex");
const httpServer = http.createServer();
const io = new Server(httpServer, { pingInterval, pingTimeout: Math.max(1000, pingInterval),
                                    transports: ["websocket"], serveClient: false });

function handlers(nsp) {
  nsp.on("connection", (socket) => {
    socket.on("echo", (data, ack) => { if (typeof ack === "function") ack(data); });
    socket.on("join", (room, ack) => { socket.join(room); if (typeof ack === "function") ack(room); });
    socket.on("publish", (room, payload, ack) => {
      nsp.to(room).emit("message", payload);
      if (typeof ack === "function") ack(true);
    });
  });
}

handlers(io.of("/"));
handlers(io.of("/chat"));
const priv = io.of("/private");
priv.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token !== token) return next(new Error("invalid token"));
  next();
});
handlers(priv);

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${httpServer.address().port}\n`);
});
const bye = () => { io.close(); httpServer.close(); process.exit(0); };
process.stdin.on("end", bye);
process.stdin.on("close", bye);
process.stdin.resume();
setTimeout(bye, 300000).unref();
