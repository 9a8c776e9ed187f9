# syntax=docker/dockerfile:1
# Build: docker build -t ivrgw .
# Run:   docker run --rm -p 5060:5060/udp -p 5060:5060/tcp -p 10000-10100:10000-10100/udp \
#          -p 127.0.0.1:8080:8080 -e IVRGW_ADMIN_TOKEN="$(openssl rand -hex 16)" \
#          ivrgw -public-ip 203.0.113.10 -rtp-ports 10000-10100 -redis redis://redis:6379/0
# The HTTP API listens on every interface inside the container, so the gateway
# refuses to start without IVRGW_ADMIN_TOKEN (/healthz and /readyz stay open for
# probes; see -admin-public). `docker stop` sends SIGTERM: the gateway drains
# (new calls 503, live calls go on); give it time with --stop-timeout/-t, and
# match -drain-timeout (default 5m).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ivrgw ./cmd/ivrgw

# distroless/static: no shell, no package manager, runs as uid 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/ivrgw /app/ivrgw
COPY --chown=nonroot:nonroot configs/ /app/configs/
USER nonroot:nonroot
# SIP on 5060 needs no privilege inside the container (ports < 1024 are not used).
EXPOSE 5060/udp 5060/tcp 8080/tcp 10000-20000/udp
ENV IVRGW_HTTP=0.0.0.0:8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/ivrgw"]
