# churn as a small static image, for the in-cluster Job (deploy/job):
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t ghcr.io/churn-dev/churn:latest .
#
# The image holds only the churn binary: a run inside a cluster targets
# that cluster (--in-cluster), so the control-plane binaries of the local
# mode are not needed.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo), reproducible paths, version stamped as the Makefile does.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/churn-dev/churn/version.Churn=${VERSION}" \
      -o /out/churn ./cmd/churn

# distroless static: CA certificates and a nonroot user (65532), no shell.
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/churn /usr/local/bin/churn
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/churn"]
