# hibiki on Debian bookworm with Node 20.
# Build: docker build -t hibiki .
# Run:   docker run --network host -v /etc/hibiki:/etc/hibiki -v hibiki-data:/var/lib/hibiki hibiki
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its native addon when no prebuilt binary can be fetched; the RTP batching addon
# (native/udp-batch) is always compiled, by the package's install script during npm ci.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY native ./native
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
# The build copies the web console's static files (src/api/web) next to the compiled API.
COPY scripts/copy-web.mjs ./scripts/copy-web.mjs
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# rtpengine for the browser phone's WebRTC legs (media.rtpengine.launch: true starts it, userspace).
RUN apt-get update \
 && apt-get install -y --no-install-recommends rtpengine-daemon \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/media/builtin finds the addon at ../../../native/udp-batch/build/Release.
COPY --from=build /app/native/udp-batch/build/Release/udp_batch.node ./native/udp-batch/build/Release/udp_batch.node
COPY package.json ./
COPY prompts ./prompts
COPY moh ./moh
COPY config/hibiki.yaml /etc/hibiki/hibiki.yaml
RUN ln -s /app/dist/cli.js /usr/local/bin/hibiki && chmod +x /app/dist/cli.js \
 && mkdir -p /var/lib/hibiki && chown node:node /var/lib/hibiki
USER node
# SIP over UDP/TCP, TLS, WebSocket (8088) and secure WebSocket (8089 in the README's example); the HTTP API,
# web console and browser phone (http.port; the shipped config binds it to 127.0.0.1 — set http.host, with
# cert and key, to reach it from outside the host). RTP: media.rtpPorts and media.rtpengine.ports (UDP).
EXPOSE 5060/udp 5060/tcp 5061/tcp 8088/tcp 8089/tcp 8080/tcp
# data.dir ./data resolves against the working directory: /var/lib/hibiki/data.
WORKDIR /var/lib/hibiki
CMD ["hibiki", "--config", "/etc/hibiki/hibiki.yaml"]
