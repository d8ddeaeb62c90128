# One generic serving image: the model version is configuration (MODEL_NAME,
# MODEL_VERSION, MODEL_DIR), never baked in. docs/deployment.md.
# It runs the compiled JavaScript (dist/) with plain node: no TypeScript, tsx or dev dependency in the image.
#
# BASE_IMAGE: any Debian-based image with Node 20 at /usr/local/bin/node and a user `node`; without a
#   container registry, scripts/services/image.sh makes one with mmdebstrap.
# APP_FROM: where dist/ and the production node_modules come from.
#   source   compiled in the build from the repository (npm ci: the build needs the npm registry)
#   context  taken from app/ in the build context, prepared on the host by scripts/services/image.sh
ARG BASE_IMAGE=node:20-bookworm-slim
ARG APP_FROM=source

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

FROM scratch AS source
COPY --from=deps /app/node_modules /app/node_modules
COPY --from=build /app/dist /app/dist
# package.json says "type": "module" for dist/; schemas/ is read at run time (src/runtime.ts PACKAGE_ROOT).
COPY package.json /app/
COPY schemas /app/schemas

FROM scratch AS context
COPY app/ /app/

FROM ${APP_FROM} AS app

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    SERVING_HOST=0.0.0.0 \
    SERVING_PORT=8080 \
    MODEL_DIR=/models
WORKDIR /app
# Dependencies first: a change to the sources alone leaves their layer cached.
COPY --from=app /app/node_modules ./node_modules
COPY --from=app /app/package.json ./
COPY --from=app /app/schemas ./schemas
COPY --from=app /app/dist ./dist
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
