# One generic serving image: the model version is configuration (MODEL_NAME,
# MODEL_VERSION, MODEL_DIR), never baked in. docs/deployment.md.
# It runs the compiled JavaScript (dist/) with plain node: no TypeScript, tsx or dev dependency in the image.
#
# BASE_IMAGE: any Debian-based image with Node 20 at /usr/local/bin/node and a user `node`; without a
#   container registry, scripts/services/image.sh makes one with mmdebstrap.
# Targets: the default (last) stage compiles dist/ and installs the production dependencies in the build
#   (npm ci: the build needs the npm registry); `--target prebuilt` takes them from app/ in the build context,
#   prepared on the host by scripts/services/image.sh, and runs no npm at all.
ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY consumers ./consumers
COPY producers ./producers
RUN npm run build && rm dist/.tsbuildinfo

FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# What both targets share; the app is copied on top (files owned by root, read-only to the user node).
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    SERVING_HOST=0.0.0.0 \
    SERVING_PORT=8080 \
    MODEL_DIR=/models
WORKDIR /app
# Model artifacts are mounted (or synced) into /models: data, checked by digest at load.
RUN mkdir -p /models && chown node:node /models
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SERVING_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1: src/serving/main.ts handles SIGTERM itself (closes the server, exits 0; 143 while
# the model is still loading), so `docker stop` / `podman stop` need no init process.
STOPSIGNAL SIGTERM
# SERVING_API_KEY must be provided at run time (0.0.0.0 is beyond loopback; the server refuses to start without it).
CMD ["node", "dist/src/serving/main.js"]

FROM runtime AS prebuilt
# Dependencies first: a change to the sources alone leaves their layer cached.
COPY app/node_modules ./node_modules
COPY app/package.json ./
COPY app/schemas ./schemas
COPY app/dist ./dist

FROM runtime
COPY --from=deps /app/node_modules ./node_modules
# package.json says "type": "module" for dist/; schemas/ is read at run time (src/runtime.ts PACKAGE_ROOT).
COPY package.json ./
COPY schemas ./schemas
COPY --from=build /app/dist ./dist
