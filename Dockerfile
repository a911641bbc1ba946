# syntax=docker/dockerfile:1
# Ferry's production image: compiled JavaScript, production dependencies with ssh2's native crypto
# binding, run as the non-root `node` user. Build: docker build -t ferry .

# Compiles TypeScript. No install scripts: tsc needs no native module.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies only. --ignore-scripts skips `prepare` (it would run tsc, a devDependency);
# the approved native modules (package.json allowScripts) are then built with the C++ toolchain.
FROM node:20-bookworm-slim AS prod-deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# Build against the headers shipped in the image instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild ssh2 cpu-features msgpackr-extract \
  && node -e "import('ssh2/lib/protocol/crypto.js').then((m) => { if (!(m.default ?? m).bindingAvailable) { console.error('ssh2 native crypto binding missing'); process.exit(1); } })"

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    FERRY_CONFIG=/app/config
WORKDIR /app
# Everything is owned by root and read-only for `node`: the process cannot change its own code or config.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin/ferry.js ./bin/ferry.js
COPY config ./config
USER node
EXPOSE 3000
# Only the web role serves HTTP; run scheduler/worker containers with the health check disabled.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FERRY_HTTP_PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/ferry.js"]
CMD ["start"]
