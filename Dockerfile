# syntax=docker/dockerfile:1
# Parasol images (see README "Scale-out"): the API server (CPU) and the sampler worker (CUDA).
#
#   docker build --target api -t parasol-api .
#   docker build --target worker-gpu --build-arg ONNXRUNTIME_NODE_INSTALL=cuda12 -t parasol-worker .
#
# onnxruntime-node fetches its CUDA provider at install time only when ONNXRUNTIME_NODE_INSTALL
# says so; the environment variable wins over the repository's .npmrc (which skips it).

ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

# ---- build: compile TypeScript and the web bundle, then keep production dependencies only ----
FROM ${NODE_IMAGE} AS build
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}
WORKDIR /app
# Compilers for the native modules (better-sqlite3, hnswlib-node) when no prebuilt binary fits.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY indexer ./indexer
COPY corpus ./corpus
COPY bench ./bench
COPY web ./web
COPY models/mini ./models/mini
RUN npm run build && npm prune --omit=dev

# ---- api: the HTTP server on CPU (search needs no GPU) ----
FROM ${NODE_IMAGE} AS api
ENV NODE_ENV=production PARASOL_DATA=/data PARASOL_HOST=0.0.0.0 PARASOL_PORT=8080 PARASOL_DEVICE=cpu
WORKDIR /app
COPY --from=build /app /app
# uid 1000 in both images: the API server and the workers share the generated-images volume.
RUN mkdir -p /data /generated && chown node:node /data /generated
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=6 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PARASOL_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]

# ---- worker-gpu: one sampler worker per GPU, consuming the Redis queue ----
FROM ${CUDA_IMAGE} AS worker-gpu
ENV NODE_ENV=production PARASOL_DEVICE=cuda PARASOL_QUEUE=redis
# Node from the official image: the same binary the build stage compiled the native modules for.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app /app
# The same uid as the API image's `node` user (ubuntu images name it `ubuntu`).
RUN mkdir -p /generated && chown 1000:1000 /generated
USER 1000:1000
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["worker"]
