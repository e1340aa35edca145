# syntax=docker/dockerfile:1
# model-release: the GitHub Action image and the CLI.
#
#   docker build -t model-release .                         # CPU (debian slim + OpenBLAS)
#   docker build --build-arg BASE=nvidia/cuda:12.4.1-runtime-ubuntu22.04 -t model-release:cuda .
#
# The binary is static Go (CGO_ENABLED=0) but loads OpenBLAS / CUDA at run
# time with purego, which needs a glibc dynamic loader: hence not scratch.

ARG BASE=debian:bookworm-slim

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/model-release ./cmd/model-release

FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libopenblas0 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/model-release /usr/local/bin/model-release
# Let the NVIDIA container runtime expose the GPUs of a self-hosted runner.
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
ENTRYPOINT ["model-release", "action"]
